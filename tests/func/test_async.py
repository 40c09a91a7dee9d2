"""Async tasks (``@task async def``) in an async entrypoint: ``await asyncio.gather(*futures)``,
``await future``, under ``astream`` and ``ainvoke``; a sync task called from an async entrypoint."""

import asyncio

import pytest

from ..differential.graphs import load
from ..persistence.graphs import ALL_MODES, cfg
from .harness import Calls, Gate, Rt, compare_func, fapi

MODES = [
    (None, False, "v1"),
    ("updates", False, "v1"),
    ("values", False, "v1"),
    ("custom", False, "v1"),
    ("tasks", False, "v1"),
    ("debug", False, "v1"),
    ("checkpoints", False, "v1"),
    (ALL_MODES, False, "v1"),
    (ALL_MODES, True, "v1"),
    (ALL_MODES, True, "v2"),
]
MODE_IDS = [
    "default",
    "updates",
    "values",
    "custom",
    "tasks",
    "debug",
    "checkpoints",
    "all",
    "all-subgraphs",
    "all-v2",
]


def async_fan_out(f, calls: Calls, saver):
    gates: dict[int, Gate] = {}

    @f.task
    async def fetch(i: int, n: int) -> int:
        calls("fetch", i)
        await gates.setdefault(n, Gate(n)).await_()
        f.get_stream_writer()({"fetched": i})
        return i * 10

    @f.task
    async def total(xs: list) -> int:
        calls("total", tuple(xs))
        await asyncio.sleep(0)
        return sum(xs)

    @f.entrypoint(checkpointer=saver)
    async def main(n: int) -> dict:
        f.get_stream_writer()({"start": n})
        items = await asyncio.gather(*[fetch(i, n=n) for i in range(n)])
        gates.pop(n, None)  # a fresh gate for the next turn with the same n
        return {"items": list(items), "total": await total(list(items))}

    return main


@pytest.mark.parametrize(("mode", "subgraphs", "version"), MODES, ids=MODE_IDS)
def test_async_parallel_tasks_astream(mode, subgraphs, version):
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        main = async_fan_out(f, calls, saver)
        kw = {"stream_mode": mode, "subgraphs": subgraphs, "version": version, "parallel": True}
        rt.astream("three in parallel", main, 3, cfg("t1"), **kw)
        rt.astream("second turn: two", main, 2, cfg("t1"), **kw)
        rt.record("calls", calls.sorted())
        rt.astate("aget_state", main, cfg("t1"))
        rt.ahistory("aget_state_history", main, cfg("t1"))
        rt.saved("saver.list", saver, "t1")
        rt.calls("saver calls", saver)

    compare_func(scenario)


def test_async_ainvoke():
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        main = async_fan_out(f, calls, saver)
        rt.ainvoke("ainvoke", main, 3, cfg("t1"))
        rt.ainvoke("ainvoke v2", main, 1, cfg("t1"), version="v2")
        rt.ainvoke("ainvoke without a checkpointer", async_fan_out(f, calls, None), 2, None)
        rt.record("calls", calls.sorted())
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)


def test_await_one_future_at_a_time_and_sync_tasks():
    """``await fut`` in sequence, a sync task awaited from the async entrypoint, a task that
    awaits another one."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()

        @f.task
        async def ainc(x: int) -> int:
            calls("ainc", x)
            await asyncio.sleep(0)
            return x + 1

        @f.task
        def sync_dbl(x: int) -> int:
            calls("sync_dbl", x)
            return x * 2

        @f.task
        async def both(x: int) -> int:
            calls("both", x)
            return await ainc(x) + 100

        @f.entrypoint(checkpointer=saver)
        async def main(x: int) -> list:
            a = await ainc(x)
            b = await sync_dbl(a)
            c = await both(b)
            return [a, b, c]

        rt.astream("astream", main, 1, cfg("t1"), stream_mode=ALL_MODES)
        rt.astream(
            "astream subgraphs v2", main, 2, cfg("t1"), stream_mode=ALL_MODES, subgraphs=True, version="v2"
        )
        rt.ainvoke("ainvoke", main, 3, cfg("t1"))
        rt.record("calls", calls.calls)
        rt.astate("aget_state", main, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)


@pytest.mark.parametrize("prefix", ["langgraph", "lgtrace"])
def test_sync_stream_of_an_async_entrypoint(prefix):
    """``stream`` / ``invoke`` (sync) of an async entrypoint: a TypeError naming it, on both
    (the messages differ: lgtrace's says what to do)."""
    f = fapi(load(prefix))

    @f.task
    async def one(x: int) -> int:
        return x

    @f.entrypoint()
    async def main(x: int) -> int:
        return await one(x)

    with pytest.raises(TypeError, match="main"):
        list(main.stream(1))
    with pytest.raises(TypeError, match="main"):
        main.invoke(1)

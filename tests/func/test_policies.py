"""Failing tasks, ``RetryPolicy`` and ``CachePolicy`` on tasks (an ``InMemoryCache`` on the
entrypoint: LangGraph's class on both runtimes)."""

import pytest
from langgraph.cache.memory import InMemoryCache

from ..persistence.graphs import ALL_MODES, cfg
from .harness import Calls, Gate, Rt, compare_func, fapi


@pytest.mark.parametrize(
    ("mode", "version"),
    [(None, "v1"), ("updates", "v1"), ("tasks", "v1"), ("debug", "v1"), (ALL_MODES, "v1"), (ALL_MODES, "v2")],
    ids=["default", "updates", "tasks", "debug", "all", "all-v2"],
)
def test_a_failing_task(mode, version):
    """The error surfaces from the stream after the events before it; the thread keeps the
    finished task's writes, and running it again with ``None`` once fixed does not run the
    finished task again."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        broken = {"yes": True}

        @f.task
        def ok(x: int) -> int:
            calls("ok", x)
            f.get_stream_writer()({"ok": x})
            return x + 1

        @f.task
        def bad(x: int) -> int:
            calls("bad", x)
            if broken["yes"]:
                raise ValueError(f"bad input {x}")
            return -x

        @f.entrypoint(checkpointer=saver)
        def main(x: int) -> list:
            a = ok(x).result()
            return [a, bad(a).result()]

        kw = {"stream_mode": mode, "version": version}
        rt.stream("fails", main, 1, cfg("t1"), **kw)
        rt.state("get_state after the failure", main, cfg("t1"))
        broken["yes"] = False
        rt.stream("run again with None", main, None, cfg("t1"), **kw)
        rt.state("get_state at the end", main, cfg("t1"))
        rt.record("calls", calls.calls)
        rt.history("get_state_history", main, cfg("t1"))
        rt.saved("saver.list", saver, "t1")
        rt.calls("saver calls", saver)

    compare_func(scenario)


def test_a_failing_task_caught_by_the_entrypoint():
    """The entrypoint catches the task's exception from ``.result()`` and carries on."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        saver = rt.saver()

        @f.task
        def bad(x: int) -> int:
            raise KeyError(x)

        @f.entrypoint(checkpointer=saver)
        def main(x: int) -> str:
            try:
                return str(bad(x).result())
            except KeyError as e:
                return f"caught {e!r}"

        rt.stream("run", main, 3, cfg("t1"), stream_mode=ALL_MODES)
        rt.invoke("invoke", main, 4, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)


def test_a_failing_parallel_task_and_its_finished_sibling():
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        gate = Gate(2)
        broken = {"yes": True}

        @f.task
        def work(x: int) -> int:
            calls("work", x)
            gate.wait()
            if x == 2 and broken["yes"]:
                raise RuntimeError("two is broken")
            return x * 10

        @f.entrypoint(checkpointer=saver)
        def main(xs: list) -> list:
            futures = [work(x) for x in xs]
            return [fut.result() for fut in futures]

        rt.durability = "sync"
        rt.stream("fails", main, [1, 2], cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        broken["yes"] = False
        gate = Gate(1)
        rt.stream("run again with None", main, None, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        rt.record("calls", calls.sorted())
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)


@pytest.mark.parametrize("checkpointer", [False, True])
def test_retry_policy(checkpointer):
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver() if checkpointer else None
        fails = {"left": 1}

        policy = f.RetryPolicy(max_attempts=3, initial_interval=0.001, jitter=False, retry_on=ValueError)

        @f.task(retry_policy=policy)
        def flaky(x: int) -> int:
            calls("flaky", x)
            if fails["left"]:
                fails["left"] -= 1
                raise ValueError("try again")
            return x * 2

        @f.task(retry_policy=policy)
        def hopeless(x: int) -> int:
            calls("hopeless", x)
            raise ValueError("never")

        @f.task(retry_policy=policy)
        def wrong(x: int) -> int:
            calls("wrong", x)
            raise TypeError("not retried")

        @f.entrypoint(checkpointer=saver)
        def main(x: int) -> int:
            return flaky(x).result()

        @f.entrypoint(checkpointer=saver)
        def give_up(x: int) -> int:
            return hopeless(x).result()

        @f.entrypoint(checkpointer=saver)
        def no_retry(x: int) -> int:
            return wrong(x).result()

        c = cfg("t1") if checkpointer else None
        rt.stream("fails once then succeeds", main, 4, c, stream_mode=ALL_MODES)
        rt.stream("fails three times", give_up, 5, cfg("t2") if checkpointer else None, stream_mode=ALL_MODES)
        rt.stream("not retried", no_retry, 6, cfg("t3") if checkpointer else None, stream_mode=ALL_MODES)
        rt.record("calls", calls.calls)
        if saver is not None:
            rt.saved("saver.list", saver, "t1")
            rt.saved("saver.list t2", saver, "t2")

    compare_func(scenario)


@pytest.mark.parametrize("checkpointer", [False, True])
@pytest.mark.parametrize(
    "mode",
    [None, "updates", "tasks", "debug", ALL_MODES],
    ids=["default", "updates", "tasks", "debug", "all"],
)
def test_cache_policy(checkpointer, mode):
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver() if checkpointer else None

        @f.task(cache_policy=f.CachePolicy())
        def slow(x: int) -> int:
            calls("slow", x)
            return x * 3

        @f.task(cache_policy=f.CachePolicy(key_func=lambda x, **_: str(x % 2)))
        def parity(x: int) -> str:
            calls("parity", x)
            return "odd" if x % 2 else "even"

        @f.task
        def plain(x: int) -> int:
            calls("plain", x)
            return x

        @f.entrypoint(checkpointer=saver, cache=InMemoryCache())
        def main(x: int) -> list:
            return [slow(x).result(), parity(x).result(), plain(x).result()]

        for i, x in enumerate((1, 1, 3, 2)):
            c = cfg(f"t{i}") if checkpointer else None
            rt.stream(f"run {i} with {x}", main, x, c, stream_mode=mode)
        rt.record("calls", calls.calls)
        if saver is not None:
            rt.saved("saver.list t1 (cache hit)", saver, "t1")

    compare_func(scenario)

"""Tasks in sequence and in parallel (a list of futures, ``.result()``) under every stream mode,
with and without ``subgraphs=True``, with and without a checkpointer."""

import pytest

from ..persistence.graphs import ALL_MODES, cfg
from .harness import Calls, Gate, Rt, compare_func, fapi

# (stream_mode, subgraphs, version)
MODES = [
    (None, False, "v1"),
    ("updates", False, "v1"),
    ("values", False, "v1"),
    ("custom", False, "v1"),
    ("tasks", False, "v1"),
    ("debug", False, "v1"),
    ("checkpoints", False, "v1"),
    (ALL_MODES, False, "v1"),
    ("updates", True, "v1"),
    ("debug", True, "v1"),
    (ALL_MODES, True, "v1"),
    (ALL_MODES, False, "v2"),
    (("values", "updates"), True, "v2"),
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
    "updates-subgraphs",
    "debug-subgraphs",
    "all-subgraphs",
    "all-v2",
    "values+updates-subgraphs-v2",
]


def fan_out(f, calls: Calls, saver):
    """``main(n)``: a custom event, ``n`` parallel ``fetch`` tasks (futures in a list, then
    ``.result()`` each), then one ``total`` task over their results."""
    gates = {n: Gate(n) for n in range(1, 5)}

    @f.task
    def fetch(i: int, n: int) -> int:
        calls("fetch", i)
        gates[n].wait()
        f.get_stream_writer()({"fetched": i})
        return i * 10

    @f.task()
    def total(xs: list) -> int:
        calls("total", tuple(xs))
        f.get_stream_writer()({"summing": len(xs)})
        return sum(xs)

    @f.entrypoint(checkpointer=saver)
    def main(n: int) -> dict:
        f.get_stream_writer()({"start": n})
        futures = [fetch(i, n=n) for i in range(n)]
        items = [fut.result() for fut in futures]
        return {"items": items, "total": total(items).result()}

    return main


def sequence(f, calls: Calls, saver):
    """``main(x)``: three tasks one after the other, each on the previous result."""

    @f.task
    def inc(x: int) -> int:
        calls("inc", x)
        f.get_stream_writer()(f"inc {x}")
        return x + 1

    @f.task
    def dbl(x: int) -> int:
        calls("dbl", x)
        return x * 2

    @f.entrypoint(checkpointer=saver)
    def main(x: int) -> int:
        return dbl(inc(inc(x).result()).result()).result()

    return main


@pytest.mark.parametrize(("mode", "subgraphs", "version"), MODES, ids=MODE_IDS)
def test_parallel_tasks(mode, subgraphs, version):
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        main = fan_out(f, calls, saver)
        kw = {"stream_mode": mode, "subgraphs": subgraphs, "version": version, "parallel": True}
        rt.stream("three in parallel", main, 3, cfg("t1"), **kw)
        rt.stream("second turn: two", main, 2, cfg("t1"), **kw)
        rt.record("calls", calls.sorted())
        rt.state("get_state", main, cfg("t1"))
        rt.history("get_state_history", main, cfg("t1"))
        rt.saved("saver.list", saver, "t1")
        rt.calls("saver calls", saver)

    compare_func(scenario)


@pytest.mark.parametrize(("mode", "subgraphs", "version"), MODES, ids=MODE_IDS)
def test_tasks_in_sequence(mode, subgraphs, version):
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        main = sequence(f, calls, saver)
        kw = {"stream_mode": mode, "subgraphs": subgraphs, "version": version}
        rt.stream("run", main, 1, cfg("t1"), **kw)
        rt.stream("second turn", main, 5, cfg("t1"), **kw)
        rt.record("calls", calls.calls)
        rt.state("get_state", main, cfg("t1"))
        rt.history("get_state_history", main, cfg("t1"))
        rt.saved("saver.list", saver, "t1")
        rt.calls("saver calls", saver)

    compare_func(scenario)


@pytest.mark.parametrize("subgraphs", [False, True])
def test_without_a_checkpointer(subgraphs):
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        main = fan_out(f, calls, None)
        rt.stream("all modes", main, 2, None, stream_mode=ALL_MODES, subgraphs=subgraphs, parallel=True)
        rt.stream("default", main, 1, None, subgraphs=subgraphs)
        rt.invoke("invoke", main, 3, None)
        seq = sequence(f, calls, None)
        rt.stream("sequence", seq, 1, None, stream_mode=ALL_MODES, subgraphs=subgraphs)
        rt.invoke("sequence invoke", seq, 2, None)
        rt.record("calls", calls.sorted())

    compare_func(scenario)


def test_a_task_called_without_waiting_for_it():
    """A future nobody awaits: the task still runs (LangGraph waits for it before the step ends);
    it finishes before or after the entrypoint, so the stream is compared with parallel=True."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()

        @f.task
        def side(x: int) -> str:
            calls("side", x)
            return f"side {x}"

        @f.entrypoint(checkpointer=saver)
        def main(x: int) -> int:
            side(x)
            return x

        rt.stream("run", main, 7, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        rt.record("calls", calls.calls)
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)

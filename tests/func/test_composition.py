"""A task calling another task, a task called from inside a ``StateGraph`` node, an entrypoint
run from inside a task (a nested graph, seen with ``subgraphs=True``), an entrypoint as a
``StateGraph`` node."""

from typing import TypedDict

import pytest

from ..persistence.graphs import ALL_MODES, cfg
from .harness import Calls, Rt, compare_func, fapi

MODES = [(ALL_MODES, False, "v1"), (ALL_MODES, True, "v1"), (ALL_MODES, True, "v2"), ("updates", True, "v1")]
MODE_IDS = ["all", "all-subgraphs", "all-subgraphs-v2", "updates-subgraphs"]


class S(TypedDict, total=False):
    x: int
    log: list


@pytest.mark.parametrize(("mode", "subgraphs", "version"), MODES, ids=MODE_IDS)
def test_a_task_calling_a_task(mode, subgraphs, version):
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()

        @f.task
        def inner(x: int) -> int:
            calls("inner", x)
            f.get_stream_writer()({"inner": x})
            return x + 1

        @f.task
        def outer(x: int) -> int:
            calls("outer", x)
            return inner(inner(x).result()).result() * 10

        @f.entrypoint(checkpointer=saver)
        def main(x: int) -> int:
            return outer(x).result()

        kw = {"stream_mode": mode, "subgraphs": subgraphs, "version": version}
        rt.stream("run", main, 1, cfg("t1"), **kw)
        rt.record("calls", calls.calls)
        rt.state("get_state", main, cfg("t1"))
        rt.saved("saver.list", saver, "t1")
        rt.calls("saver calls", saver)

    compare_func(scenario)


@pytest.mark.parametrize(("mode", "subgraphs", "version"), MODES, ids=MODE_IDS)
def test_a_task_called_from_a_state_graph_node(mode, subgraphs, version):
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()

        @f.task
        def square(x: int) -> int:
            calls("square", x)
            f.get_stream_writer()({"square": x})
            return x * x

        def node(state: S) -> dict:
            calls("node", state["x"])
            return {"x": square(state["x"]).result(), "log": ["node"]}

        def after(state: S) -> dict:
            return {"log": [*state["log"], f"after {state['x']}"]}

        g = (
            rt.m.StateGraph(S)
            .add_node("node", node)
            .add_node("after", after)
            .add_edge(rt.m.START, "node")
            .add_edge("node", "after")
            .compile(checkpointer=saver)
        )
        kw = {"stream_mode": mode, "subgraphs": subgraphs, "version": version}
        rt.stream("run", g, {"x": 3}, cfg("t1"), **kw)
        rt.stream("second turn", g, {"x": 4}, cfg("t1"), **kw)
        rt.record("calls", calls.calls)
        rt.state("get_state", g, cfg("t1"))
        rt.history("get_state_history", g, cfg("t1"))
        rt.saved("saver.list", saver, "t1")
        rt.calls("saver calls", saver)

    compare_func(scenario)


@pytest.mark.parametrize(("mode", "subgraphs", "version"), MODES, ids=MODE_IDS)
def test_an_entrypoint_run_inside_a_task(mode, subgraphs, version):
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()

        @f.task
        def inner(x: int) -> int:
            calls("inner", x)
            return x + 1

        @f.entrypoint()
        def child(x: int) -> int:
            calls("child", x)
            return inner(x).result()

        @f.task
        def runs_child(x: int) -> int:
            calls("runs_child", x)
            return child.invoke(x) * 2

        @f.entrypoint(checkpointer=saver)
        def parent(x: int) -> int:
            return runs_child(x).result()

        kw = {"stream_mode": mode, "subgraphs": subgraphs, "version": version}
        rt.stream("run", parent, 1, cfg("t1"), **kw)
        rt.record("calls", calls.calls)
        rt.state("get_state", parent, cfg("t1"))
        rt.state("get_state subgraphs", parent, cfg("t1"), subgraphs=True)
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)


@pytest.mark.parametrize(("mode", "subgraphs", "version"), MODES, ids=MODE_IDS)
def test_an_entrypoint_as_a_state_graph_node(mode, subgraphs, version):
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()

        @f.task
        def bump(x: int) -> int:
            calls("bump", x)
            return x + 100

        @f.entrypoint()
        def sub(state: dict) -> dict:
            calls("sub", state["x"])
            return {"x": bump(state["x"]).result()}

        g = (
            rt.m.StateGraph(S)
            .add_node("sub", sub)
            .add_node("last", lambda s: {"log": [s["x"]]})
            .add_edge(rt.m.START, "sub")
            .add_edge("sub", "last")
            .compile(checkpointer=saver)
        )
        kw = {"stream_mode": mode, "subgraphs": subgraphs, "version": version}
        rt.stream("run", g, {"x": 1}, cfg("t1"), **kw)
        rt.record("calls", calls.calls)
        rt.state("get_state", g, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)

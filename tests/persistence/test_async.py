"""The async twins: astream / ainvoke / aget_state / aget_state_history / aupdate_state with a
checkpointer (the saver's ``aput``/``aput_writes``/``aget_tuple``/``alist``)."""

from __future__ import annotations

import pytest

from .graphs import ALL_MODES, Switch, cfg, chain, failing_pair, failing_send, failing_subgraph
from .harness import (
    CANDIDATE_PREFIX,
    Rt,
    build_case,
    compare,
    compare_cross,
    compare_traces,
    has_join,
    impl,
    is_parallel,
    run_scenario,
    thread,
)

CP = ("checkpoints", "debug")

# catalogue graphs: (name, stream_mode, subgraphs)
ASTREAM = [
    ("seed_joke", ALL_MODES, False),
    ("seed_joke", "checkpoints", False),
    ("fanout_fanin", ALL_MODES, False),
    ("send_map_reduce", ALL_MODES, False),
    ("command_goto", CP, False),
    ("messages_parallel_appends", ALL_MODES, False),
    ("seed_subgraph", ALL_MODES, True),
    ("subgraphs_parallel", ("checkpoints", "updates"), True),
    ("async_nodes", ALL_MODES, False),
    ("async_parallel_and_subgraph", ALL_MODES, True),
    ("async_error", ALL_MODES, False),
]


@pytest.mark.parametrize(
    ("name", "mode", "subgraphs"),
    [pytest.param(n, mo, s, id=f"{n}-{mo if isinstance(mo, str) else len(mo)}") for n, mo, s in ASTREAM],
)
def test_astream_with_checkpointer(name: str, mode, subgraphs: bool):
    parallel = is_parallel(name)

    def scenario(rt: Rt) -> None:
        if has_join(name):
            rt.durability = "sync"  # harness.JOIN_RACE
        saver = rt.saver()
        graph, inp, base = build_case(rt.m, name, saver)
        conf = thread("t1", base)
        rt.astream("astream", graph, inp, conf, stream_mode=mode, subgraphs=subgraphs, parallel=parallel)
        rt.astate("aget_state", graph, thread("t1"))
        rt.ahistory("aget_state_history", graph, thread("t1"))
        rt.saved("saver.list", saver, "t1")
        rt.calls("saver calls", saver)

    compare(scenario, f"{name} astream")


def test_ainvoke_turns_update_and_fork():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        rt.ainvoke("turn 1", g, {"x": 1}, cfg("t1"))
        rt.ainvoke("turn 2", g, {"x": 2}, cfg("t1"))
        new = rt.aupdate("aupdate_state as a", g, cfg("t1"), {"x": 50}, as_node="a")
        rt.astate("aget_state after update", g, new)
        rt.astream("continue", g, None, cfg("t1"), stream_mode=ALL_MODES)
        history = rt.ahistory("aget_state_history", g, cfg("t1"))
        rt.ahistory("filter/limit", g, cfg("t1"), filter={"source": "loop"}, limit=2)
        rt.ahistory("before", g, cfg("t1"), before=history[3].config)
        rt.astream("replay from step 0", g, None, history[-2].config, stream_mode=CP)
        rt.saved("saver.list", saver, "t1")
        rt.calls("saver calls", saver)

    compare(scenario)


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_astream_failure_and_resume(durability):
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        sw = Switch()
        g = failing_pair(rt.m, saver, sw)
        rt.astream(
            "run", g, {"log": []}, cfg("t1"), stream_mode=ALL_MODES, parallel=True, durability=durability
        )
        rt.astate("aget_state after the failure", g, cfg("t1"))
        rt.saved("saver.list after the failure", saver, "t1")
        sw.fixed = True
        rt.astream("resume", g, None, cfg("t1"), stream_mode=ALL_MODES, parallel=True, durability=durability)
        rt.record("node calls", sw.sorted_calls())
        rt.astate("aget_state", g, cfg("t1"))
        rt.saved("saver.list", saver, "t1")
        rt.calls("saver calls", saver)

    compare(scenario)


def test_astream_failed_send_and_subgraph_resume():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        sw_send, sw_sub = Switch(), Switch()
        gs = failing_send(rt.m, saver, sw_send)
        gb = failing_subgraph(rt.m, saver, sw_sub)
        rt.astream("send: run", gs, {"items": [1, 2, 3]}, cfg("s"), stream_mode=CP, parallel=True)
        rt.astream("sub: run", gb, {"log": []}, cfg("b"), stream_mode=CP, subgraphs=True)
        sw_send.fixed = sw_sub.fixed = True
        rt.astream("send: resume", gs, None, cfg("s"), stream_mode=ALL_MODES, parallel=True)
        rt.astream("sub: resume", gb, None, cfg("b"), stream_mode=ALL_MODES, subgraphs=True)
        rt.record("node calls", [sw_send.sorted_calls(), sw_sub.calls])
        rt.saved("saver.list s", saver, "s")
        rt.saved("saver.list b", saver, "b")

    compare(scenario)


def test_async_failure_resumed_on_the_other_runtime():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        sw1, sw2 = Switch(), Switch(fixed=True)
        g1 = failing_pair(rt.turns[0], saver, sw1)
        g2 = failing_pair(rt.turns[1], saver, sw2)
        rt.astream("turn 1", g1, {"log": []}, cfg("t1"), stream_mode=CP, parallel=True)
        rt.astream("turn 2: resume", g2, None, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        rt.record("node calls", [sw1.sorted_calls(), sw2.sorted_calls()])
        rt.astate("aget_state via turn-1 graph", g1, cfg("t1"))
        rt.astate("aget_state via turn-2 graph", g2, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare_cross(scenario)


JOIN_GRAPHS = [
    "fanout_fanin",
    "fanout_uneven_join",
    "reducers_custom",
    "send_mixed_with_pull",
    "subgraphs_parallel",
]


@pytest.mark.skipif(
    CANDIDATE_PREFIX == "langgraph",
    reason="LangGraph's own async durability races on join channels (harness.JOIN_RACE)",
)
@pytest.mark.parametrize("method", ["stream", "astream"])
@pytest.mark.parametrize("name", JOIN_GRAPHS)
def test_candidate_async_durability_saves_what_sync_saves(name: str, method: str):
    """Not differential: the candidate against itself. Scenarios over join graphs use
    durability "sync" (harness.JOIN_RACE); this checks the candidate's default ("async")
    path over the same graphs stores exactly what its sync path stores."""
    parallel = is_parallel(name)

    def run(durability: str | None):
        def scenario(rt: Rt) -> None:
            rt.durability = durability
            saver = rt.saver()
            graph, inp, base = build_case(rt.m, name, saver)
            # no live mode (custom, messages): a lone task runs inline, right after the put
            # of the checkpoint before it, where a background put is most likely behind
            modes = ("checkpoints", "values")
            rt.stream(
                "run", graph, inp, thread("t1", base), stream_mode=modes, parallel=parallel, method=method
            )
            rt.stream("turn 2", graph, inp, thread("t1", base), parallel=parallel, method=method)
            rt.history("get_state_history", graph, thread("t1"))
            rt.saved("saver.list", saver, "t1")
            rt.calls("saver calls", saver)

        return run_scenario(scenario, Rt(impl(CANDIDATE_PREFIX)))

    compare_traces(f"{name} async vs sync", run("sync"), run(None), f"{CANDIDATE_PREFIX} (async)")

"""Threads that move between the runtimes: one saver shared by a LangGraph-compiled and a
candidate-compiled copy of the same graph.

Each scenario has two turns. The expectation is LangGraph running both; then LangGraph runs
turn 1 and the candidate turn 2, and the candidate turn 1 and LangGraph turn 2: each trace
(streams with ``checkpoints``, the thread read back through *both* graphs, the saved
checkpoints and the saver calls) must equal the expectation after normalization. This is
what LangGraph's checkpoint format, task ids and write conventions are for: a run that
failed on one runtime resumes on the other with the finished tasks' writes reused.
"""

from __future__ import annotations

import pytest

from .graphs import (
    ALL_MODES,
    Switch,
    cfg,
    chain,
    chat,
    failing_pair,
    failing_send,
    failing_subgraph,
    fan,
    loop,
)
from .harness import Rt, build_case, compare_cross, has_join, is_parallel, thread
from .test_streams import CASES, NESTED

CP = ("checkpoints", "debug")


def _read_back(rt: Rt, g1, g2, saver, tid: str = "t1") -> None:
    rt.state("get_state via turn-2 graph", g2, cfg(tid))
    rt.state("get_state via turn-1 graph", g1, cfg(tid))
    rt.history("get_state_history via turn-2 graph", g2, cfg(tid))
    rt.history("get_state_history via turn-1 graph", g1, cfg(tid))
    rt.saved("saver.list", saver, tid)
    rt.calls("saver calls", saver)


def test_chain_second_turn():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g1, g2 = (chain(m, saver) for m in rt.turns)
        rt.stream("turn 1", g1, {"x": 1}, cfg("t1"), stream_mode=CP)
        rt.stream("turn 2", g2, {"x": 5}, cfg("t1"), stream_mode=ALL_MODES)
        _read_back(rt, g1, g2, saver)

    compare_cross(scenario)


def test_fan_out_join_second_turn():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        rt.durability = "sync"  # harness.JOIN_RACE: fan has a join
        g1, g2 = (fan(m, saver) for m in rt.turns)
        rt.stream("turn 1", g1, {"log": ["in"]}, cfg("t1"), stream_mode=CP, parallel=True)
        rt.stream("turn 2", g2, {"log": ["again"]}, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        _read_back(rt, g1, g2, saver)

    compare_cross(scenario)


def test_loop_second_turn():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g1, g2 = (loop(m, saver) for m in rt.turns)
        rt.invoke("turn 1", g1, {"x": 0}, cfg("t1"))
        rt.stream("turn 2", g2, {"x": 1}, cfg("t1"), stream_mode=CP)
        _read_back(rt, g1, g2, saver)

    compare_cross(scenario)


def test_messages_second_turn():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g1, g2 = (chat(m, saver) for m in rt.turns)
        rt.invoke("turn 1", g1, {"messages": [("user", "hi")]}, cfg("t1"))
        rt.stream("turn 2", g2, {"messages": [("user", "again")]}, cfg("t1"), stream_mode=ALL_MODES)
        _read_back(rt, g1, g2, saver)

    compare_cross(scenario)


def test_none_input_continues_a_finished_thread():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g1, g2 = (chain(m, saver) for m in rt.turns)
        rt.invoke("turn 1", g1, {"x": 1}, cfg("t1"))
        rt.stream("turn 2: None", g2, None, cfg("t1"), stream_mode=ALL_MODES)
        _read_back(rt, g1, g2, saver)

    compare_cross(scenario)


def test_failure_resumed_on_the_other_runtime():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        sw1, sw2 = Switch(), Switch(fixed=True)
        g1 = failing_pair(rt.turns[0], saver, sw1)
        g2 = failing_pair(rt.turns[1], saver, sw2)
        rt.stream("turn 1: bad raises", g1, {"log": []}, cfg("t1"), stream_mode=CP, parallel=True)
        rt.stream("turn 2: resume", g2, None, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        rt.record("node calls turn 1", sw1.sorted_calls())
        rt.record("node calls turn 2", sw2.sorted_calls())
        _read_back(rt, g1, g2, saver)

    compare_cross(scenario)


def test_failed_send_resumed_on_the_other_runtime():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        sw1, sw2 = Switch(), Switch(fixed=True)
        g1 = failing_send(rt.turns[0], saver, sw1)
        g2 = failing_send(rt.turns[1], saver, sw2)
        rt.stream("turn 1", g1, {"items": [1, 2, 3]}, cfg("t1"), stream_mode=CP, parallel=True)
        rt.stream("turn 2: resume", g2, None, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        rt.record("node calls turn 1", sw1.sorted_calls())
        rt.record("node calls turn 2", sw2.sorted_calls())
        _read_back(rt, g1, g2, saver)

    compare_cross(scenario)


def test_failed_subgraph_resumed_on_the_other_runtime():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        sw1, sw2 = Switch(), Switch(fixed=True)
        g1 = failing_subgraph(rt.turns[0], saver, sw1)
        g2 = failing_subgraph(rt.turns[1], saver, sw2)
        rt.stream("turn 1", g1, {"log": []}, cfg("t1"), stream_mode=CP, subgraphs=True)
        rt.state("get_state(subgraphs=True) via turn-2 graph", g2, cfg("t1"), subgraphs=True)
        rt.stream("turn 2: resume", g2, None, cfg("t1"), stream_mode=ALL_MODES, subgraphs=True)
        rt.record("node calls turn 1", sw1.calls)
        rt.record("node calls turn 2", sw2.calls)
        _read_back(rt, g1, g2, saver)

    compare_cross(scenario)


def test_update_state_by_the_other_runtime():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g1, g2 = (chain(m, saver) for m in rt.turns)
        rt.invoke("turn 1", g1, {"x": 1}, cfg("t1"))
        rt.update(
            "update_state as a, turn-2 graph", g2, cfg("t1"), {"x": 100, "log": ["manual"]}, as_node="a"
        )
        rt.stream("continue on the turn-1 graph", g1, None, cfg("t1"), stream_mode=CP)
        rt.stream("turn 2 on the turn-2 graph", g2, {"x": 3}, cfg("t1"), stream_mode=CP)
        _read_back(rt, g1, g2, saver)

    compare_cross(scenario)


def test_replay_by_the_other_runtime():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        rt.durability = "sync"  # harness.JOIN_RACE: fan has a join
        g1, g2 = (fan(m, saver) for m in rt.turns)
        rt.invoke("turn 1", g1, {"log": ["in"]}, cfg("t1"))
        history = rt.history("history via turn-2 graph", g2, cfg("t1"))
        step0 = history[-2].config
        rt.stream("replay step 0, turn-2 graph", g2, None, step0, stream_mode=ALL_MODES, parallel=True)
        fork = rt.update("fork by update, turn-1 graph", g1, step0, {"log": ["forked"]})
        rt.stream("run the fork, turn-2 graph", g2, None, fork, stream_mode=CP, parallel=True)
        _read_back(rt, g1, g2, saver)

    compare_cross(scenario)


@pytest.mark.parametrize("name", list(CASES))
def test_catalogue_thread_continued_on_the_other_runtime(name: str):
    """Every catalogue graph: turn 1 on one runtime, then on the other a second turn, a
    ``None`` continuation and a replay from the step-0 checkpoint of turn 1."""
    parallel = is_parallel(name)
    nested = name in NESTED
    modes = ("updates", "checkpoints") if nested else ("values", "updates", "checkpoints", "tasks")

    def scenario(rt: Rt) -> None:
        if has_join(name):
            rt.durability = "sync"  # harness.JOIN_RACE
        saver = rt.saver()
        (g1, inp, base), (g2, _, _) = (build_case(m, name, saver) for m in rt.turns)
        conf = thread("t1", base)
        rt.stream("turn 1", g1, inp, conf, stream_mode="checkpoints", subgraphs=nested, parallel=parallel)
        history = rt.history("history via turn-2 graph", g2, cfg("t1"))
        rt.stream("turn 2", g2, inp, conf, stream_mode=modes, subgraphs=nested, parallel=parallel)
        rt.stream("None", g2, None, conf, stream_mode=modes, subgraphs=nested, parallel=parallel)
        step0 = next((s.config for s in history if s.metadata["step"] == 0), None)
        if step0 is not None:
            replay = thread("t1", base, checkpoint_id=step0["configurable"]["checkpoint_id"])
            rt.stream(
                "replay step 0", g2, None, replay, stream_mode=modes, subgraphs=nested, parallel=parallel
            )
        _read_back(rt, g1, g2, saver)

    compare_cross(scenario, f"{name} / across runtimes")

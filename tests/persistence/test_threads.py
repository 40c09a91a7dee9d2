"""Threads over several calls: turns, continuing, update_state, time travel, failure and
resume, durability, the state API (get_state / get_state_history with filter/before/limit).

Each scenario runs on LangGraph and on the candidate, each with its own saver and the same
thread ids; the whole trace (streams with ``checkpoints``/``debug``, snapshots, saved
checkpoints, saver calls) must be equal after normalization.
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
    subgraph_chain,
)
from .harness import Rt, compare

CP = ("checkpoints", "debug")


def _end(rt: Rt, graph, saver, tid: str = "t1") -> None:
    """The thread at the end of a scenario, every way it can be read."""
    rt.state("get_state", graph, cfg(tid))
    rt.history("get_state_history", graph, cfg(tid))
    rt.saved("saver.list", saver, tid)
    rt.calls("saver calls", saver)


# --------------------------------------------------------------------------- turns


def test_second_turn_on_a_thread():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        rt.invoke("turn 1", g, {"x": 1}, cfg("t1"))
        rt.stream("turn 2", g, {"x": 5}, cfg("t1"), stream_mode=ALL_MODES)
        rt.stream("turn 3 (updates)", g, {"log": ["in"]}, cfg("t1"))
        _end(rt, g, saver)

    compare(scenario)


def test_turns_on_two_threads_do_not_mix():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        rt.invoke("t1 turn 1", g, {"x": 1}, cfg("t1"))
        rt.invoke("t2 turn 1", g, {"x": 2}, cfg("t2"))
        rt.invoke("t1 turn 2", g, {"x": 3}, cfg("t1"))
        rt.state("t1", g, cfg("t1"))
        rt.state("t2", g, cfg("t2"))
        rt.saved("saver.list t2", saver, "t2")
        _end(rt, g, saver)

    compare(scenario)


def test_messages_across_turns():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chat(rt.m, saver)
        rt.invoke("turn 1", g, {"messages": [{"role": "user", "content": "hi", "id": "u-1"}]}, cfg("t1"))
        rt.stream(
            "turn 2",
            g,
            {"messages": [("user", "again")]},  # no id: add_messages makes a uuid4
            cfg("t1"),
            stream_mode=ALL_MODES,
        )
        _end(rt, g, saver)

    compare(scenario)


def test_loop_with_conditional_exit_then_second_turn():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = loop(rt.m, saver)
        rt.stream("turn 1", g, {"x": 0}, cfg("t1"), stream_mode=CP)
        rt.stream("turn 2", g, {"x": 1}, cfg("t1"), stream_mode=("values", "checkpoints"))
        _end(rt, g, saver)

    compare(scenario)


def test_fan_out_join_second_turn():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        rt.durability = "sync"  # harness.JOIN_RACE: fan has a join
        g = fan(rt.m, saver)
        rt.stream("turn 1", g, {"log": ["in"]}, cfg("t1"), stream_mode=CP, parallel=True)
        rt.stream("turn 2", g, {"log": ["again"]}, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        _end(rt, g, saver)

    compare(scenario)


# --------------------------------------------------------------------------- continuing with None


@pytest.mark.parametrize("mode", [None, "values", CP, ALL_MODES])
def test_none_input_on_a_finished_thread(mode):
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        rt.invoke("turn 1", g, {"x": 1}, cfg("t1"))
        rt.stream("None input", g, None, cfg("t1"), stream_mode=mode)
        rt.invoke("invoke(None)", g, None, cfg("t1"))
        _end(rt, g, saver)

    compare(scenario)


def test_none_input_on_a_new_thread():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        rt.stream("None input", g, None, cfg("fresh"), stream_mode=ALL_MODES)
        rt.state("get_state", g, cfg("fresh"))
        rt.history("get_state_history", g, cfg("fresh"))
        rt.saved("saver.list", saver, "fresh")

    compare(scenario)


# --------------------------------------------------------------------------- update_state


def test_update_state_as_node_then_continue():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        rt.invoke("turn 1", g, {"x": 1}, cfg("t1"))
        rt.update("update_state as a", g, cfg("t1"), {"x": 100, "log": ["manual"]}, as_node="a")
        rt.state("after update", g, cfg("t1"))
        rt.stream("continue", g, None, cfg("t1"), stream_mode=ALL_MODES)
        _end(rt, g, saver)

    compare(scenario)


def test_update_state_without_as_node():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        rt.invoke("turn 1", g, {"x": 1}, cfg("t1"))
        rt.update("update_state", g, cfg("t1"), {"x": 7})
        rt.stream("continue", g, None, cfg("t1"), stream_mode=CP)
        _end(rt, g, saver)

    compare(scenario)


def test_update_state_as_fan_out_node():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        rt.durability = "sync"  # harness.JOIN_RACE: fan has a join
        g = fan(rt.m, saver)
        rt.invoke("turn 1", g, {"log": ["in"]}, cfg("t1"))
        rt.update("update_state as a", g, cfg("t1"), {"log": ["manual"]}, as_node="a")
        rt.stream("continue", g, None, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        _end(rt, g, saver)

    compare(scenario)


def test_update_state_on_a_new_thread_then_run():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        rt.update("update_state as a", g, cfg("t1"), {"x": 41, "log": ["seeded"]}, as_node="a")
        rt.state("after update", g, cfg("t1"))
        rt.stream("continue", g, None, cfg("t1"), stream_mode=ALL_MODES)
        _end(rt, g, saver)

    compare(scenario)


def test_update_state_twice_then_new_input():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = loop(rt.m, saver)
        rt.invoke("turn 1", g, {"x": 0}, cfg("t1"))
        rt.update("update 1 as inc", g, cfg("t1"), {"x": 1}, as_node="inc")
        rt.update("update 2 as inc", g, cfg("t1"), {"log": ["manual"]}, as_node="inc")
        rt.stream("continue", g, None, cfg("t1"), stream_mode=CP)
        rt.stream("turn 2", g, {"x": 2}, cfg("t1"), stream_mode=CP)
        _end(rt, g, saver)

    compare(scenario)


# --------------------------------------------------------------------------- time travel


def test_replay_from_an_older_checkpoint():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        rt.invoke("turn 1", g, {"x": 1}, cfg("t1"))
        history = rt.history("history", g, cfg("t1"))
        step0 = history[-2].config  # loop checkpoint of step 0, next ('a',)
        rt.state("get_state(step 0)", g, step0)
        rt.stream("replay from step 0", g, None, step0, stream_mode=ALL_MODES)
        _end(rt, g, saver)

    compare(scenario)


def test_replay_from_the_input_checkpoint():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        rt.durability = "sync"  # harness.JOIN_RACE: fan has a join
        g = fan(rt.m, saver)
        rt.invoke("turn 1", g, {"log": ["in"]}, cfg("t1"))
        history = rt.history("history", g, cfg("t1"))
        rt.stream("replay from step -1", g, None, history[-1].config, stream_mode=CP, parallel=True)
        _end(rt, g, saver)

    compare(scenario)


def test_new_input_on_an_older_checkpoint():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        rt.invoke("turn 1", g, {"x": 1}, cfg("t1"))
        history = rt.history("history", g, cfg("t1"))
        rt.stream("input at step 1", g, {"x": 9}, history[1].config, stream_mode=CP)
        _end(rt, g, saver)

    compare(scenario)


def test_fork_by_update_on_an_older_checkpoint():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        rt.invoke("turn 1", g, {"x": 1}, cfg("t1"))
        history = rt.history("history", g, cfg("t1"))
        fork = rt.update("update_state(step 0)", g, history[-2].config, {"x": 7})
        rt.state("fork head", g, fork)
        rt.stream("run the fork", g, None, fork, stream_mode=ALL_MODES)
        _end(rt, g, saver)

    compare(scenario)


def test_fork_by_update_as_node_on_an_older_checkpoint():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        rt.durability = "sync"  # harness.JOIN_RACE: fan has a join
        g = fan(rt.m, saver)
        rt.invoke("turn 1", g, {"log": ["in"]}, cfg("t1"))
        history = rt.history("history", g, cfg("t1"))
        # step 1: next (b, c); update as b: c is still due, the join waits for c only
        fork = rt.update("update_state(step 1) as b", g, history[-3].config, {"log": ["B"]}, as_node="b")
        rt.stream("run the fork", g, None, fork, stream_mode=CP, parallel=True)
        _end(rt, g, saver)

    compare(scenario)


# --------------------------------------------------------------------------- state API


def test_get_state_history_filter_before_limit():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        rt.invoke("turn 1", g, {"x": 1}, cfg("t1"))
        rt.invoke("turn 2", g, {"x": 2}, cfg("t1"))
        history = rt.history("all", g, cfg("t1"))
        rt.history("limit=2", g, cfg("t1"), limit=2)
        rt.history("filter source=input", g, cfg("t1"), filter={"source": "input"})
        rt.history("filter step=1", g, cfg("t1"), filter={"step": 1})
        rt.history("filter source=loop limit=3", g, cfg("t1"), filter={"source": "loop"}, limit=3)
        rt.history("before step 4", g, cfg("t1"), before=history[2].config)
        rt.history("before step 4 limit=1", g, cfg("t1"), before=history[2].config, limit=1)
        rt.history("filter no match", g, cfg("t1"), filter={"source": "nope"})
        rt.history("unknown thread", g, cfg("nobody"))
        rt.state("get_state(step 1)", g, history[-3].config)
        rt.state("get_state(unknown thread)", g, cfg("nobody"))

    compare(scenario)


def test_get_state_of_a_finished_subgraph_run():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = subgraph_chain(rt.m, saver)
        rt.stream("run", g, {"log": []}, cfg("t1"), stream_mode=CP, subgraphs=True)
        history = rt.history("history", g, cfg("t1"))
        rt.state("get_state(subgraphs=True)", g, cfg("t1"), subgraphs=True)
        rt.state("get_state(step of sub, subgraphs=True)", g, history[2].config, subgraphs=True)
        rt.saved("saver.list", saver, "t1")
        rt.calls("saver calls", saver)

    compare(scenario)


def test_checkpoint_metadata_from_config():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        conf = {
            "configurable": {"thread_id": "t1", "user_id": "u-7", "n": 3, "obj": {"no": "dict"}},
            "metadata": {"run_tag": "r1", "flag": True, "nested": ["skipped"]},
        }
        rt.stream("run", g, {"x": 1}, conf, stream_mode=CP)
        _end(rt, g, saver)

    compare(scenario)


# --------------------------------------------------------------------------- failure and resume


@pytest.mark.parametrize("mode", ["updates", ALL_MODES])
def test_failed_parallel_step_resumes_with_cached_sibling(mode):
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        sw = Switch()
        g = failing_pair(rt.m, saver, sw)
        rt.stream("run: bad raises", g, {"log": []}, cfg("t1"), stream_mode=mode, parallel=True)
        rt.state("get_state after the failure", g, cfg("t1"))
        rt.saved("saver.list after the failure", saver, "t1")
        sw.fixed = True
        rt.stream("resume after fixing bad", g, None, cfg("t1"), stream_mode=mode, parallel=True)
        rt.record("node calls", sw.sorted_calls())
        _end(rt, g, saver)

    compare(scenario)


def test_failed_parallel_step_fails_again_when_not_fixed():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        sw = Switch()
        g = failing_pair(rt.m, saver, sw)
        rt.invoke("run", g, {"log": []}, cfg("t1"))
        rt.stream("resume, still broken", g, None, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        rt.record("node calls", sw.sorted_calls())
        _end(rt, g, saver)

    compare(scenario)


def test_failed_run_then_new_input_discards_pending_writes():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        sw = Switch()
        g = failing_pair(rt.m, saver, sw)
        rt.invoke("run", g, {"log": []}, cfg("t1"))
        sw.fixed = True
        rt.stream("new input", g, {"log": ["new"]}, cfg("t1"), stream_mode=CP, parallel=True)
        rt.record("node calls", sw.sorted_calls())
        _end(rt, g, saver)

    compare(scenario)


def test_failed_send_resumes_with_cached_pushes():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        sw = Switch()
        g = failing_send(rt.m, saver, sw)
        rt.stream("run", g, {"items": [1, 2, 3]}, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        rt.state("get_state after the failure", g, cfg("t1"))
        sw.fixed = True
        rt.stream("resume", g, None, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        rt.record("node calls", sw.sorted_calls())
        _end(rt, g, saver)

    compare(scenario)


def test_failed_subgraph_resumes_inside():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        sw = Switch()
        g = failing_subgraph(rt.m, saver, sw)
        rt.stream("run", g, {"log": []}, cfg("t1"), stream_mode=ALL_MODES, subgraphs=True)
        rt.state("get_state", g, cfg("t1"))
        rt.state("get_state(subgraphs=True)", g, cfg("t1"), subgraphs=True)
        rt.saved("saver.list after the failure", saver, "t1")
        sw.fixed = True
        rt.stream("resume", g, None, cfg("t1"), stream_mode=ALL_MODES, subgraphs=True)
        rt.record("node calls", sw.calls)
        _end(rt, g, saver)

    compare(scenario)


# --------------------------------------------------------------------------- durability


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_durability_what_is_saved(durability):
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        rt.stream("turn 1", g, {"x": 1}, cfg("t1"), stream_mode=CP, durability=durability)
        rt.saved("saved after turn 1", saver, "t1")
        rt.invoke("turn 2", g, {"x": 2}, cfg("t1"), durability=durability)
        _end(rt, g, saver)

    compare(scenario)


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_durability_failure_and_resume(durability):
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        sw = Switch()
        g = failing_pair(rt.m, saver, sw)
        rt.stream("run", g, {"log": []}, cfg("t1"), stream_mode=CP, parallel=True, durability=durability)
        rt.state("get_state after the failure", g, cfg("t1"))
        rt.saved("saver.list after the failure", saver, "t1")
        sw.fixed = True
        rt.stream("resume", g, None, cfg("t1"), stream_mode=ALL_MODES, parallel=True, durability=durability)
        rt.record("node calls", sw.sorted_calls())
        _end(rt, g, saver)

    compare(scenario)


@pytest.mark.parametrize("durability", ["sync", "exit"])
def test_durability_with_a_subgraph(durability):
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = subgraph_chain(rt.m, saver)
        rt.stream("run", g, {"log": []}, cfg("t1"), stream_mode=CP, subgraphs=True, durability=durability)
        _end(rt, g, saver)

    compare(scenario)


def test_bulk_update_state_then_continue():
    """Two supersteps: b and c written together (the join sees both), then d; then the run goes on."""

    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        rt.durability = "sync"  # harness.JOIN_RACE: fan has a join
        g = fan(rt.m, saver)
        rt.invoke("turn 1", g, {"log": ["in"]}, cfg("t1"))

        def bulk() -> object:
            steps = [
                [({"log": ["b!"]}, "b", None), ({"log": ["c!"]}, "c", None)],
                [({"log": ["a!"]}, "a", None)],
            ]
            return g.bulk_update_state(cfg("t1"), steps)

        new = rt._guard("bulk_update_state", bulk)
        rt.record("bulk_update_state", new)
        rt.state("after bulk", g, cfg("t1"))
        rt.stream("continue", g, None, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        _end(rt, g, saver)

    compare(scenario)


def test_bulk_update_state_needs_as_node_for_several_updates():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        g = chain(rt.m, saver)
        rt.invoke("turn 1", g, {"x": 1}, cfg("t1"))
        rt._guard(
            "two updates without as_node",
            lambda: g.bulk_update_state(cfg("t1"), [[({"x": 2}, None, None), ({"x": 3}, None, None)]]),
        )
        rt._guard("no supersteps", lambda: g.bulk_update_state(cfg("t1"), []))
        rt.update("update_state with a task id", g, cfg("t1"), {"x": 5}, as_node="a", task_id="my-task")
        _end(rt, g, saver)

    compare(scenario)


def _own_history_subgraph(m, checkpointer):
    """A subgraph compiled with checkpointer=True: one history per thread under the namespace 'sub'."""
    from .graphs import Log

    sub = m.StateGraph(Log)
    sub.add_node("s1", lambda s: {"log": [f"s1:{len(s['log'])}"]})
    sub.add_edge(m.START, "s1")
    b = m.StateGraph(Log)
    b.add_node("sub", sub.compile(checkpointer=True))
    b.add_edge(m.START, "sub")
    return b.compile(checkpointer=checkpointer)


@pytest.mark.parametrize("durability", ["sync", "exit"])
def test_subgraph_with_its_own_history(durability):
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        rt.durability = durability
        g = _own_history_subgraph(rt.m, saver)
        for turn in range(2):
            rt.stream(
                f"turn {turn}", g, {"log": [f"t{turn}"]}, cfg("t1"), stream_mode=ALL_MODES, subgraphs=True
            )
        rt.state("get_state(subgraphs=True)", g, cfg("t1"), subgraphs=True)
        sub_cfg = {"configurable": {"thread_id": "t1", "checkpoint_ns": "sub"}}
        rt.history("the subgraph's own history", g, sub_cfg)
        _end(rt, g, saver)

    compare(scenario)

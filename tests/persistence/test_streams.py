"""Every stream mode, with a checkpointer, over the differential catalogue.

Each test: a fresh saver, one run of a catalogue graph on thread ``t1``, then the thread as
``get_state``, ``get_state_history``, ``saver.list`` (with write indices and task paths) and
the saver calls (``put`` with its ``new_versions``, ``put_writes``) must equal LangGraph's.
"""

from __future__ import annotations

import pytest

from .harness import Rt, build_case, compare, has_join, is_parallel, thread

# the graphs: name -> what it covers
CASES = {
    "seed_joke": "linear chain",
    "seed_joke_writer": "custom writer",
    "cond_path_map_dict": "conditional edges with a path map, a loop",
    "cond_loop_no_path_map": "loop with a conditional exit",
    "cond_path_map_list_and_list_return": "conditional edge to two nodes at once",
    "fanout_fanin": "fan-out, join add_edge([b, c], d)",
    "fanout_uneven_join": "join waiting across supersteps",
    "fanout_uneven_no_join": "node reached twice",
    "send_map_reduce": "Send map-reduce",
    "send_mixed_with_pull": "Sends and pull tasks in one step",
    "send_from_start": "Send from START",
    "command_goto": "Command(goto, update)",
    "command_goto_send_and_list": "Command(goto=[Send, node])",
    "command_update_with_static_edge": "Command(update) + static edge",
    "reducers_custom": "operator.add and custom reducers",
    "messages_state_mixed_inputs": "add_messages: coercion, replace, remove",
    "messages_parallel_appends": "add_messages from parallel nodes",
    "dataclass_state": "dataclass state",
    "pydantic_state": "Pydantic state",
    "config_metadata": "config metadata merged into checkpoint metadata",
    "seed_subgraph": "subgraph as a node (inherits the checkpointer)",
    "subgraph_two_levels": "two levels of subgraphs",
    "subgraphs_parallel": "two subgraphs in parallel",
    "send_to_subgraph": "Send to a subgraph",
    "command_parent_from_subgraph": "Command.PARENT from a subgraph",
    "error_in_node": "a failing node: what is saved",
    "error_in_subgraph": "a failing subgraph node",
}
NESTED = {
    "seed_subgraph",
    "subgraph_two_levels",
    "subgraphs_parallel",
    "send_to_subgraph",
    "command_parent_from_subgraph",
    "error_in_subgraph",
    "config_metadata",
}

ALL = ("values", "updates", "checkpoints", "tasks", "debug", "custom")
MODES: list = [
    None,  # the default: updates
    "checkpoints",
    "debug",
    "values",
    "updates",
    "tasks",
    ("checkpoints", "debug"),
    ("values", "checkpoints"),
    ALL,
]
# (stream_mode, subgraphs, version) beyond MODES
EXTRA: list = [(ALL, False, "v2")]
NESTED_EXTRA: list = [("checkpoints", True, "v1"), (ALL, True, "v1"), (ALL, True, "v2")]


def _ident(mode) -> str:
    if mode is None:
        return "default"
    return mode if isinstance(mode, str) else "[" + ",".join(mode) + "]"


def _params():
    for name in CASES:
        calls = [(mode, False, "v1") for mode in MODES] + EXTRA
        if name in NESTED:
            calls += NESTED_EXTRA
        for mode, subgraphs, version in calls:
            ident = "-".join([name, _ident(mode)] + (["subgraphs"] if subgraphs else []) + [version])
            yield pytest.param(name, mode, subgraphs, version, id=ident)


def one_run(name: str, mode, subgraphs: bool, version: str):
    parallel = is_parallel(name)

    def scenario(rt: Rt) -> None:
        if has_join(name):
            rt.durability = "sync"  # harness.JOIN_RACE
        saver = rt.saver()
        graph, inp, base = build_case(rt.m, name, saver)
        cfg = thread("t1", base)
        rt.stream(
            "stream",
            graph,
            inp,
            cfg,
            stream_mode=mode,
            subgraphs=subgraphs,
            version=version,
            parallel=parallel,
        )
        rt.state("get_state", graph, thread("t1"))
        rt.history("get_state_history", graph, thread("t1"))
        rt.saved("saver.list", saver, "t1")
        rt.calls("saver calls", saver)

    return scenario


@pytest.mark.parametrize(("name", "mode", "subgraphs", "version"), list(_params()))
def test_stream_with_checkpointer(name: str, mode, subgraphs: bool, version: str):
    compare(one_run(name, mode, subgraphs, version), f"{name} / {_ident(mode)} / {version}")


NESTED_TURN_MODES = ("updates", "checkpoints")


@pytest.mark.parametrize("name", list(CASES))
def test_second_turn_and_none_continue(name: str):
    """Turn 2 on the same thread (steps keep counting, versions go on, pending writes of a
    failed turn are discarded by new input), then ``None`` (a finished thread: nothing runs;
    a failed one: it resumes)."""
    parallel = is_parallel(name)
    nested = name in NESTED

    def scenario(rt: Rt) -> None:
        if has_join(name):
            rt.durability = "sync"  # harness.JOIN_RACE
        saver = rt.saver()
        graph, inp, base = build_case(rt.m, name, saver)
        cfg = thread("t1", base)
        rt.invoke("turn 1", graph, inp, cfg)
        modes = NESTED_TURN_MODES if nested else ALL
        rt.stream("turn 2", graph, inp, cfg, stream_mode=modes, subgraphs=nested, parallel=parallel)
        rt.stream("None", graph, None, cfg, stream_mode=modes, subgraphs=nested, parallel=parallel)
        rt.history("get_state_history", graph, thread("t1"))
        rt.saved("saver.list", saver, "t1")
        rt.calls("saver calls", saver)

    compare(scenario, f"{name} / two turns")

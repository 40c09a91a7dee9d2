"""The persistence normalizer hides only what differs between two runs of one runtime."""

from __future__ import annotations

import pytest

from .graphs import ALL_MODES, Switch, cfg, failing_pair
from .harness import ORACLE_PREFIX, Rt, compare_traces, impl, run_scenario
from .normalize import bag, first_difference, freeze, normalize_trace, sort_branch_writes
from .test_streams import one_run

CP_A = "1f1f0332-2701-6f1d-bfff-ff2c015b7b77"
CP_B = "1f1f0332-2705-6ad4-8000-ead6efe7e821"
CP_C = "1f1f0340-1111-6222-8000-333333333333"
CP_D = "1f1f0340-1115-6222-8001-333333333333"
TASK_1 = "b38d4852-fa47-0c66-0ebe-95adc5d17aa8"
TASK_2 = "5a35dcc7-43b9-3677-a373-ccfd5aa7ca47"


def _cp(cid: str, parent: str | None, step: int, task: str, ts: str = "2026-12-04T22:36:23+00:00"):
    return {
        "config": {"configurable": {"checkpoint_id": cid, "checkpoint_ns": "", "thread_id": "t"}},
        "parent_config": parent and {"configurable": {"checkpoint_id": parent}},
        "metadata": {"step": step},
        "tasks": [{"id": task, "name": "a"}],
        "checkpoint": {"id": cid, "ts": ts, "channel_versions": {"x": f"{step + 2:032d}.0.{step}123"}},
    }


def norm(trace):
    return normalize_trace(freeze(trace))


def test_consistent_id_renaming_is_equal():
    a = [_cp(CP_A, None, -1, TASK_1), _cp(CP_B, CP_A, 0, TASK_2)]
    b = [
        _cp(CP_C.replace("8000", "bfff"), None, -1, TASK_2),
        _cp(CP_C, CP_C.replace("8000", "bfff"), 0, TASK_1),
    ]
    assert norm(a) == norm(b)


def test_parent_link_to_another_checkpoint_differs():
    a = [_cp(CP_A, None, -1, TASK_1), _cp(CP_B, CP_A, 0, TASK_2)]
    b = [_cp(CP_A, None, -1, TASK_1), _cp(CP_B, CP_B, 0, TASK_2)]
    assert norm(a) != norm(b)


def test_checkpoint_id_step_group_is_compared():
    a = [_cp(CP_B, None, 0, TASK_1)]
    b = [_cp(CP_D, None, 0, TASK_1)]  # ...-8001-...: step 1 encoded for a step-0 checkpoint
    assert norm(a) != norm(b)


def test_task_id_reused_differs_from_two_task_ids():
    a = [_cp(CP_A, None, -1, TASK_1), _cp(CP_B, CP_A, 0, TASK_2)]
    b = [_cp(CP_A, None, -1, TASK_1), _cp(CP_B, CP_A, 0, TASK_1)]
    assert norm(a) != norm(b)


def test_timestamps_and_version_fractions_are_hidden_counters_are_not():
    a = _cp(CP_A, None, -1, TASK_1, ts="2026-12-04T22:36:23.1+00:00")
    b = _cp(CP_A, None, -1, TASK_1, ts="2027-01-01T00:00:00.9+00:00")
    b["checkpoint"]["channel_versions"]["x"] = "00000000000000000000000000000001.0.987654321"
    assert norm([a]) == norm([b])
    b["checkpoint"]["channel_versions"]["x"] = "00000000000000000000000000000002.0.987654321"
    assert norm([a]) != norm([b])
    snapshot_like = {"type": "checkpoint", "timestamp": "2026-12-04T22:36:23+00:00", "step": 1, "payload": {}}
    assert freeze(snapshot_like)["timestamp"] == "<ts>"


def test_bags_are_order_insensitive_but_bounded():
    up_b, up_c = ("updates", {"b": 1}), ("updates", {"c": 2})
    cp = ("checkpoints", {"step": 1})
    assert norm([bag([up_b, up_c]), cp]) == norm([bag([up_c, up_b]), cp])
    # an event on the other side of a checkpoint is a different trace
    assert norm([bag([up_b, up_c]), cp]) != norm([up_b, cp, up_c])


def test_bag_order_uses_ids_already_numbered():
    # two namespaces equal but for their task ids: known ids order them the same way in both runs
    a = [("tasks", [TASK_1, TASK_2]), bag([((f"sub:{TASK_2}",), "x"), ((f"sub:{TASK_1}",), "y")])]
    b = [("tasks", [TASK_2, TASK_1]), bag([((f"sub:{TASK_1}",), "x"), ((f"sub:{TASK_2}",), "y")])]
    c = [("tasks", [TASK_2, TASK_1]), bag([((f"sub:{TASK_2}",), "x"), ((f"sub:{TASK_1}",), "y")])]
    assert norm(a) == norm(b)
    assert norm(a) != norm(c)


def test_only_static_branch_writes_are_reordered():
    writes = [
        (TASK_1, "items", ["a"], 0, "p"),
        (TASK_1, "branch:to:c", None, 1, "p"),
        (TASK_1, "branch:to:b", None, 2, "p"),
    ]
    assert sort_branch_writes(writes) == [
        (TASK_1, "items", ["a"], 0, "p"),
        (TASK_1, "branch:to:b", None, 1, "p"),
        (TASK_1, "branch:to:c", None, 2, "p"),
    ]
    other = [(TASK_1, "y", 1), (TASK_1, "x", 2)]
    assert sort_branch_writes(other) == other
    split = [(TASK_1, "branch:to:c", None), (TASK_2, "branch:to:b", None)]
    assert sort_branch_writes(split) == split


def test_first_difference_names_the_path():
    assert first_difference({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}]}) == "['a'][1]['b']: 2 != 3"
    assert "length 2 != 1" in first_difference([1, 2], [1])
    assert first_difference({"k": 1}, {"k": 1}) is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: one_run("fanout_fanin", ALL_MODES, False, "v1"),
        lambda: one_run("subgraphs_parallel", ALL_MODES, True, "v1"),
        lambda: one_run("send_map_reduce", ("checkpoints", "updates"), False, "v1"),
    ],
    ids=["fanout_fanin", "subgraphs_parallel", "send_map_reduce"],
)
def test_two_oracle_runs_are_equal(make):
    """Whatever the candidate: two LangGraph runs must normalize to the same trace."""
    lg = impl(ORACLE_PREFIX)
    compare_traces("oracle twice", run_scenario(make(), Rt(lg)), run_scenario(make(), Rt(lg)), "langgraph")


def test_two_oracle_runs_of_failure_and_resume_are_equal():
    def scenario(rt: Rt) -> None:
        saver = rt.saver()
        sw = Switch()
        g = failing_pair(rt.m, saver, sw)
        rt.stream("run", g, {"log": []}, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        sw.fixed = True
        rt.stream("resume", g, None, cfg("t1"), stream_mode=ALL_MODES, parallel=True)
        rt.saved("saver.list", saver, "t1")
        rt.calls("saver calls", saver)

    lg = impl(ORACLE_PREFIX)
    compare_traces(
        "oracle twice", run_scenario(scenario, Rt(lg)), run_scenario(scenario, Rt(lg)), "langgraph"
    )

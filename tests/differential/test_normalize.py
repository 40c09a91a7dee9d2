"""The normalizer must hide only legitimate nondeterminism, never real differences."""

from __future__ import annotations

from langchain_core.messages import AIMessage

from .normalize import CallSpec, freeze, normalize_stream, renumber_ids

UPD = CallSpec(stream_mode="updates")
MULTI = CallSpec(stream_mode=("values", "updates", "debug"))
ID_A = "1fe55a89-43a5-18c4-d719-5336acc445a6"
ID_B = "8425e39e-751d-0896-fc59-1d111950a4c9"


def test_parallel_window_order_is_canonical():
    plan = [(1, False), (2, True)]
    a = [{"a": 1}, {"b": 2}, {"c": 3}]
    b = [{"a": 1}, {"c": 3}, {"b": 2}]
    assert normalize_stream(a, plan, UPD) == normalize_stream(b, plan, UPD)


def test_sequential_window_order_is_kept():
    plan = [(3, False)]
    a = [{"a": 1}, {"b": 2}, {"c": 3}]
    b = [{"a": 1}, {"c": 3}, {"b": 2}]
    assert normalize_stream(a, plan, UPD) != normalize_stream(b, plan, UPD)


def test_events_moved_across_supersteps_differ():
    plan = [(2, True), (2, True)]
    a = [{"a": 1}, {"b": 2}, {"c": 3}, {"d": 4}]
    b = [{"a": 1}, {"c": 3}, {"b": 2}, {"d": 4}]
    assert normalize_stream(a, plan, UPD) != normalize_stream(b, plan, UPD)


def test_extra_and_missing_events_differ():
    plan = [(2, True)]
    a = [{"a": 1}, {"b": 2}]
    assert normalize_stream(a, plan, UPD) != normalize_stream([*a, {"c": 3}], plan, UPD)
    assert normalize_stream(a, plan, UPD) != normalize_stream(a[:1], plan, UPD)


def test_values_before_results_in_a_parallel_step_differ():
    def task(name, i):
        return ("debug", {"step": 1, "type": "task", "payload": {"id": i, "name": name}})

    plan = [(5, True)]
    good = [
        task("a", ID_A),
        task("b", ID_B),
        ("updates", {"a": {}}),
        ("updates", {"b": {}}),
        ("values", {"x": 1}),
    ]
    bad = [good[0], good[1], good[4], good[2], good[3]]
    assert normalize_stream(good, plan, MULTI) != normalize_stream(bad, plan, MULTI)


def test_ids_are_numbered_by_first_appearance_everywhere():
    x = [
        {"id": ID_A, "ns": (f"node:{ID_B}",)},
        {"checkpoint_ns": f"a:{ID_B}|b:{ID_A}", "id": ID_A.upper()},
    ]
    assert renumber_ids(x) == [
        {"id": "<id:0>", "ns": ("node:<id:1>",)},
        {"checkpoint_ns": "a:<id:1>|b:<id:0>", "id": "<id:0>"},
    ]


def test_id_mapping_must_be_consistent():
    # same shape, but the candidate reuses one id where the oracle used two
    a = [{"id": ID_A}, {"id": ID_B}]
    b = [{"id": ID_A}, {"id": ID_A}]
    assert renumber_ids(a) != renumber_ids(b)


def test_freeze_drops_timestamps_and_converts_messages_and_errors():
    ev = {"step": 1, "timestamp": "2026-01-01", "type": "task", "payload": {"id": ID_A}}
    assert "timestamp" not in freeze(ev)
    msg = freeze(AIMessage(content="hi", id=ID_A))
    assert msg[:4] == ("<msg>", "ai", "hi", ID_A)
    assert freeze(ValueError("boom")) == ("<exc>", "ValueError", "boom", None)


def test_tuple_and_list_are_distinct():
    assert freeze(("a",)) != freeze(["a"])

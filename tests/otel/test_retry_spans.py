"""A node with a retry policy: one task span per attempt, the failed ones marked ERROR."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

from opentelemetry.trace import StatusCode

from lgtrace.graph import START, StateGraph
from lgtrace.types import RetryPolicy

from .test_spans import Tracing


class S(TypedDict, total=False):
    log: Annotated[list, operator.add]


def test_each_attempt_is_a_span() -> None:
    tracing = Tracing()
    calls = {"n": 0}

    def flaky(state: S):
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectionError(f"down {calls['n']}")
        return {"log": ["up"]}

    graph = (
        StateGraph(S)
        .add_node("flaky", flaky, retry_policy=RetryPolicy(initial_interval=0.01, jitter=False))
        .add_edge(START, "flaky")
        .compile()
    )
    graph.invoke({"log": []}, tracing.config)
    attempts = sorted(
        (s for s in tracing.spans() if s.name == "flaky"),
        key=lambda s: s.attributes["langgraph.task.attempt"],
    )
    assert [s.attributes["langgraph.task.attempt"] for s in attempts] == [1, 2, 3]
    assert [s.status.status_code for s in attempts] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]
    assert len({s.attributes["langgraph.task_id"] for s in attempts}) == 1  # one task, three attempts
    assert len({s.context.span_id for s in attempts}) == 3
    assert not tracing.handler.runs

"""Cache hits traced: a task answered from the cache does not run (no task span); its graph span
gets a ``langgraph.cache.hit`` event (node, task id, step) and a ``langgraph.cache.hits`` count."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

from langgraph.cache.memory import InMemoryCache

from lgtrace.func import entrypoint, task
from lgtrace.graph import START, StateGraph
from lgtrace.types import CachePolicy

from .test_spans import Tracing


class S(TypedDict, total=False):
    log: Annotated[list, operator.add]


def _hits(tracing: Tracing) -> list[tuple[int, list[str]]]:
    graphs = [s for s in tracing.spans() if s.name.startswith("invoke_workflow")]
    return [
        (
            g.attributes.get("langgraph.cache.hits", 0),
            [e.attributes["langgraph.node"] for e in g.events if e.name == "langgraph.cache.hit"],
        )
        for g in sorted(graphs, key=lambda s: s.start_time)
    ]


def test_a_node_cache_hit_is_an_event_on_the_graph_span() -> None:
    graph = (
        StateGraph(S)
        .add_node("slow", lambda s: {"log": ["slow"]}, cache_policy=CachePolicy())
        .add_node("fast", lambda s: {"log": ["fast"]})
        .add_edge(START, "slow")
        .add_edge("slow", "fast")
        .compile(cache=InMemoryCache())
    )
    tracing = Tracing()
    graph.invoke({"log": []}, tracing.config)
    graph.invoke({"log": []}, tracing.config)
    assert _hits(tracing) == [(0, []), (1, ["slow"])]
    assert [s.name for s in tracing.spans()].count("slow") == 1  # the hit did not run
    hit = next(e for s in tracing.spans() for e in s.events if e.name == "langgraph.cache.hit")
    assert hit.attributes["langgraph.step"] == 1 and hit.attributes["langgraph.task_id"]
    assert not tracing.handler.runs


def test_a_task_cache_hit_is_an_event_on_the_graph_span() -> None:
    @task(cache_policy=CachePolicy())
    def square(x: int) -> int:
        return x * x

    @entrypoint(cache=InMemoryCache())
    def workflow(n: int) -> int:
        return square(n).result()

    tracing = Tracing()
    assert workflow.invoke(3, tracing.config) == 9
    assert workflow.invoke(3, tracing.config) == 9
    assert _hits(tracing) == [(0, []), (1, ["square"])]
    assert [s.name for s in tracing.spans()].count("square") == 1

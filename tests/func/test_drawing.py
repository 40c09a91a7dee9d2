"""``get_graph()`` of an entrypoint: drawn as LangGraph draws it."""

from __future__ import annotations

import importlib


def _drawing(prefix: str) -> str:
    f = importlib.import_module(f"{prefix}.func")

    @f.task
    def step(x: int) -> int:
        return x + 1

    @f.entrypoint()
    def workflow(x: int) -> int:
        return step(x).result()

    graph = workflow.get_graph()
    return graph.draw_mermaid()


def test_an_entrypoint_is_drawn_as_langgraph_draws_it():
    mermaid = _drawing("lgtrace")
    assert mermaid == _drawing("langgraph")
    assert "__start__ --> workflow;" in mermaid and "workflow -.-> __end__;" in mermaid

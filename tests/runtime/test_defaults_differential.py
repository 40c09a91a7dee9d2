"""Defaults that only show on long runs or managed keys, compared with LangGraph."""

# no `from __future__ import annotations`: the state class is local and its hints must resolve
import importlib
from typing import Annotated, Any, TypedDict

import pytest


def _loop_graph(prefix: str, steps: int) -> Any:
    graph = importlib.import_module(f"{prefix}.graph")
    managed = importlib.import_module(f"{prefix}.managed")

    class State(TypedDict):
        n: int
        seen: Annotated[list, lambda a, b: a + b]
        remaining_steps: managed.RemainingSteps
        is_last_step: managed.IsLastStep

    def tick(state: State) -> dict[str, Any]:
        return {"n": state["n"] + 1, "seen": [(state["remaining_steps"], state["is_last_step"])]}

    builder = graph.StateGraph(State).add_node("tick", tick).add_edge(graph.START, "tick")
    builder.add_conditional_edges("tick", lambda s: graph.END if s["n"] >= steps else "tick")
    return builder.compile()


def _run(prefix: str, steps: int, config: dict[str, Any] | None) -> tuple[list[Any], str | None]:
    out: list[Any] = []
    try:
        for chunk in _loop_graph(prefix, steps).stream({"n": 0, "seen": []}, config, stream_mode="values"):
            out.append(chunk)
    except Exception as exc:
        return out, type(exc).__name__
    return out, None


@pytest.mark.parametrize(
    ("steps", "config"),
    [(40, None), (5, {"recursion_limit": 5}), (6, {"recursion_limit": 5}), (3, {"recursion_limit": 4})],
)
def test_recursion_default_and_managed_values_match_langgraph(
    steps: int, config: dict[str, Any] | None
) -> None:
    expected, got = _run("langgraph", steps, config), _run("lgtrace", steps, config)
    assert got == expected
    assert expected[0], "the run streamed nothing"

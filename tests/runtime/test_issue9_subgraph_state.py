"""A compiled subgraph added as a node writes its whole output, defaults included (#9, item 5).

LangGraph hands a node its state as an instance of the node's input schema (dataclass /
Pydantic), compiled subgraphs included; the subgraph's START writes that object's fields
(a dataclass: all of them; a Pydantic model: those not None, not defaulting to None, or set
explicitly), so its output, which the parent node writes as a whole, carries the fields with
defaults. A sibling writing one of them in the same step is then a concurrent update.
Differential: every case runs on LangGraph and lgtrace and must stream the same events.
"""

# no `from __future__ import annotations`: the runtimes read the local state classes' hints
import operator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

import pytest
from pydantic import BaseModel, Field

from lgtrace.graph import START, StateGraph

from ..differential.graphs import Case
from ..differential.harness import compare_invoke, compare_stream
from ..differential.normalize import CallSpec


@dataclass
class DState:
    log: Annotated[list, operator.add] = field(default_factory=list)
    last: str = ""
    opt: str | None = None


class PState(BaseModel):
    log: Annotated[list, operator.add] = Field(default_factory=list)
    last: str = ""
    opt: str | None = None


class TState(TypedDict, total=False):
    log: Annotated[list, operator.add]
    last: str
    opt: str | None


@dataclass
class DSubInput:
    """A subgraph input schema narrower than the parent's state."""

    log: Annotated[list, operator.add] = field(default_factory=list)


SCHEMAS = {"dataclass": DState, "pydantic": PState, "typeddict": TState}


def _subgraph_case(schema: Any, *, sibling: bool, narrow_input: bool = False) -> Case:
    def build(m: SimpleNamespace) -> tuple[Any, Any, Any]:
        sub = m.StateGraph(schema, input_schema=DSubInput) if narrow_input else m.StateGraph(schema)
        sub.add_node("inner", lambda s: {"log": ["s"]})
        sub.add_edge(m.START, "inner")
        parent = m.StateGraph(schema)
        parent.add_node("sub", sub.compile())
        parent.add_edge(m.START, "sub")
        if sibling:
            parent.add_node("sibling", lambda s: {"last": "x"})
            parent.add_edge(m.START, "sibling")
        return parent.compile(), {"log": ["i"]}, None

    label = f"{schema.__name__}-{'sibling' if sibling else 'alone'}{'-narrow' if narrow_input else ''}"
    return Case(name=f"issue9-subgraph-{label}", build=build, nested=True)


def _returns_instance_case(schema: Any) -> Case:
    """A plain node returning a state object: a dataclass writes its None fields too."""

    def build(m: SimpleNamespace) -> tuple[Any, Any, Any]:
        g = m.StateGraph(schema)
        g.add_node("a", lambda s: schema(log=["a"]))
        g.add_edge(m.START, "a")
        return g.compile(), {"log": ["i"]}, None

    return Case(name=f"issue9-returns-{schema.__name__}", build=build)


def _send_case(schema: Any, *, to_subgraph: bool) -> Case:
    """``Send`` hands its argument to the node as is: LangGraph maps only pull tasks' input."""

    def build(m: SimpleNamespace) -> tuple[Any, Any, Any]:
        g = m.StateGraph(schema)
        if to_subgraph:
            sub = m.StateGraph(schema)
            sub.add_node("inner", lambda s: {"log": ["s"]})
            sub.add_edge(m.START, "inner")
            g.add_node("w", sub.compile())
        else:
            g.add_node("w", lambda s: {"log": [type(s).__name__]})
        g.add_conditional_edges(m.START, lambda s: [m.Send("w", {"log": ["a"]})])
        return g.compile(), {"log": ["i"]}, None

    target = "subgraph" if to_subgraph else "node"
    return Case(name=f"issue9-send-to-{target}-{schema.__name__}", build=build, nested=to_subgraph)


CASES = [_subgraph_case(schema, sibling=sibling) for schema in SCHEMAS.values() for sibling in (False, True)]
CASES += [_subgraph_case(DState, sibling=False, narrow_input=True)]
CASES += [_returns_instance_case(DState), _returns_instance_case(PState)]

CALLS = [
    CallSpec(method=method, stream_mode=mode, subgraphs=subgraphs)
    for method in ("stream", "astream")
    for mode in (None, ("values", "updates", "tasks", "debug"))
    for subgraphs in (False, True)
]


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.ident)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_stream_matches_langgraph(case: Case, call: CallSpec) -> None:
    compare_stream(case, call)


SEND_CASES = [_send_case(DState, to_subgraph=t) for t in (False, True)]


# LangGraph maps pull tasks' input only: a Send's arg reaches the node as it was sent
@pytest.mark.parametrize("case", SEND_CASES, ids=lambda c: c.name)
def test_send_arg_reaches_node_unmapped(case: Case) -> None:
    compare_stream(case, CallSpec(stream_mode=("updates", "tasks")))


@pytest.mark.parametrize("method", ["invoke", "ainvoke"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_final_state_matches_langgraph(case: Case, method: str) -> None:
    compare_invoke(case, method)


# -- the facts, spelled out (these hold whatever the oracle says) ----------------------------


def _parent(schema: Any, *, sibling: bool) -> Any:
    sub = StateGraph(schema)
    sub.add_node("inner", lambda s: {"log": ["s"]})
    sub.add_edge(START, "inner")
    parent = StateGraph(schema)
    parent.add_node("sub", sub.compile())
    parent.add_edge(START, "sub")
    if sibling:
        parent.add_node("sibling", lambda s: {"last": "x"})
        parent.add_edge(START, "sibling")
    return parent.compile()


@pytest.mark.parametrize(
    ("schema", "update"),
    [
        (DState, {"log": ["i", "s"], "last": "", "opt": None}),
        (PState, {"log": ["i", "s"], "last": ""}),  # Pydantic: opt defaults to None, not set
        (TState, {"log": ["i", "s"]}),  # no defaults: only what the subgraph holds
    ],
    ids=["dataclass", "pydantic", "typeddict"],
)
def test_subgraph_node_update_carries_defaults(schema: Any, update: dict[str, Any]) -> None:
    graph = _parent(schema, sibling=False)
    assert list(graph.stream({"log": ["i"]})) == [{"sub": update}]
    final = graph.invoke({"log": ["i"]})
    assert final == {**update, "log": ["i", "i", "s"]}


@pytest.mark.parametrize("schema", [DState, PState], ids=["dataclass", "pydantic"])
def test_subgraph_default_conflicts_with_sibling_write(schema: Any) -> None:
    from lgtrace.errors import InvalidUpdateError

    with pytest.raises(InvalidUpdateError, match="At key 'last'") as info:
        _parent(schema, sibling=True).invoke({"log": ["i"]})
    assert "sibling" in str(info.value) and "sub" in str(info.value)

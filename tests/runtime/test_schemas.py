"""State schemas: TypedDict, dataclass, Pydantic; reducers; input/output/private schemas."""

import operator
from dataclasses import dataclass, field
from typing import Annotated, TypedDict

import pytest
from pydantic import BaseModel, ValidationError

from lgtrace.graph import END, START, StateGraph

from .conftest import chain

# -- TypedDict ------------------------------------------------------------------------------


class TDState(TypedDict):
    name: str
    count: int


def test_typeddict_state():
    seen = []

    def node(state):
        seen.append(state)
        return {"count": state["count"] + 1}

    out = chain(("n", node), state=TDState).invoke({"name": "a", "count": 1})
    assert out == {"name": "a", "count": 2}
    assert seen == [{"name": "a", "count": 1}] and type(seen[0]) is dict


# -- dataclass ------------------------------------------------------------------------------


@dataclass
class DCState:
    name: str
    count: int = 0
    tags: Annotated[list, operator.add] = field(default_factory=list)


def test_dataclass_state_node_receives_instance():
    seen = []

    def node(state):
        seen.append(state)
        return {"count": state.count + 1, "tags": ["n"]}

    out = chain(("n", node), state=DCState).invoke({"name": "a", "count": 1})
    assert out == {"name": "a", "count": 2, "tags": ["n"]}
    assert isinstance(seen[0], DCState)
    assert (seen[0].name, seen[0].count, seen[0].tags) == ("a", 1, [])


def test_dataclass_input_instance_and_node_returning_instance():
    def node(state: DCState):
        return DCState(name=state.name.upper(), count=state.count + 10)

    out = chain(("n", node), state=DCState).invoke(DCState(name="abc", count=1))
    assert out["name"] == "ABC" and out["count"] == 11


# -- Pydantic -------------------------------------------------------------------------------


class PState(BaseModel):
    name: str
    count: int = 0
    notes: Annotated[list[str], operator.add] = []


def test_pydantic_state_node_receives_model():
    seen = []

    def node(state):
        seen.append(state)
        return {"count": state.count + 1, "notes": ["n"]}

    out = chain(("n", node), state=PState).invoke({"name": "a", "count": 1})
    assert out == {"name": "a", "count": 2, "notes": ["n"]}
    assert isinstance(seen[0], PState) and seen[0].name == "a"


def test_pydantic_invalid_input_raises_validation_error():
    graph = chain(("n", lambda s: {}), state=PState)
    with pytest.raises(ValidationError):
        graph.invoke({"name": "a", "count": "not a number"})
    with pytest.raises(ValidationError):
        graph.invoke({"count": 1})  # missing required field


def test_pydantic_node_returning_model_instance():
    def node(state: PState):
        return PState(name=state.name * 2, count=state.count + 1)

    out = chain(("n", node), state=PState).invoke({"name": "ab", "count": 1})
    assert out["name"] == "abab" and out["count"] == 2


# -- reducers -------------------------------------------------------------------------------


class Acc(TypedDict, total=False):
    items: Annotated[list, operator.add]
    total: Annotated[int, operator.add]
    plain: str


def test_reducer_keys_start_empty_and_accumulate():
    seen = []

    def first(state):
        seen.append(dict(state))
        return {"items": [1], "total": 5}

    def second(state):
        seen.append(dict(state))
        return {"items": [2], "total": 1}

    out = chain(("first", first), ("second", second), state=Acc).invoke({"plain": "p"})
    assert seen[0] == {"items": [], "total": 0, "plain": "p"}
    assert out == {"items": [1, 2], "total": 6, "plain": "p"}


def test_parallel_writes_to_reducer_key_are_combined():
    g = StateGraph(Acc)
    for name in ("a", "b", "c"):
        g.add_node(name, lambda s, _n=name: {"items": [_n]})
        g.add_edge(START, name)
    out = g.compile().invoke({})
    assert sorted(out["items"]) == ["a", "b", "c"]


# -- input / output schemas -----------------------------------------------------------------


class Overall(TypedDict, total=False):
    question: str
    scratch: str
    answer: str


class In(TypedDict):
    question: str


class Out(TypedDict):
    answer: str


def _io_graph():
    g = StateGraph(Overall, input_schema=In, output_schema=Out)
    g.add_node("think", lambda s: {"scratch": f"thinking about {s['question']}"})
    g.add_node("reply", lambda s: {"answer": s["scratch"].upper()})
    g.add_edge(START, "think")
    g.add_edge("think", "reply")
    g.add_edge("reply", END)
    return g.compile()


def test_output_schema_filters_final_state():
    assert _io_graph().invoke({"question": "q"}) == {"answer": "THINKING ABOUT Q"}


def test_values_stream_shows_every_channel_unlike_invoke():
    # LangGraph: the output schema filters invoke()'s result, while stream_mode="values"
    # streams all state channels (its stream_channels)
    chunks = list(_io_graph().stream({"question": "q"}, stream_mode="values"))
    assert chunks == [
        {"question": "q"},
        {"question": "q", "scratch": "thinking about q"},
        {"question": "q", "scratch": "thinking about q", "answer": "THINKING ABOUT Q"},
    ]
    assert _io_graph().invoke({"question": "q"}, stream_mode="values") == {"answer": "THINKING ABOUT Q"}


def test_input_schema_rejects_keys_outside_it():
    with pytest.raises(ValueError, match="scratch"):
        _io_graph().invoke({"question": "q", "scratch": "sneaky"})


# -- private / narrowed node inputs ---------------------------------------------------------


class Wide(TypedDict, total=False):
    a: int
    b: int
    c: int


class OnlyA(TypedDict):
    a: int


class Private(TypedDict):
    secret: str


def test_node_annotated_with_narrow_typeddict_receives_only_its_keys():
    seen = []

    def narrow(state: OnlyA):
        seen.append(dict(state))
        return {"c": state["a"] * 10}

    out = chain(("narrow", narrow), state=Wide).invoke({"a": 1, "b": 2})
    assert seen == [{"a": 1}]
    assert out == {"a": 1, "b": 2, "c": 10}


def test_private_state_passes_between_nodes_but_not_to_output():
    seen = []

    def producer(state) -> Private:
        return {"secret": f"s{state['a']}"}

    def consumer(state: Private):
        seen.append(dict(state))
        return {"c": len(state["secret"])}

    out = chain(("producer", producer), ("consumer", consumer), state=Wide).invoke({"a": 7})
    assert seen == [{"secret": "s7"}]
    assert out == {"a": 7, "c": 2}


def test_values_stream_includes_private_channels():
    def producer(state) -> Private:
        return {"secret": f"s{state['a']}"}

    def consumer(state: Private):
        return {"c": len(state["secret"])}

    graph = chain(("producer", producer), ("consumer", consumer), state=Wide)
    assert list(graph.stream({"a": 7}, stream_mode="values")) == [
        {"a": 7},
        {"a": 7, "secret": "s7"},
        {"a": 7, "secret": "s7", "c": 2},
    ]


def test_input_schema_argument_of_add_node():
    seen = []
    g = StateGraph(Wide)
    g.add_node("n", lambda s: seen.append(dict(s)) or {}, input_schema=OnlyA)
    g.add_edge(START, "n")
    g.compile().invoke({"a": 3, "b": 4})
    assert seen == [{"a": 3}]

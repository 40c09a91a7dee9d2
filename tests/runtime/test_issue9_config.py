"""The run config is checked at the graph's entry, naming the key at fault (#9, item 7a).

Where LangGraph 1.2.22 raises (``recursion_limit=0``, ``max_concurrency=0`` under ``invoke``)
lgtrace raises the same error type; where LangGraph runs with a sensible outcome (tags as a
tuple, a UUID string as ``run_id``) lgtrace runs too; where LangGraph runs with a nonsensical
outcome (``tags="oops"`` becomes the tags ``o, o, p, s``) or fails deep inside with an
``AttributeError``, lgtrace raises a clear ``TypeError`` / ``ValueError`` up front.
"""

# no `from __future__ import annotations`: the runtimes read the local state class's hints
import asyncio
import uuid
from collections.abc import Callable
from typing import Any, TypedDict

import pytest
from langchain_core.callbacks import BaseCallbackHandler

from lgtrace.graph import START, StateGraph
from lgtrace.runtime.config_check import check_config

from ..differential.harness import impl


class S(TypedDict, total=False):
    x: int


def _graph(m: Any = None) -> Any:
    m = m or impl("lgtrace")
    g = m.StateGraph(S)
    g.add_node("a", lambda s: {"x": s["x"] + 1})
    g.add_node("b", lambda s: {"x": s["x"] + 1})
    g.add_edge(m.START, "a")
    g.add_edge("a", "b")
    return g.compile()


async def _aconsume(iterator: Any) -> list[Any]:
    return [item async for item in iterator]


async def _acollect_as_completed(graph: Any, config: Any) -> list[Any]:
    return [item async for item in graph.abatch_as_completed([{"x": 0}, {"x": 1}], config)]


ENTRIES: dict[str, Callable[[Any, Any], Any]] = {
    "invoke": lambda g, c: g.invoke({"x": 0}, c),
    "ainvoke": lambda g, c: asyncio.run(g.ainvoke({"x": 0}, c)),
    "stream": lambda g, c: list(g.stream({"x": 0}, c)),
    "astream": lambda g, c: asyncio.run(_aconsume(g.astream({"x": 0}, c))),
    "invoke-updates": lambda g, c: g.invoke({"x": 0}, c, stream_mode="updates"),
    "batch": lambda g, c: g.batch([{"x": 0}, {"x": 1}], c),
    "batch-per-input": lambda g, c: g.batch([{"x": 0}, {"x": 1}], [{}, c]),
    "abatch": lambda g, c: asyncio.run(g.abatch([{"x": 0}, {"x": 1}], c)),
    "batch_as_completed": lambda g, c: list(g.batch_as_completed([{"x": 0}, {"x": 1}], c)),
    "abatch_as_completed": lambda g, c: asyncio.run(_acollect_as_completed(g, c)),
}


BAD = [
    # (config, error type, the message names...)
    ({"tags": "oops"}, TypeError, r"config\['tags'\] must be a list of strings, got str 'oops'; for one tag"),
    ({"tags": ["ok", 1]}, TypeError, r"config\['tags'\]\[1\] must be a str, got int 1"),
    ({"metadata": "m"}, TypeError, r"config\['metadata'\] must be a dict"),
    ({"metadata": [("k", "v")]}, TypeError, r"config\['metadata'\] must be a dict"),
    ({"configurable": "c"}, TypeError, r"config\['configurable'\] must be a dict"),
    ({"callbacks": "cb"}, TypeError, r"config\['callbacks'\] must be a list of callback handlers"),
    ({"callbacks": [object()]}, TypeError, r"config\['callbacks'\]\[0\] must be a callback handler"),
    ({"recursion_limit": 0}, ValueError, r"config\['recursion_limit'\] must be at least 1"),
    ({"recursion_limit": "5"}, TypeError, r"config\['recursion_limit'\] must be an int"),
    ({"recursion_limit": 2.0}, TypeError, r"config\['recursion_limit'\] must be an int"),
    ({"recursion_limit": True}, TypeError, r"config\['recursion_limit'\] must be an int"),
    ({"max_concurrency": 0}, ValueError, r"config\['max_concurrency'\] must be at least 1"),
    ({"max_concurrency": -3}, ValueError, r"config\['max_concurrency'\] must be at least 1"),
    ({"max_concurrency": "2"}, TypeError, r"config\['max_concurrency'\] must be an int"),
    ({"max_concurrency": 1.5}, TypeError, r"config\['max_concurrency'\] must be an int"),
    ({"run_name": 5}, TypeError, r"config\['run_name'\] must be a str"),
    ({"run_id": 5}, TypeError, r"config\['run_id'\] must be a uuid.UUID"),
    ({"run_id": "abc"}, ValueError, r"config\['run_id'\] must be a UUID, got 'abc'"),
    ("not-a-config", TypeError, r"config must be a dict \(a RunnableConfig\) or None, got str"),
]


@pytest.mark.parametrize("entry", list(ENTRIES))
@pytest.mark.parametrize(("config", "error", "message"), BAD, ids=lambda v: repr(v)[:40])
def test_bad_config_is_rejected_naming_the_key(config: Any, error: type, message: str, entry: str) -> None:
    graph = _graph()
    with pytest.raises(error, match=message):
        ENTRIES[entry](graph, config)


# -- same outcome as LangGraph -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "error"),
    [({"recursion_limit": 0}, ValueError), ({"recursion_limit": -1}, ValueError)],
)
@pytest.mark.parametrize("entry", ["invoke", "ainvoke", "stream", "astream", "batch"])
def test_error_type_matches_langgraph(config: dict[str, Any], error: type, entry: str) -> None:
    for prefix in ("langgraph", "lgtrace"):
        with pytest.raises(error, match="recursion_limit"):
            ENTRIES[entry](_graph(impl(prefix)), config)


@pytest.mark.parametrize("entry", ["invoke", "stream", "batch"])
def test_max_concurrency_zero_is_a_value_error_as_in_langgraph(entry: str) -> None:
    with pytest.raises(ValueError):  # LangGraph: "max_workers must be greater than 0"
        ENTRIES[entry](_graph(impl("langgraph")), {"max_concurrency": 0})
    with pytest.raises(ValueError, match=r"config\['max_concurrency'\]"):
        ENTRIES[entry](_graph(impl("lgtrace")), {"max_concurrency": 0})


def _tasks_metadata(prefix: str, config: dict[str, Any]) -> list[Any]:
    chunks = _graph(impl(prefix)).stream({"x": 0}, config, stream_mode="tasks")
    return [c["metadata"] for c in chunks if "metadata" in c]


def test_tuple_of_tags_runs_as_a_list_as_in_langgraph() -> None:
    config = {"tags": ("t1", "t2")}
    assert _tasks_metadata("lgtrace", config) == _tasks_metadata("langgraph", config)
    assert _tasks_metadata("lgtrace", config)[0] == {"tags": ["t1", "t2"]}


class _Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.starts: list[tuple[Any, Any, list[str] | None]] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.starts.append((kwargs.get("name"), kwargs["run_id"], kwargs.get("tags")))


@pytest.mark.parametrize("callbacks_as", [list, tuple])
def test_uuid_string_run_id_and_tuple_of_handlers_run(callbacks_as: type) -> None:
    run_id = uuid.uuid4()
    recorder = _Recorder()
    config = {"run_id": str(run_id), "callbacks": callbacks_as([recorder]), "tags": ("t",)}
    assert _graph().invoke({"x": 0}, config) == {"x": 2}
    graph_name, graph_run_id, tags = recorder.starts[0]
    # handlers key runs by UUID: the string is passed on as the UUID it spells
    assert (graph_name, graph_run_id, tags) == ("LangGraph", run_id, ["t"])
    assert type(graph_run_id) is uuid.UUID


def test_good_config_passes_through_unchanged() -> None:
    config = {
        "tags": ["a"],
        "metadata": {"k": 1},
        "configurable": {"thread_id": "1"},
        "callbacks": [_Recorder()],
        "recursion_limit": 5,
        "max_concurrency": None,
        "run_name": "r",
        "run_id": uuid.uuid4(),
        "thread_id": "extra keys are left to ensure_config",
    }
    assert check_config(config) is config
    assert check_config(None) is None
    assert check_config({}) == {}


def test_normalised_config_is_a_copy() -> None:
    config = {"tags": ("a",), "run_id": "6f1c7a1e-5b1f-4e4f-9a0e-2d8f0c1b2a3d"}
    checked = check_config(config)
    assert checked == {"tags": ["a"], "run_id": uuid.UUID(config["run_id"])}
    assert config == {"tags": ("a",), "run_id": "6f1c7a1e-5b1f-4e4f-9a0e-2d8f0c1b2a3d"}


def test_subgraph_runs_with_the_config_its_parent_hands_down() -> None:
    sub = StateGraph(S)
    sub.add_node("inner", lambda s: {"x": s["x"] * 10})
    sub.add_edge(START, "inner")
    parent = StateGraph(S)
    parent.add_node("sub", sub.compile())
    parent.add_edge(START, "sub")
    config = {"tags": ("t",), "callbacks": [_Recorder()], "recursion_limit": 7}
    assert parent.compile().invoke({"x": 1}, config) == {"x": 10}


# -- intentional differences, LangGraph's side for reference ------------------------------------


def test_langgraph_splits_a_string_of_tags_into_characters() -> None:
    assert _tasks_metadata("langgraph", {"tags": "oops"})[0] == {"tags": ["o", "o", "p", "s"]}


def test_langgraph_fails_deep_inside_on_a_wrong_metadata_type() -> None:
    with pytest.raises(AttributeError, match="'str' object has no attribute 'items'"):
        _graph(impl("langgraph")).invoke({"x": 0}, {"metadata": "m"})

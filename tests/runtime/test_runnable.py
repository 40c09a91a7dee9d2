"""The compiled graph is a langchain-core Runnable: invoke/batch/config/callbacks."""

import asyncio
import operator
import uuid
from typing import Annotated, Any, TypedDict

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import Runnable

from lgtrace.config import get_config
from lgtrace.graph import END, START, StateGraph

from .conftest import chain


class Recorder(BaseCallbackHandler):
    """Records every chain / chat-model start with its identity and context."""

    def __init__(self):
        self.chains: list[dict[str, Any]] = []
        self.models: list[dict[str, Any]] = []
        self.ended: set[uuid.UUID] = set()
        self.errors: list[BaseException] = []

    def on_chain_start(
        self, serialized, inputs, *, run_id, parent_run_id=None, tags=None, metadata=None, **kwargs
    ):
        self.chains.append(
            {
                "name": kwargs.get("name"),
                "run_id": run_id,
                "parent": parent_run_id,
                "tags": list(tags or []),
                "metadata": dict(metadata or {}),
            }
        )

    def on_chain_end(self, outputs, *, run_id, **kwargs):
        self.ended.add(run_id)

    def on_chain_error(self, error, *, run_id, **kwargs):
        self.ended.add(run_id)
        self.errors.append(error)

    def on_chat_model_start(
        self, serialized, messages, *, run_id, parent_run_id=None, tags=None, metadata=None, **kwargs
    ):
        self.models.append(
            {
                "run_id": run_id,
                "parent": parent_run_id,
                "tags": list(tags or []),
                "metadata": dict(metadata or {}),
            }
        )

    def named(self, name):
        runs = [c for c in self.chains if c["name"] == name]
        assert len(runs) == 1, (name, self.chains)
        return runs[0]


class Counter(TypedDict, total=False):
    x: int
    log: Annotated[list, operator.add]


def _incr(state):
    return {"x": state["x"] + 1, "log": ["incr"]}


def _double(state):
    return {"x": state["x"] * 2, "log": ["double"]}


def _graph(**compile_kw):
    return chain(("incr", _incr), ("double", _double), state=Counter, **compile_kw)


def test_is_a_runnable_and_invoke_returns_final_state():
    graph = _graph()
    assert isinstance(graph, Runnable)
    assert graph.invoke({"x": 1}) == {"x": 4, "log": ["incr", "double"]}


def test_batch_and_abatch_with_different_inputs():
    graph = _graph()
    expected = [{"x": 4, "log": ["incr", "double"]}, {"x": 22, "log": ["incr", "double"]}]
    assert graph.batch([{"x": 1}, {"x": 10}]) == expected
    assert asyncio.run(graph.abatch([{"x": 1}, {"x": 10}])) == expected


def test_ainvoke_and_stream_default_mode_is_updates():
    graph = _graph()
    assert asyncio.run(graph.ainvoke({"x": 1})) == {"x": 4, "log": ["incr", "double"]}
    assert list(graph.stream({"x": 1})) == [
        {"incr": {"x": 2, "log": ["incr"]}},
        {"double": {"x": 4, "log": ["double"]}},
    ]


def test_callbacks_graph_run_and_node_runs():
    rec = Recorder()
    graph = _graph().with_config(tags=["team-a"], metadata={"user": "u1"})
    assert graph.invoke({"x": 1}, {"callbacks": [rec]}) == {"x": 4, "log": ["incr", "double"]}

    root = rec.named("LangGraph")
    assert root["parent"] is None
    assert "team-a" in root["tags"]
    assert root["metadata"]["user"] == "u1"
    for step, name in enumerate(["incr", "double"], start=1):
        node = rec.named(name)
        assert node["parent"] == root["run_id"]
        assert f"graph:step:{step}" in node["tags"]
        assert "team-a" in node["tags"]
        md = node["metadata"]
        assert md["user"] == "u1"
        assert md["langgraph_step"] == step
        assert md["langgraph_node"] == name
        assert md["langgraph_triggers"] == (f"branch:to:{name}",)
        assert md["langgraph_path"] == ("__pregel_pull", name)
        ns = md["langgraph_checkpoint_ns"]
        assert ns.startswith(f"{name}:") and uuid.UUID(ns.split(":", 1)[1])
    # every run that started also ended
    assert {c["run_id"] for c in rec.chains} <= rec.ended
    assert rec.errors == []


def test_callbacks_use_compile_name_and_run_name():
    rec = Recorder()
    _graph(name="my_agent").invoke({"x": 1}, {"callbacks": [rec]})
    assert rec.named("my_agent")["parent"] is None
    rec = Recorder()
    _graph().invoke({"x": 1}, {"callbacks": [rec], "run_name": "custom_run"})
    assert rec.named("custom_run")["parent"] is None


async def test_callbacks_under_astream_and_parallel_nodes():
    rec = Recorder()
    g = StateGraph(Counter)
    g.add_node("left", lambda s: {"log": ["l"]})
    g.add_node("right", lambda s: {"log": ["r"]})
    g.add_edge(START, "left")
    g.add_edge(START, "right")
    graph = g.compile()
    chunks = [c async for c in graph.astream({"x": 0}, {"callbacks": [rec], "metadata": {"k": 1}})]
    assert sorted(chunks, key=str) == [{"left": {"log": ["l"]}}, {"right": {"log": ["r"]}}]
    root = rec.named("LangGraph")
    for name in ("left", "right"):
        node = rec.named(name)
        assert node["parent"] == root["run_id"]
        assert node["metadata"]["k"] == 1 and node["metadata"]["langgraph_step"] == 1
        assert "graph:step:1" in node["tags"]


def test_node_error_is_reported_to_callbacks():
    rec = Recorder()

    def bad(state):
        raise KeyError("missing thing")

    graph = chain(("bad", bad), state=Counter)
    try:
        graph.invoke({"x": 1}, {"callbacks": [rec]})
    except KeyError:
        pass
    else:  # pragma: no cover
        raise AssertionError("expected KeyError")
    assert {c["name"] for c in rec.chains} >= {"LangGraph", "bad"}
    assert all(isinstance(e, KeyError) for e in rec.errors) and len(rec.errors) >= 2
    assert {c["run_id"] for c in rec.chains} <= rec.ended


def _chat_node(state):
    model = GenericFakeChatModel(messages=iter([AIMessage(content="hello")]))
    reply = model.invoke("hi")  # no config passed: it must come from the context
    return {"log": [reply.content]}


async def _achat_node(state):
    model = GenericFakeChatModel(messages=iter([AIMessage(content="hello")]))
    reply = await model.ainvoke("hi")
    return {"log": [reply.content]}


def _check_model_run(rec, node_name="chat"):
    assert len(rec.models) == 1
    node = rec.named(node_name)
    model = rec.models[0]
    assert model["parent"] == node["run_id"]
    md = model["metadata"]
    assert md["user"] == "u2"
    assert md["langgraph_node"] == node_name
    assert md["langgraph_step"] == 1
    assert md["langgraph_checkpoint_ns"] == node["metadata"]["langgraph_checkpoint_ns"]
    assert "team" in model["tags"]  # the user's (inheritable) tags; graph:step:N is the node's own


def test_chat_model_in_node_inherits_node_config():
    rec = Recorder()
    graph = chain(("chat", _chat_node), state=Counter)
    out = graph.invoke({"x": 0}, {"callbacks": [rec], "metadata": {"user": "u2"}, "tags": ["team"]})
    assert out["log"] == ["hello"]
    _check_model_run(rec)


def test_chat_model_in_node_inherits_node_config_when_streaming():
    rec = Recorder()
    graph = chain(("chat", _chat_node), state=Counter)
    list(
        graph.stream(
            {"x": 0}, {"callbacks": [rec], "metadata": {"user": "u2"}, "tags": ["team"]}, stream_mode="custom"
        )
    )
    _check_model_run(rec)


async def test_chat_model_in_async_node_inherits_node_config():
    rec = Recorder()
    graph = chain(("chat", _achat_node), state=Counter)
    out = await graph.ainvoke({"x": 0}, {"callbacks": [rec], "metadata": {"user": "u2"}, "tags": ["team"]})
    assert out["log"] == ["hello"]
    _check_model_run(rec)


def test_get_config_inside_node():
    seen = {}

    def node(state):
        config = get_config()
        seen.update(config=config)
        return {}

    graph = chain(("probe", node), state=Counter)
    graph.invoke({"x": 0}, {"configurable": {"thread_id": "t-1"}, "metadata": {"m": 2}, "tags": ["tg"]})
    config = seen["config"]
    md = config["metadata"]
    assert md["langgraph_node"] == "probe" and md["m"] == 2
    assert config["configurable"]["checkpoint_ns"] == md["langgraph_checkpoint_ns"]
    assert config["configurable"]["thread_id"] == "t-1"
    assert "tg" in config.get("tags", [])


def test_config_parameter_of_node_matches_get_config():
    seen = []

    def node(state, config):
        seen.append((config, get_config()))
        return {}

    chain(("probe", node), state=Counter).invoke({"x": 0})
    ((given, ambient),) = seen
    assert given["metadata"]["langgraph_checkpoint_ns"] == ambient["metadata"]["langgraph_checkpoint_ns"]
    assert given["configurable"]["checkpoint_ns"] == ambient["configurable"]["checkpoint_ns"]


def test_recursion_limit_and_conditional_edges_via_config():
    g = StateGraph(Counter)
    g.add_node("incr", _incr)
    g.add_edge(START, "incr")
    g.add_conditional_edges("incr", lambda s: END if s["x"] >= 5 else "incr", ["incr", END])
    graph = g.compile()
    assert graph.invoke({"x": 0})["x"] == 5
    assert graph.with_config(recursion_limit=10).invoke({"x": 0})["x"] == 5

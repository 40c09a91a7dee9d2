"""``TracePolicy``: a node's run records transformed input/output; the node, the stream and the
``messages`` mode are unaffected; a raising processor records the value as is."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage

from lgtrace.graph import START, MessagesState, StateGraph
from lgtrace.types import TracePolicy, omit_payload

from ..otel.test_spans import Tracing


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.starts: dict[str, Any] = {}
        self.ends: dict[str, Any] = {}
        self.names: dict[UUID, str] = {}

    def on_chain_start(self, serialized, inputs, *, run_id, **kwargs):
        self.names[run_id] = kwargs.get("name")
        self.starts[kwargs.get("name")] = inputs

    def on_chain_end(self, outputs, *, run_id, **kwargs):
        self.ends[self.names.get(run_id)] = outputs


def _broken(_: Any) -> Any:
    raise RuntimeError("processor broke")


def _graph() -> Any:
    def secret(state: MessagesState):
        return {"messages": [AIMessage("the secret answer", id="a1")]}

    def other(state: MessagesState):
        return {"messages": [AIMessage("plain", id="a2")]}

    policy = TracePolicy(process_inputs=omit_payload, process_outputs=lambda out: {"redacted": True})
    return (
        StateGraph(MessagesState)
        .add_node("secret", secret, trace_policy=policy)
        .add_node("other", other, trace_policy=TracePolicy(process_outputs=_broken))
        .add_edge(START, "secret")
        .add_edge("secret", "other")
        .compile()
    )


def test_the_run_records_what_the_policy_says_and_nothing_else_changes():
    recorder = Recorder()
    chunks = list(
        _graph().stream(
            {"messages": [("user", "hi")]}, {"callbacks": [recorder]}, stream_mode=["messages", "values"]
        )
    )
    assert recorder.starts["secret"] == {}
    assert recorder.ends["secret"] == {"redacted": True}
    assert recorder.ends["other"]["messages"][0].content == "plain"  # the processor raised: as is
    messages = [c[1][0].content for c in chunks if c[0] == "messages"]
    assert messages == ["the secret answer", "plain"]  # the messages mode still sees the real output
    assert [m.content for m in chunks[-1][1]["messages"]] == ["hi", "the secret answer", "plain"]


def test_the_otel_span_of_the_node_carries_the_recorded_payload():
    tracing = Tracing(capture_content=True)
    _graph().invoke({"messages": [("user", "hi")]}, tracing.config)
    (secret,) = tracing.named("secret")
    (other,) = tracing.named("other")
    assert "the secret answer" not in " ".join(str(v) for v in secret.attributes.values())
    assert "plain" in " ".join(str(v) for v in other.attributes.values())  # content capture works

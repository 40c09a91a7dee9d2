"""Trace a tool-calling agent with OpenTelemetry and look at it in Arize Phoenix.

Starts Phoenix on 127.0.0.1 (needs ``pip install arize-phoenix``) unless
``OTEL_EXPORTER_OTLP_ENDPOINT`` already points at a collector (Jaeger, Tempo,
Langfuse, a running Phoenix: see integrations/README.md), streams the agent's answer,
exports the spans over OTLP/HTTP, says how many reached the collector (a collector
that is down costs at most ``LGTRACE_OTLP_EXIT_TIMEOUT`` seconds, default 2, at exit)
and prints the span tree read back from Phoenix, with token counts and time to first
chunk of the streamed model calls.

    python examples/otel_tracing.py            # add --keep to leave Phoenix running
"""

import os
import sys

from _demo import chat_model
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool

from lgtrace.otel import OTelCallbackHandler, configure_otlp
from lgtrace.prebuilt import create_react_agent


@tool
def get_items(place: str) -> str:
    """List items one might find in a place."""
    return "books, pencils, pictures"


def main() -> None:
    phoenix = None
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from lgtrace.testing.phoenix import phoenix_installed, start_phoenix

        if not phoenix_installed():
            sys.exit("Set OTEL_EXPORTER_OTLP_ENDPOINT, or `pip install arize-phoenix` to start one here.")
        print("starting Phoenix on 127.0.0.1 ...", flush=True)
        phoenix = start_phoenix()
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = phoenix.base_url
    # shutdown() (or the interpreter's exit) waits at most exit_timeout seconds for the collector
    tracer_provider, _ = configure_otlp("lgtrace-demo", metrics_enabled=phoenix is None)
    handler = OTelCallbackHandler()
    agent = create_react_agent(chat_model(), [get_items], name="office_agent")
    try:
        print("answer: ", end="", flush=True)
        question = {"messages": [HumanMessage("what items are in the office?")]}
        for chunk, meta in agent.stream(question, {"callbacks": [handler]}, stream_mode="messages"):
            if meta["langgraph_node"] == "agent" and isinstance(chunk.content, str):
                print(chunk.content, end="", flush=True)
        print()
    finally:
        tracer_provider.shutdown()  # exports what is queued (bounded), then says what became of it
    print(tracer_provider.export_stats.summary())
    if phoenix is None:
        return
    try:
        spans = phoenix.spans("default", min_count=7)
        children: dict[str | None, list[dict]] = {}
        for span in spans:
            children.setdefault(span["parent_id"], []).append(span)

        def show(parent: str | None, depth: int) -> None:
            for span in children.get(parent, []):
                attributes = span["attributes"]
                extra = ""
                if attributes.get("llm.token_count.total"):
                    extra += f"  [{attributes['llm.token_count.total']} tokens"
                    first = attributes.get("gen_ai.response.time_to_first_chunk")
                    extra += f", first chunk after {first * 1000:.0f} ms]" if first else "]"
                print(f"{'  ' * depth}{span['name']}  ({span['span_kind']}){extra}")
                show(span["span_id"], depth + 1)

        print(f"\nspan tree as stored by Phoenix ({phoenix.base_url}):")
        show(None, 0)
        if "--keep" in sys.argv:
            input(f"\nPhoenix UI: {phoenix.base_url}  (press Enter to stop it) ")
    finally:
        phoenix.stop()


main()

"""Headline demo: stream LLM tokens from inside graph nodes (stream_mode="messages").

Two parallel nodes call a chat model with plain ``.invoke()``; lgtrace's streaming
tracer turns the model's callbacks into ``(message_chunk, metadata)`` items as the
tokens arrive, interleaved across nodes. Then the same graph filtered to one node,
and an async graph filtered to one LLM invocation by its tags.

    python examples/stream_tokens.py
"""

import asyncio
from typing import TypedDict

from _demo import chat_model

from lgtrace.graph import START, StateGraph

model = chat_model()


class State(TypedDict):
    topic: str
    joke: str
    poem: str


def write_joke(state: State):
    joke_response = model.invoke([{"role": "user", "content": f"Write a joke about {state['topic']}"}])
    return {"joke": joke_response.content}


def write_poem(state: State):
    poem_response = model.invoke([{"role": "user", "content": f"Write a short poem about {state['topic']}"}])
    return {"poem": poem_response.content}


graph = (
    StateGraph(State)
    .add_node(write_joke)
    .add_node(write_poem)
    .add_edge(START, "write_joke")
    .add_edge(START, "write_poem")
    .compile()
)

print("== every token, with the node it came from")
for msg, metadata in graph.stream({"topic": "cats"}, stream_mode="messages"):
    if msg.content:
        print(f"[{metadata['langgraph_node']}] {msg.content!r}")

print("\n== only write_poem")
for msg, metadata in graph.stream({"topic": "cats"}, stream_mode="messages"):
    if msg.content and metadata["langgraph_node"] == "write_poem":
        print(msg.content, end="|", flush=True)
print()

joke_model = chat_model(tags=["joke"])
poem_model = chat_model(tags=["poem"])


async def call_model(state, config):
    topic = state["topic"]
    joke_response = await joke_model.ainvoke(
        [{"role": "user", "content": f"Write a joke about {topic}"}], config
    )
    poem_response = await poem_model.ainvoke(
        [{"role": "user", "content": f"Write a short poem about {topic}"}], config
    )
    return {"joke": joke_response.content, "poem": poem_response.content}


async_graph = StateGraph(State).add_node(call_model).add_edge(START, "call_model").compile()


async def main() -> None:
    print("\n== async, only the LLM invocation tagged 'joke'")
    metadata = {}
    async for msg, metadata in async_graph.astream({"topic": "cats"}, stream_mode="messages"):
        if msg.content and "joke" in metadata.get("tags", []):
            print(msg.content, end="|", flush=True)
    print("\n\n== metadata of the last chunk")
    for key in sorted(metadata):
        print(f"  {key}: {metadata[key]!r}")


asyncio.run(main())

"""LLM tokens without LangChain: a raw ``openai`` client streams into ``custom`` mode.

The node passes ``(chunk, metadata)`` tuples to ``writer``; the consumer filters by tag.

    python examples/without_langchain.py
"""

import asyncio
from typing import TypedDict

from _demo import MODEL, openai_client

from lgtrace.graph import START, StateGraph

client = openai_client()


async def stream_tokens(model_name: str, messages: list[dict]):
    response = await client.chat.completions.create(messages=messages, model=model_name, stream=True)
    role = None
    async for chunk in response:
        delta = chunk.choices[0].delta
        if delta.role is not None:
            role = delta.role
        if delta.content:
            yield {"role": role, "content": delta.content}


class State(TypedDict):
    topic: str
    joke: str
    poem: str


async def call_model(state, config, writer):
    topic = state["topic"]
    joke = poem = ""
    async for msg_chunk in stream_tokens(MODEL, [{"role": "user", "content": f"Write a joke about {topic}"}]):
        joke += msg_chunk["content"]
        writer((msg_chunk, {**config["metadata"], "tags": ["joke"]}))
    async for msg_chunk in stream_tokens(
        MODEL, [{"role": "user", "content": f"Write a short poem about {topic}"}]
    ):
        poem += msg_chunk["content"]
        writer((msg_chunk, {**config["metadata"], "tags": ["poem"]}))
    return {"joke": joke, "poem": poem}


graph = StateGraph(State).add_node(call_model).add_edge(START, "call_model").compile()


async def main() -> None:
    print("== every token")
    last_metadata: dict = {}
    async for msg, metadata in graph.astream({"topic": "cats"}, stream_mode="custom"):
        print(msg["content"], end="|", flush=True)
        last_metadata = metadata
    print(f"\n\n== metadata: node={last_metadata['langgraph_node']!r} tags={last_metadata['tags']!r}")
    print("\n== only the poem")
    async for msg, metadata in graph.astream({"topic": "cats"}, stream_mode="custom"):
        if "poem" in metadata.get("tags", []):
            print(msg["content"], end="|", flush=True)
    print()


asyncio.run(main())

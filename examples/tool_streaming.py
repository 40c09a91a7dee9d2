"""Streaming from inside a tool of a prebuilt ReAct agent: custom data and LLM tokens.

python examples/tool_streaming.py
"""

import asyncio

from _demo import chat_model
from langchain_core.messages import AIMessageChunk
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import tool

from lgtrace.config import get_stream_writer
from lgtrace.prebuilt import create_react_agent

llm = chat_model()


@tool
async def get_items(place: str) -> str:
    """Use this tool to list items one might find in a place you're asked about."""
    writer = get_stream_writer()
    items = ["books", "pencils", "pictures"]
    for chunk in items:
        writer({"custom_tool_data": chunk})
    return ", ".join(items)


@tool("get_items")
async def get_items_from_llm(place: str, config: RunnableConfig) -> str:
    """Use this tool to list items one might find in a place you're asked about."""
    response = await llm.ainvoke(
        [
            {
                "role": "user",
                "content": (
                    f"Can you tell me what kind of items i might find in the following place: '{place}'. "
                    "List at least 3 such items separating them by a comma. "
                    "And include a brief description of each item."
                ),
            }
        ],
        config,
    )
    return response.content


async def main() -> None:
    print("== custom data written inside the tool")
    agent = create_react_agent(llm, tools=[get_items])
    inputs = {"messages": [{"role": "user", "content": "what items are in the office?"}]}
    async for chunk in agent.astream(inputs, stream_mode="custom"):
        print(chunk)

    print("\n== LLM tokens generated inside the tool (langgraph_node == 'tools')")
    agent = create_react_agent(llm, tools=[get_items_from_llm])
    inputs = {"messages": [{"role": "user", "content": "what items are in the bedroom?"}]}
    async for msg, metadata in agent.astream(inputs, stream_mode="messages"):
        if isinstance(msg, AIMessageChunk) and msg.content and metadata["langgraph_node"] == "tools":
            print(msg.content, end="|", flush=True)
    print()


asyncio.run(main())

"""Human in the loop: an agent proposes a tool call, the graph stops for approval, and the
run is resumed with an edited argument.

The ``review`` node calls ``interrupt(...)``: the run streams ``{"__interrupt__": ...}`` and
ends, the thread waits in its checkpoint. ``Command(resume=...)`` answers it: ``review`` runs
again from its first line, ``interrupt()`` now returns the answer, and the tool runs with the
edited argument. Tokens and updates stream throughout.

    python examples/human_in_the_loop.py
"""

from typing import Literal

from _demo import chat_model
from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from lgtrace.checkpoint.memory import InMemorySaver
from lgtrace.graph import START, MessagesState, StateGraph
from lgtrace.prebuilt import ToolNode
from lgtrace.types import Command, interrupt


@tool
def get_items(place: str) -> str:
    """Use this tool to list items one might find in a place you're asked about."""
    return {"bedroom": "books, pencils, pictures", "kitchen": "pans, knives, spices"}.get(place, "nothing")


model = chat_model().bind_tools([get_items])


def agent(state: MessagesState):
    return {"messages": [model.invoke(state["messages"])]}


def route(state: MessagesState) -> Literal["review", "__end__"]:
    return "review" if state["messages"][-1].tool_calls else "__end__"


def review(state: MessagesState):
    proposed: AIMessage = state["messages"][-1]
    call = proposed.tool_calls[0]
    decision = interrupt({"question": "run this tool call?", "tool_call": call})
    if decision["action"] == "edit":  # same message id: add_messages replaces the proposal
        edited = {**call, "args": decision["args"]}
        return {"messages": [proposed.model_copy(update={"tool_calls": [edited]})]}
    return None


graph = (
    StateGraph(MessagesState)
    .add_node(agent)
    .add_node(review)
    .add_node("tools", ToolNode([get_items]))
    .add_edge(START, "agent")
    .add_conditional_edges("agent", route)
    .add_edge("review", "tools")
    .add_edge("tools", "agent")
    .compile(checkpointer=InMemorySaver())
)
config = {"configurable": {"thread_id": "review-1"}}


def show(chunks) -> None:
    for mode, chunk in chunks:
        if mode == "messages":
            message, metadata = chunk
            if message.content:
                print(f"[{metadata['langgraph_node']}] {message.content!r}")
        elif "__interrupt__" in chunk:
            (pending,) = chunk["__interrupt__"]
            print(f"paused: {pending.value['question']} {pending.value['tool_call']['args']}")
        else:
            print(f"update from {', '.join(chunk)}")


print("== run 1: the agent proposes a tool call, the graph stops for review")
show(
    graph.stream(
        {"messages": [("user", "what is in the bedroom")]}, config, stream_mode=["messages", "updates"]
    )
)

state = graph.get_state(config)
print(f"== waiting at {state.next} with {len(state.interrupts)} interrupt")

print("== run 2: resumed with an edited argument")
answer = Command(resume={"action": "edit", "args": {"place": "kitchen"}})
show(graph.stream(answer, config, stream_mode=["messages", "updates"]))

final = graph.get_state(config)
print("== tool result:", final.values["messages"][-2].content)
print("== next:", final.next)

"""The stream modes on a graph without LLMs: values, updates, debug, custom, and several at once.

python examples/stream_modes.py
"""

from typing import TypedDict

from lgtrace.graph import START, StateGraph
from lgtrace.types import StreamWriter


class State(TypedDict):
    topic: str
    joke: str


def refine_topic(state: State):
    return {"topic": state["topic"] + " and cats"}


def generate_joke(state: State, writer: StreamWriter):
    writer({"custom_key": "Writing custom data while generating a joke"})
    return {"joke": f"This is a joke about {state['topic']}"}


graph = (
    StateGraph(State)
    .add_node(refine_topic)
    .add_node(generate_joke)
    .add_edge(START, "refine_topic")
    .add_edge("refine_topic", "generate_joke")
    .compile()
)

for mode in ("values", "updates", "debug", "custom"):
    print(f"== stream_mode={mode!r}")
    for chunk in graph.stream({"topic": "ice cream"}, stream_mode=mode):
        print(chunk)

print("== stream_mode=['updates', 'custom']")
for stream_mode, chunk in graph.stream({"topic": "ice cream"}, stream_mode=["updates", "custom"]):
    print(f"Stream mode: {stream_mode}")
    print(chunk)

"""Persistence: a two-turn chat over one thread, saved in a SQLite file, then its history.

The graph is compiled with LangGraph's own ``SqliteSaver`` (re-exported as
``lgtrace.checkpoint.sqlite``). Each ``invoke`` with the same ``thread_id`` continues
the conversation: the second turn's model call sees the first turn's messages. The
thread is written in LangGraph's checkpoint format, so LangGraph itself can continue it.

    python examples/persistence.py
"""

import sqlite3
import tempfile
from pathlib import Path

from _demo import chat_model

from lgtrace.checkpoint.sqlite import SqliteSaver
from lgtrace.graph import START, MessagesState, StateGraph

model = chat_model()


def chat(state: MessagesState):
    return {"messages": [model.invoke(state["messages"])]}


path = Path(tempfile.mkdtemp()) / "threads.sqlite"
saver = SqliteSaver(sqlite3.connect(path, check_same_thread=False))
graph = StateGraph(MessagesState).add_node(chat).add_edge(START, "chat").compile(checkpointer=saver)
config = {"configurable": {"thread_id": "user-42"}}

print("== turn 1")
for update in graph.stream({"messages": [("user", "hi, I'm Ada")]}, config, stream_mode="updates"):
    print(update["chat"]["messages"][-1].content)

print("== turn 2 (same thread: the model gets the whole conversation)")
for mode, chunk in graph.stream(
    {"messages": [("user", "what is my name?")]}, config, stream_mode=["updates", "checkpoints"]
):
    if mode == "checkpoints":
        meta = chunk["metadata"]
        print(f"checkpoint step={meta['step']} source={meta['source']} next={chunk['next']}")
    else:
        print(chunk["chat"]["messages"][-1].content)

state = graph.get_state(config)
print("== state:", len(state.values["messages"]), "messages, next:", state.next)
for message in state.values["messages"]:
    print(f"  {message.type}: {message.content}")

print("== history (newest first)")
for snapshot in graph.get_state_history(config):
    print(
        f"  step={snapshot.metadata['step']:>2} source={snapshot.metadata['source']:<5} "
        f"messages={len(snapshot.values.get('messages', []))} next={snapshot.next}"
    )

rows = sqlite3.connect(path).execute("select count(*) from checkpoints").fetchone()[0]
print(f"== {rows} checkpoints in {path.name}")

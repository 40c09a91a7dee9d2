"""One turn of a chat on a PostgreSQL thread, in a process of its own (for ``test_processes``).

    python -m tests.checkpoint.pg_turn URL THREAD_ID TEXT [--report]

Runs the chat graph on ``THREAD_ID`` with the user message ``TEXT`` and prints one JSON
object: this process's pid and the turn's output messages; with ``--report`` also the
thread's ``get_state`` and ``get_state_history`` as this process reads them.

No ``from __future__ import annotations``: the runtime reads the state schema's annotations.
"""

import json
import os
import sys
from typing import Any

from lgtrace.checkpoint.postgres import PostgresSaver
from lgtrace.graph import START, MessagesState, StateGraph


def bot(state: MessagesState) -> dict[str, Any]:
    n = len(state["messages"])
    last = state["messages"][-1].content
    return {"messages": [{"role": "ai", "content": f"reply {n} to {last}"}]}


def chat(checkpointer: Any) -> Any:
    return (
        StateGraph(MessagesState)
        .add_node("bot", bot)
        .add_edge(START, "bot")
        .compile(checkpointer=checkpointer)
    )


def messages(msgs: Any) -> list[dict[str, Any]]:
    return [{"type": m.type, "content": m.content, "id": m.id} for m in msgs]


def snapshot(s: Any) -> dict[str, Any]:
    parent = (s.parent_config or {}).get("configurable", {}).get("checkpoint_id")
    return {
        "messages": messages(s.values.get("messages", [])),
        "next": list(s.next),
        "step": s.metadata["step"],
        "source": s.metadata["source"],
        "checkpoint_id": s.config["configurable"]["checkpoint_id"],
        "parent_id": parent,
    }


def main(url: str, thread_id: str, text: str, report: bool) -> dict[str, Any]:
    config = {"configurable": {"thread_id": thread_id}}
    with PostgresSaver.from_conn_string(url) as saver:
        saver.setup()
        graph = chat(saver)
        out = graph.invoke({"messages": [{"role": "user", "content": text}]}, config)
        result: dict[str, Any] = {"pid": os.getpid(), "output": messages(out["messages"])}
        if report:
            result["state"] = snapshot(graph.get_state(config))
            result["history"] = [snapshot(s) for s in graph.get_state_history(config)]
    return result


if __name__ == "__main__":
    args = sys.argv[1:]
    report = "--report" in args
    url, thread_id, text = (a for a in args if a != "--report")
    print(json.dumps(main(url, thread_id, text, report)))

"""Graphs for the thread scenarios (multi-turn, update_state, forks, failure and resume).

Like ``tests.differential.graphs``, every builder takes the namespace ``m`` (``langgraph.*``
or ``lgtrace.*``) and builds the same graph on either runtime, compiled with ``checkpointer``.
Builders whose node can fail take a :class:`Switch`: the node raises until the test flips it
("fixes the node"), and records its calls.

No ``from __future__ import annotations``: the runtimes read annotations at build time.
"""

import operator
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict


class Log(TypedDict, total=False):
    x: int
    log: Annotated[list, operator.add]


def chain(m, checkpointer, **compile_kwargs):
    """START -> a -> b (persistence.md §3, §7)."""

    def a(state: Log):
        return {"x": state.get("x", 0) + 1, "log": ["a"]}

    def b(state: Log):
        return {"x": state["x"] * 10, "log": ["b"]}

    return (
        m.StateGraph(Log)
        .add_node("a", a)
        .add_node("b", b)
        .add_edge(m.START, "a")
        .add_edge("a", "b")
        .compile(checkpointer=checkpointer, **compile_kwargs)
    )


def fan(m, checkpointer):
    """START -> a -> (b, c) -> join d."""

    def mk(tag):
        return lambda state: {"log": [tag]}

    b = m.StateGraph(Log)
    for n in ("a", "b", "c", "d"):
        b.add_node(n, mk(n))
    b.add_edge(m.START, "a")
    b.add_edge("a", "b")
    b.add_edge("a", "c")
    b.add_edge(["b", "c"], "d")
    return b.compile(checkpointer=checkpointer)


def loop(m, checkpointer):
    """START -> inc -> (inc | END) while x < limit: a conditional exit."""

    def inc(state: Log):
        return {"x": state["x"] + 1, "log": [f"inc{state['x']}"]}

    b = m.StateGraph(Log)
    b.add_node("inc", inc)
    b.add_edge(m.START, "inc")
    b.add_conditional_edges("inc", lambda s: "inc" if s["x"] < 3 else m.END)
    return b.compile(checkpointer=checkpointer)


def chat(m, checkpointer):
    """A MessagesState bot: add_messages across turns."""

    def bot(state: m.MessagesState):
        n = len(state["messages"])
        last = state["messages"][-1].content
        return {"messages": [{"role": "ai", "content": f"reply {n} to {last}", "id": f"ai-{n}"}]}

    return (
        m.StateGraph(m.MessagesState)
        .add_node("bot", bot)
        .add_edge(m.START, "bot")
        .compile(checkpointer=checkpointer)
    )


@dataclass
class Switch:
    """A node that fails until fixed; ``calls`` records every node call."""

    fixed: bool = False
    calls: list = field(default_factory=list)
    done: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition)

    def sorted_calls(self) -> list:
        # parallel nodes start in any order: compare the multiset
        return sorted(self.calls)

    def sibling_done(self) -> None:
        with self.cond:
            self.done += 1
            self.cond.notify_all()

    def wait_for_siblings(self, n: int = 1) -> None:
        """Let ``n`` siblings finish (and their writes reach the saver) before failing: which
        siblings finished before a failure decides what is cached, and would otherwise be
        timing. Both runtimes run the step's tasks concurrently; the timeout only keeps a
        runtime that does not from hanging (it then fails the comparison instead)."""
        with self.cond:
            self.cond.wait_for(lambda: self.done >= n, timeout=2)
        time.sleep(0.05)


def failing_pair(m, checkpointer, sw: Switch, **compile_kwargs):
    """START -> (bad, ok) -> after: ``bad`` raises until fixed (persistence.md §8).

    The join is safe under durability "async" (harness.JOIN_RACE): the failing step applies
    nothing, the resumed one adds to a set loaded from the saver that no pending put holds,
    and ``after`` consumes the join by replacing the set, not by changing it."""

    def ok(state: Log):
        sw.calls.append("ok")
        sw.sibling_done()
        return {"log": ["ok"]}

    def bad(state: Log):
        sw.calls.append("bad")
        if not sw.fixed:
            sw.wait_for_siblings()
            raise ValueError("bad is broken")
        return {"log": ["bad fixed"]}

    def after(state: Log):
        sw.calls.append("after")
        return {"x": len(state["log"])}

    b = m.StateGraph(Log)
    b.add_node("ok", ok)
    b.add_node("bad", bad)
    b.add_node("after", after)
    b.add_edge(m.START, "ok")
    b.add_edge(m.START, "bad")
    b.add_edge(["ok", "bad"], "after")
    return b.compile(checkpointer=checkpointer, **compile_kwargs)


class Work(TypedDict, total=False):
    items: list
    done: Annotated[list, operator.add]
    total: int


def failing_send(m, checkpointer, sw: Switch):
    """Send map over items: the worker for item 2 fails until fixed; the others are cached."""

    class One(TypedDict):
        item: int

    def worker(state: One):
        sw.calls.append(f"worker{state['item']}")
        if state["item"] == 2 and not sw.fixed:
            sw.wait_for_siblings(2)
            raise KeyError(f"item {state['item']}")
        sw.sibling_done()
        return {"done": [state["item"] * 10]}

    def reduce(state: Work):
        sw.calls.append("reduce")
        return {"total": sum(state["done"])}

    def mapper(state: Work):
        return [m.Send("worker", {"item": i}) for i in state["items"]]

    b = m.StateGraph(Work)
    b.add_node("worker", worker)
    b.add_node("reduce", reduce)
    b.add_conditional_edges(m.START, mapper, ["worker"])
    b.add_edge("worker", "reduce")
    return b.compile(checkpointer=checkpointer)


def failing_subgraph(m, checkpointer, sw: Switch):
    """pre -> sub(fine -> broken) -> post: ``broken`` raises until fixed; the subgraph
    inherits the parent's checkpointer, so resuming continues it from its own checkpoint."""

    def fine(state: Log):
        sw.calls.append("fine")
        return {"log": ["fine"]}

    def broken(state: Log):
        sw.calls.append("broken")
        if not sw.fixed:
            raise RuntimeError("broken inside the subgraph")
        return {"log": ["broken fixed"]}

    sub = (
        m.StateGraph(Log)
        .add_node("fine", fine)
        .add_node("broken", broken)
        .add_edge(m.START, "fine")
        .add_edge("fine", "broken")
        .compile()
    )

    def pre(state: Log):
        sw.calls.append("pre")
        return {"log": ["pre"]}

    def post(state: Log):
        sw.calls.append("post")
        return {"x": len(state["log"])}

    return (
        m.StateGraph(Log)
        .add_node("pre", pre)
        .add_node("sub", sub)
        .add_node("post", post)
        .add_edge(m.START, "pre")
        .add_edge("pre", "sub")
        .add_edge("sub", "post")
        .compile(checkpointer=checkpointer)
    )


def subgraph_chain(m, checkpointer):
    """top -> sub(s1 -> s2) -> end, no failure: inner checkpoints of a finished run."""

    sub = (
        m.StateGraph(Log)
        .add_node("s1", lambda s: {"log": ["s1"]})
        .add_node("s2", lambda s: {"log": ["s2"], "x": len(s["log"])})
        .add_edge(m.START, "s1")
        .add_edge("s1", "s2")
        .compile()
    )
    return (
        m.StateGraph(Log)
        .add_node("top", lambda s: {"log": ["top"]})
        .add_node("sub", sub)
        .add_node("end", lambda s: {"log": [f"end{s['x']}"]})
        .add_edge(m.START, "top")
        .add_edge("top", "sub")
        .add_edge("sub", "end")
        .compile(checkpointer=checkpointer)
    )


ALL_MODES = ("values", "updates", "checkpoints", "tasks", "debug", "custom")


def cfg(tid: str, **configurable: Any) -> dict:
    return {"configurable": {"thread_id": tid, **configurable}}

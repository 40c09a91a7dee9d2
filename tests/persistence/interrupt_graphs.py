"""Graphs for the human-in-the-loop scenarios (issue #11): ``interrupt()``, ``Command(resume=...)``,
``interrupt_before`` / ``interrupt_after``.

Every builder takes the namespace of :func:`hitl` (``tests.differential.graphs.load`` plus
``interrupt``, ``Interrupt``, ``GraphInterrupt`` and ``ToolNode`` of the same runtime) and a
:class:`Calls` log: a node that interrupts runs again from its first line on every resume,
so the calls say how often each node started and what ``interrupt()`` returned to it.

Parallel interrupts: LangGraph emits one ``updates`` and one ``values`` event per interrupted
task, in the order the tasks finish, and a ``values`` event is not a task event for the
harness's canonical order (``normalize.canonical_stream``). The interrupting siblings of one
step therefore finish in an order the scenario sets (:meth:`Calls.order`): each waits until
the ones before it have finished. Both runtimes run a step's tasks concurrently; the timeout only
keeps a runtime that does not from hanging (it then differs instead).

No ``from __future__ import annotations``: the runtimes read annotations at build time.
"""

import importlib
import operator
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from ..differential.harness import impl

_hitl: dict[str, SimpleNamespace] = {}


def _missing(name: str, prefix: str) -> Any:
    def missing(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{prefix} has no {name}")

    missing.__name__ = name
    return missing


def hitl(m: SimpleNamespace) -> SimpleNamespace:
    """``m`` (a ``tests.differential`` namespace) plus the human-in-the-loop API of its runtime.

    Names the runtime does not have (yet) are stand-ins that raise ``NotImplementedError``
    when used, so every scenario still runs and differs instead of failing at import.
    """
    prefix = m.prefix
    if prefix not in _hitl:
        types_ = importlib.import_module(f"{prefix}.types")
        errors = importlib.import_module(f"{prefix}.errors")
        prebuilt = importlib.import_module(f"{prefix}.prebuilt")

        class NoInterrupt(Exception):
            pass

        _hitl[prefix] = SimpleNamespace(
            **vars(m),
            interrupt=getattr(types_, "interrupt", None) or _missing("interrupt", prefix),
            Interrupt=getattr(types_, "Interrupt", None) or NoInterrupt,
            GraphInterrupt=getattr(errors, "GraphInterrupt", NoInterrupt),
            ToolNode=getattr(prebuilt, "ToolNode", None) or _missing("ToolNode", prefix),
        )
    return _hitl[prefix]


def namespace(prefix: str) -> SimpleNamespace:
    return hitl(impl(prefix))


# --------------------------------------------------------------------------- calls


@dataclass
class Calls:
    """Node calls in order (``sorted_calls`` for parallel nodes), and the order in which
    parallel siblings finish in the next run (see the module docstring and :meth:`order`)."""

    calls: list = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    sequence: tuple = ()
    finished: set = field(default_factory=set)

    def __call__(self, entry: str) -> None:
        with self.cond:
            self.calls.append(entry)

    def sorted_calls(self) -> list:
        return sorted(self.calls)

    def order(self, *names: str) -> None:
        """From now on, when the nodes ``names`` run in one step, they finish in this order;
        other nodes, and these in a step without the ones ordered before them, do not wait."""
        with self.cond:
            self.sequence = names
            self.finished = set()

    def turn(self, m: SimpleNamespace, name: str) -> None:
        """Wait until the nodes before ``name`` in :meth:`order` have passed :meth:`done` in
        this step (and a short while more, so that the runtime has handled their results)."""
        step = m.get_config()["metadata"]["langgraph_step"]
        with self.cond:
            if name not in self.sequence:
                return
            before = {(n, step) for n in self.sequence[: self.sequence.index(name)]}
            if not before:
                return
            ok = self.cond.wait_for(lambda: before <= self.finished, timeout=1)
        if ok:
            time.sleep(0.03)

    def done(self, m: SimpleNamespace, name: str) -> None:
        step = m.get_config()["metadata"]["langgraph_step"]
        with self.cond:
            self.finished.add((name, step))
            self.cond.notify_all()


def interrupt_in_turn(m: SimpleNamespace, calls: Calls, name: str, value: Any) -> Any:
    """``m.interrupt(value)`` once the siblings ordered before ``name`` have finished; then
    (answered or interrupted) ``name`` counts as finished."""
    calls.turn(m, name)
    try:
        return m.interrupt(value)
    finally:
        calls.done(m, name)


# --------------------------------------------------------------------------- states


class Ask(TypedDict, total=False):
    x: int
    log: Annotated[list, operator.add]
    answer: Any


class Par(TypedDict, total=False):
    log: Annotated[list, operator.add]
    res: Annotated[list, operator.add]


# --------------------------------------------------------------------------- graphs


def ask_chain(m, checkpointer, calls: Calls, *, then_b: bool = False, **compile_kwargs):
    """START -> a -> ask (-> b): ``ask`` asks ``interrupt("question")`` (persistence.md §6.1)."""

    def a(state: Ask):
        calls("a")
        return {"x": state.get("x", 0) + 1, "log": ["a"]}

    def ask(state: Ask):
        calls("ask-start")
        answer = interrupt_in_turn(m, calls, "ask", "question")
        calls(f"ask-resumed:{answer}")
        return {"answer": answer, "log": ["ask"]}

    def b(state: Ask):
        calls("b")
        calls.turn(m, "b")
        return {"log": [f"b:{state.get('answer')}"], "x": state["x"] * 10}

    g = m.StateGraph(Ask)
    g.add_node("a", a)
    g.add_node("ask", ask)
    g.add_edge(m.START, "a")
    g.add_edge("a", "ask")
    if then_b:
        g.add_node("b", b)
        g.add_edge("ask", "b")
    return g.compile(checkpointer=checkpointer, **compile_kwargs)


def plain_chain(m, checkpointer, calls: Calls, **compile_kwargs):
    """START -> a -> b -> c without ``interrupt()``: for static interrupts alone."""

    def mk(name):
        def node(state: Ask):
            calls(name)
            return {"log": [name], "x": state.get("x", 0) + 1}

        return node

    g = m.StateGraph(Ask)
    for name in ("a", "b", "c"):
        g.add_node(name, mk(name))
    g.add_edge(m.START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "c")
    return g.compile(checkpointer=checkpointer, **compile_kwargs)


def two_questions(m, checkpointer, calls: Calls):
    """START -> ask2 -> after: ``ask2`` asks twice; each resume re-runs it from the top."""

    def ask2(state: Ask):
        calls("ask2-start")
        first = m.interrupt({"q": "first?", "n": 1})
        calls(f"ask2-first:{first}")
        second = m.interrupt({"q": "second?", "n": 2})
        calls(f"ask2-second:{second}")
        return {"answer": [first, second], "log": ["ask2"]}

    def after(state: Ask):
        calls("after")
        return {"log": [f"after:{state['answer']}"]}

    return (
        m.StateGraph(Ask)
        .add_node("ask2", ask2)
        .add_node("after", after)
        .add_edge(m.START, "ask2")
        .add_edge("ask2", "after")
        .compile(checkpointer=checkpointer)
    )


def parallel_asks(m, checkpointer, calls: Calls):
    """START -> (p1, p2, quiet) -> after: ``quiet`` finishes, then p1, then p2 interrupt, in one
    step (``quiet``'s writes are pending with the interrupts, re-applied on resume, not re-run)."""

    def asker(name):
        def node(state: Par):
            calls(f"{name}-start")
            answer = interrupt_in_turn(m, calls, name, f"from {name}")
            calls(f"{name}-resumed:{answer}")
            return {"res": [f"{name}:{answer}"]}

        return node

    def quiet(state: Par):
        calls("quiet")
        calls.done(m, "quiet")
        return {"log": ["quiet"]}

    def after(state: Par):
        calls("after")
        return {"log": [f"after:{sorted(state['res'])}"]}

    g = m.StateGraph(Par)
    g.add_node("p1", asker("p1"))
    g.add_node("p2", asker("p2"))
    g.add_node("quiet", quiet)
    g.add_node("after", after)
    for n in ("p1", "p2", "quiet"):
        g.add_edge(m.START, n)
        g.add_edge(n, "after")
    return g.compile(checkpointer=checkpointer)


def send_asks(m, checkpointer, calls: Calls):
    """A Send map over ``items``: each ``worker`` push task interrupts (in item order), then
    ``reduce`` sums the answers."""

    class Work(TypedDict, total=False):
        items: list
        done: Annotated[list, operator.add]
        total: int

    class One(TypedDict):
        item: int

    def worker(state: One):
        i = state["item"]
        calls(f"worker{i}-start")
        answer = interrupt_in_turn(m, calls, f"worker{i}", {"item": i})
        calls(f"worker{i}-resumed:{answer}")
        return {"done": [i * answer]}

    def reduce(state: Work):
        calls("reduce")
        return {"total": sum(state["done"])}

    def mapper(state: Work):
        return [m.Send("worker", {"item": i}) for i in state["items"]]

    g = m.StateGraph(Work)
    g.add_node("worker", worker)
    g.add_node("reduce", reduce)
    g.add_conditional_edges(m.START, mapper, ["worker"])
    g.add_edge("worker", "reduce")
    return g.compile(checkpointer=checkpointer)


def sub_ask(m, calls: Calls, tag: str = "inner", **compile_kwargs):
    """s1 -> inner_ask: the innermost subgraph, compiled without a checkpointer (inherits)."""

    def s1(state: Ask):
        calls(f"{tag}-s1")
        return {"log": [f"{tag}-s1"]}

    def inner_ask(state: Ask):
        calls(f"{tag}-ask-start")
        answer = m.interrupt(f"{tag} question")
        calls(f"{tag}-ask-resumed:{answer}")
        return {"answer": answer, "log": [f"{tag}-ask"]}

    return (
        m.StateGraph(Ask)
        .add_node("s1", s1)
        .add_node("inner_ask", inner_ask)
        .add_edge(m.START, "s1")
        .add_edge("s1", "inner_ask")
        .compile(**compile_kwargs)
    )


def nested_ask(m, checkpointer, calls: Calls, *, depth: int = 1, inner: dict | None = None, **compile_kwargs):
    """pre -> sub -> post; ``sub`` is :func:`sub_ask` (depth 1) or ``mid`` -> ``sub_ask``
    (depth 2: the interrupt two levels down). ``inner``: compile arguments of ``sub_ask``
    (static interrupts inside the subgraph), ``compile_kwargs``: of the parent."""
    sub = sub_ask(m, calls, **(inner or {}))
    if depth == 2:

        def mid(state: Ask):
            calls("mid")
            return {"log": ["mid"]}

        sub = (
            m.StateGraph(Ask)
            .add_node("mid", mid)
            .add_node("deep", sub)
            .add_edge(m.START, "mid")
            .add_edge("mid", "deep")
            .compile()
        )

    def pre(state: Ask):
        calls("pre")
        return {"log": ["pre"]}

    def post(state: Ask):
        calls("post")
        return {"log": [f"post:{state['answer']}"]}

    return (
        m.StateGraph(Ask)
        .add_node("pre", pre)
        .add_node("sub", sub)
        .add_node("post", post)
        .add_edge(m.START, "pre")
        .add_edge("pre", "sub")
        .add_edge("sub", "post")
        .compile(checkpointer=checkpointer, **compile_kwargs)
    )


def subgraph_in_node(m, checkpointer, calls: Calls):
    """pre -> runner: a plain node that *invokes* :func:`sub_ask` (a subgraph called from a
    function, not added as a node); the interrupt propagates through ``invoke``."""
    sub = sub_ask(m, calls, tag="called")

    def pre(state: Ask):
        calls("pre")
        return {"log": ["pre"]}

    def runner(state: Ask):
        calls("runner-start")
        out = sub.invoke({"log": []})
        calls(f"runner-done:{out['answer']}")
        return {"answer": out["answer"], "log": ["runner"]}

    return (
        m.StateGraph(Ask)
        .add_node("pre", pre)
        .add_node("runner", runner)
        .add_edge(m.START, "pre")
        .add_edge("pre", "runner")
        .compile(checkpointer=checkpointer)
    )


class Decision(BaseModel):
    ok: bool
    note: str = ""


def schema_ask(m, checkpointer, calls: Calls, schema: Any):
    """START -> ask -> after: ``interrupt("approve?", response_schema=schema)``: a Pydantic
    model is surfaced as JSON Schema and the resume value validated into it; a JSON Schema
    dict is surfaced as is and not validated."""

    def ask(state: Ask):
        calls("ask-start")
        answer = m.interrupt("approve?", response_schema=schema)
        calls(f"ask-resumed:{answer!r}")
        return {"answer": answer.model_dump() if isinstance(answer, BaseModel) else answer, "log": ["ask"]}

    def after(state: Ask):
        calls("after")
        return {"log": ["after"]}

    return (
        m.StateGraph(Ask)
        .add_node("ask", ask)
        .add_node("after", after)
        .add_edge(m.START, "ask")
        .add_edge("ask", "after")
        .compile(checkpointer=checkpointer)
    )


def tool_ask(m, checkpointer, calls: Calls):
    """agent -> tools (``ToolNode``) -> END: the tool asks for approval with ``interrupt``."""

    @tool
    def transfer(amount: int) -> str:
        """Transfer an amount after a human approves it."""
        calls(f"transfer-start:{amount}")
        verdict = m.interrupt({"approve": amount})
        calls(f"transfer-resumed:{verdict}")
        # an explicit id: LangGraph saves the task's writes on a background thread while
        # add_messages gives an id-less message its id in place, so whether the saved
        # ToolMessage has an id would be timing
        content = f"transferred {amount}" if verdict == "yes" else f"refused {amount}"
        return ToolMessage(content, tool_call_id="call-1", name="transfer", id="tool-1")

    def agent(state: m.MessagesState):
        calls("agent")
        call = {"name": "transfer", "args": {"amount": 7}, "id": "call-1", "type": "tool_call"}
        return {"messages": [AIMessage(content="", tool_calls=[call], id="ai-1")]}

    return (
        m.StateGraph(m.MessagesState)
        .add_node("agent", agent)
        .add_node("tools", m.ToolNode([transfer]))
        .add_edge(m.START, "agent")
        .add_edge("agent", "tools")
        .compile(checkpointer=checkpointer)
    )


ALL_MODES = ("values", "updates", "checkpoints", "tasks", "debug")


def cfg(tid: str, **configurable: Any) -> dict:
    return {"configurable": {"thread_id": tid, **configurable}}


def ask_and_fail(m, checkpointer, calls: Calls, broken: list):
    """START -> (p1, bad) -> after: ``p1`` interrupts, then ``bad`` raises while ``broken``
    is non-empty (the test empties it to fix the node); ``p1`` also writes to the custom
    stream before asking, on every run."""

    def p1(state: Par):
        calls("p1-start")
        m.get_stream_writer()({"p1": "about to ask"})
        answer = interrupt_in_turn(m, calls, "p1", "from p1")
        calls(f"p1-resumed:{answer}")
        return {"res": [f"p1:{answer}"]}

    def bad(state: Par):
        calls("bad-start")
        calls.turn(m, "bad")
        if broken:
            raise ValueError("bad is broken")
        return {"log": ["bad fixed"]}

    def after(state: Par):
        calls("after")
        return {"log": [f"after:{state['res']}"]}

    g = m.StateGraph(Par)
    g.add_node("p1", p1)
    g.add_node("bad", bad)
    g.add_node("after", after)
    for n in ("p1", "bad"):
        g.add_edge(m.START, n)
        g.add_edge(n, "after")
    return g.compile(checkpointer=checkpointer)

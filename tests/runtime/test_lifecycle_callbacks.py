"""Graph lifecycle callbacks (``lgtrace.callbacks``) hear what LangGraph's ``langgraph.callbacks``
handlers hear: ``on_interrupt`` when a run stops, ``on_resume`` when a run continues a thread."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, TypedDict

import langgraph.callbacks as lg_callbacks
import langgraph.graph as lg_graph
import langgraph.types as lg_types
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langgraph.checkpoint.memory import InMemorySaver

import lgtrace.callbacks as lt_callbacks
import lgtrace.graph as lt_graph
import lgtrace.types as lt_types


class S(TypedDict, total=False):
    log: Annotated[list, operator.add]


def _graph(graph_mod, types_mod, **compile_kwargs):
    def ask(state: S):
        return {"log": [types_mod.interrupt("why?")]}

    b = graph_mod.StateGraph(S)
    b.add_node("a", lambda s: {"log": ["a"]})
    b.add_node("ask", ask)
    b.add_edge(graph_mod.START, "a")
    b.add_edge("a", "ask")
    return b.compile(checkpointer=InMemorySaver(), **compile_kwargs)


def _recorder(callbacks_mod, seen: list, *, is_async: bool = False, fail: bool = False):
    def record(kind, event):
        seen.append(
            (
                kind,
                event.status,
                event.checkpoint_ns,
                tuple(i.value for i in getattr(event, "interrupts", ())),
            )
        )
        if fail:
            raise RuntimeError("handler broke")

    if is_async:

        class AsyncRecorder(callbacks_mod.GraphCallbackHandler):
            async def on_interrupt(self, event):
                record("interrupt", event)

            async def on_resume(self, event):
                record("resume", event)

        return AsyncRecorder()

    class Recorder(callbacks_mod.GraphCallbackHandler):
        def on_interrupt(self, event):
            record("interrupt", event)

        def on_resume(self, event):
            record("resume", event)

    return Recorder()


def _scenario(graph_mod, types_mod, callbacks_mod, *, is_async=False, **compile_kwargs):
    seen: list = []
    g = _graph(graph_mod, types_mod, **compile_kwargs)
    cfg = {
        "configurable": {"thread_id": "t"},
        "callbacks": [_recorder(callbacks_mod, seen, is_async=is_async)],
    }

    async def arun():
        await g.ainvoke({"log": []}, cfg)
        await g.ainvoke(None if compile_kwargs else types_mod.Command(resume="because"), cfg)
        if compile_kwargs:
            await g.ainvoke(types_mod.Command(resume="because"), cfg)

    if is_async:
        asyncio.run(arun())
    else:
        g.invoke({"log": []}, cfg)
        g.invoke(None if compile_kwargs else types_mod.Command(resume="because"), cfg)
        if compile_kwargs:
            g.invoke(types_mod.Command(resume="because"), cfg)
    return seen


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("compile_kwargs", [{}, {"interrupt_before": ["ask"]}], ids=["interrupt", "before"])
def test_lifecycle_events_as_langgraph(is_async, compile_kwargs):
    expected = _scenario(lg_graph, lg_types, lg_callbacks, is_async=is_async, **compile_kwargs)
    got = _scenario(lt_graph, lt_types, lt_callbacks, is_async=is_async, **compile_kwargs)
    assert got == expected
    assert any(kind == "resume" for kind, *_ in got) and any(kind == "interrupt" for kind, *_ in got)


def test_a_raising_handler_does_not_break_the_run_unless_it_asks():
    g = _graph(lt_graph, lt_types)
    quiet = _recorder(lt_callbacks, [], fail=True)
    out = g.invoke({"log": []}, {"configurable": {"thread_id": "q"}, "callbacks": [quiet]})
    assert [i.value for i in out["__interrupt__"]] == ["why?"]
    loud = _recorder(lt_callbacks, [], fail=True)
    loud.raise_error = True
    with pytest.raises(RuntimeError, match="handler broke"):
        g.invoke({"log": []}, {"configurable": {"thread_id": "l"}, "callbacks": [loud]})


def test_plain_handlers_hear_nothing_of_it():
    class Plain(BaseCallbackHandler):
        def __getattr__(self, name):
            if name in ("on_interrupt", "on_resume"):
                raise AssertionError(f"{name} reached a plain handler")
            raise AttributeError(name)

    g = _graph(lt_graph, lt_types)
    cfg = {"configurable": {"thread_id": "p"}, "callbacks": [Plain()]}
    g.invoke({"log": []}, cfg)
    assert g.invoke(lt_types.Command(resume="ok"), cfg) == {"log": ["a", "ok"]}

"""``stream_mode="messages"``: a task calls a fake chat model that streams tokens
(``tests.messages.fakes.EchoModel``); the chunks and their metadata (``langgraph_node``,
``langgraph_checkpoint_ns``, ``langgraph_path``, ...) are compared (ids normalized)."""

import asyncio

import pytest
from langchain_core.messages import HumanMessage

from ..messages.fakes import EchoModel
from ..persistence.graphs import cfg
from .harness import Calls, Gate, Rt, compare_func, fapi

MODES = [
    ("messages", False, "v1"),
    ("messages", True, "v1"),
    (("messages", "updates", "custom"), False, "v1"),
    (("messages", "updates"), True, "v2"),
]
MODE_IDS = ["messages", "messages-subgraphs", "messages+updates+custom", "messages+updates-subgraphs-v2"]


@pytest.mark.parametrize("returns_message", [False, True], ids=["returns-text", "returns-message"])
@pytest.mark.parametrize(("mode", "subgraphs", "version"), MODES, ids=MODE_IDS)
def test_a_task_streams_tokens(mode, subgraphs, version, returns_message):
    """A task returning the model's text, or its message (the entrypoint returns it too)."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        saver = rt.saver()
        model = EchoModel()

        @f.task
        def joke(topic: str):
            msg = model.invoke([HumanMessage(f"a joke about {topic}")])
            return msg if returns_message else msg.content

        @f.entrypoint(checkpointer=saver)
        def main(topic: str):
            f.get_stream_writer()({"topic": topic})
            out = joke(topic).result()
            return {"joke": out} if not returns_message else out

        kw = {"stream_mode": mode, "subgraphs": subgraphs, "version": version}
        rt.stream("run", main, "cats", cfg("t1"), **kw)
        rt.stream("second turn", main, "dogs", cfg("t1"), **kw)
        rt.state("get_state", main, cfg("t1"))

    compare_func(scenario)


def test_the_entrypoint_itself_calls_the_model():
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        model = EchoModel()

        @f.entrypoint(checkpointer=rt.saver())
        def main(topic: str) -> str:
            return model.invoke([HumanMessage(f"entry on {topic}")]).content

        rt.stream("run", main, "owls", cfg("t1"), stream_mode="messages")
        rt.stream(
            "run subgraphs", main, "owls", cfg("t1"), stream_mode=["messages", "values"], subgraphs=True
        )

    compare_func(scenario)


def test_parallel_tasks_stream_tokens():
    """Two tasks stream at once: their tokens interleave in any order, so each stream is
    compared as a bag (``parallel=True``)."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        model = EchoModel()
        gate = Gate(2)
        calls = Calls()

        @f.task
        def write(kind: str, topic: str) -> str:
            calls("write", kind)
            gate.wait()
            return model.invoke([HumanMessage(f"{kind} on {topic}")]).content

        @f.entrypoint(checkpointer=rt.saver())
        def main(topic: str) -> list:
            futures = [write("joke", topic), write("poem", topic)]
            return [fut.result() for fut in futures]

        rt.stream("run", main, "rain", cfg("t1"), stream_mode="messages", parallel=True)
        rt.record("calls", calls.sorted())

    compare_func(scenario)


def test_async_task_streams_tokens():
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        model = EchoModel()

        @f.task
        async def joke(topic: str) -> str:
            msg = await model.ainvoke([HumanMessage(f"async joke about {topic}")])
            await asyncio.sleep(0)
            return msg.content

        @f.entrypoint(checkpointer=rt.saver())
        async def main(topic: str) -> str:
            return await joke(topic)

        rt.astream("astream", main, "mice", cfg("t1"), stream_mode="messages")
        rt.astream(
            "astream + updates subgraphs",
            main,
            "rats",
            cfg("t1"),
            stream_mode=["messages", "updates"],
            subgraphs=True,
        )

    compare_func(scenario)

"""What an entrypoint / task can ask for: ``config``, ``writer``, ``store`` (an
``InMemoryStore``), ``runtime`` (``context_schema`` + ``context=``), ``previous``; and what
``get_config()`` shows inside a task."""

from dataclasses import dataclass

import pytest
from langgraph.store.memory import InMemoryStore

from ..persistence.graphs import ALL_MODES, cfg
from .harness import Calls, Rt, compare_func, fapi


@dataclass
class Ctx:
    user: str
    lang: str = "en"


def _meta(config) -> dict:
    md = config["metadata"]
    return {
        "thread_id": config["configurable"].get("thread_id"),
        "step": md.get("langgraph_step"),
        "node": md.get("langgraph_node"),
        "triggers": list(md.get("langgraph_triggers", ())),
        "path": md.get("langgraph_path"),
        "checkpoint_ns": md.get("langgraph_checkpoint_ns"),
        "tags": list(config.get("tags", [])),
        "run_name": config.get("run_name"),
    }


def test_config_writer_store_runtime_previous():
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        store = InMemoryStore()

        @f.task
        def remember(key: str, value: int) -> dict:
            cfg_ = f.get_config()
            calls("remember config", _meta(cfg_))
            f.get_stream_writer()({"remember": key})
            return {"key": key, "value": value}

        @f.entrypoint(checkpointer=saver, store=store, context_schema=Ctx)
        def main(x: int, *, previous, config, writer, store, runtime) -> dict:
            calls("main config", _meta(config))
            writer({"x": x, "user": runtime.context.user})
            item = remember("k", x).result()
            store.put(("memories", runtime.context.user), item["key"], {"v": item["value"]})
            found = store.search(("memories", runtime.context.user))
            return {
                "previous": previous,
                "runtime.previous": runtime.previous,
                "context": [runtime.context.user, runtime.context.lang],
                "same store": runtime.store is store,
                "found": sorted((i.key, i.value["v"]) for i in found),
            }

        kw = {"stream_mode": ALL_MODES}
        rt.stream("turn 1", main, 1, cfg("t1"), context=Ctx("ann"), **kw)
        rt.stream("turn 2", main, 2, cfg("t1"), context=Ctx("bob", "fr"), **kw)
        rt.invoke("turn 3 invoke", main, 3, cfg("t1"), context={"user": "cid"})
        rt.record("calls", calls.calls)
        rt.record(
            "store",
            sorted((tuple(i.namespace), i.key, i.value) for i in store.search(("memories",))),
        )
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)


def test_async_injection():
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        saver = rt.saver()
        store = InMemoryStore()

        @f.task
        async def note(x: int) -> int:
            f.get_stream_writer()({"note": x})
            return x

        @f.entrypoint(checkpointer=saver, store=store, context_schema=Ctx)
        async def main(x: int, *, previous, writer, store, runtime, config) -> dict:
            writer({"start": x})
            await store.aput(("ns",), "k", {"x": x})
            got = await store.aget(("ns",), "k")
            return {
                "previous": previous,
                "note": await note(x),
                "got": got.value,
                "user": runtime.context.user,
                "thread": config["configurable"]["thread_id"],
            }

        rt.astream("turn 1", main, 1, cfg("t1"), stream_mode=ALL_MODES, context=Ctx("ann"))
        rt.ainvoke("turn 2", main, 2, cfg("t1"), context=Ctx("bob"))

    compare_func(scenario)


@pytest.mark.parametrize("with_store", [False, True])
def test_no_store_no_context(with_store):
    """``store`` / ``runtime.context`` when the entrypoint has none."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)

        @f.entrypoint(store=InMemoryStore() if with_store else None)
        def main(x: int, *, store, runtime) -> dict:
            return {
                "store": store is not None,
                "context": runtime.context,
                "runtime store": runtime.store is store,
            }

        rt.invoke("invoke", main, 1, None)
        rt.stream("stream", main, 1, None, stream_mode=ALL_MODES)

    compare_func(scenario)


def test_a_named_entrypoint_and_task():
    """``@entrypoint(..., name=...)`` / ``@task(name=...)``: the names in the stream and state."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        saver = rt.saver()

        @f.task(name="renamed_task")
        def t(x: int) -> int:
            return x + 1

        def impl(x: int) -> int:
            return t(x).result()

        main = f.entrypoint(checkpointer=saver, name="renamed_entry")(impl)
        rt.record("graph name", main.name)
        rt.stream("run", main, 1, cfg("t1"), stream_mode=ALL_MODES)
        rt.state("get_state", main, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)

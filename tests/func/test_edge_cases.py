"""Durability modes, async interrupts, async retry and cache, ``entrypoint.final`` after a resume,
the v2 ``values`` of a turn that pauses, and threads saved by one runtime and continued by the
other (LangGraph's checkpoint format: ``compare_cross_hitl``)."""

import asyncio

import pytest
from langgraph.cache.memory import InMemoryCache

from ..persistence.graphs import ALL_MODES, cfg
from ..persistence.test_interrupts import compare_cross_hitl
from .harness import Calls, Gate, Rt, compare_func, fapi
from .test_interrupts import review
from .test_streams import fan_out
from .test_threads import counter


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_durability_of_interrupts_and_turns(durability):
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        rt.durability = durability
        main = review(f, calls, saver)
        rt.stream("pause 1", main, "cats", cfg("t1"), stream_mode=ALL_MODES)
        for answer in ("ok", "because", "ship it"):
            rt.stream(f"resume {answer}", main, f.Command(resume=answer), cfg("t1"), stream_mode=ALL_MODES)
        fan = fan_out(f, calls, saver)
        rt.stream("fan out", fan, 3, cfg("t2"), stream_mode=ALL_MODES, parallel=True)
        rt.stream("fan out again", fan, 2, cfg("t2"), stream_mode=ALL_MODES, parallel=True)
        rt.record("calls", calls.sorted())
        rt.state("get_state t1", main, cfg("t1"))
        rt.history("get_state_history t2", fan, cfg("t2"))
        rt.saved("saver.list t1", saver, "t1")
        rt.saved("saver.list t2", saver, "t2")
        rt.calls("saver calls", saver)

    compare_func(scenario)


def test_async_interrupts_in_tasks_and_entrypoint():
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        saver = rt.saver()
        gate = Gate(2)

        @f.task
        async def ask(q: str) -> str:
            calls("ask", q)
            await gate.await_()
            return f"{q}={f.interrupt(q)}"

        @f.task
        async def prep(x: int) -> int:
            calls("prep", x)
            await asyncio.sleep(0)
            return x + 1

        @f.entrypoint(checkpointer=saver)
        async def main(x: int) -> list:
            p = await prep(x)
            ok = f.interrupt({"go?": p})
            a = await ask(f"first {ok}")
            return [p, ok, a]

        kw = {"stream_mode": ALL_MODES}
        rt.astream("pause in main", main, 1, cfg("t1"), **kw)
        rt.astate("aget_state 1", main, cfg("t1"))
        gate = Gate(1)
        rt.astream("pause in ask", main, f.Command(resume="yes"), cfg("t1"), **kw)
        rt.astate("aget_state 2", main, cfg("t1"))
        gate = Gate(1)
        rt.ainvoke("done", main, f.Command(resume="42"), cfg("t1"), version="v2")
        rt.record("calls", calls.calls)
        rt.ahistory("aget_state_history", main, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)


def test_a_paused_thread_continued_by_the_other_runtime():
    """Turn 1 (pause in main, then in ``ask``) on one runtime; the resumes on the other."""

    def scenario(rt: Rt) -> None:
        first, second = rt.turns
        saver = rt.saver()
        calls = Calls()
        g1 = review(fapi(first), calls, saver)
        g2 = review(fapi(second), calls, saver)
        rt.stream("pause 1", g1, "cats", cfg("t1"), stream_mode=ALL_MODES)
        rt.stream("pause 2", g1, resume(first, "ok"), cfg("t1"), stream_mode=ALL_MODES)
        rt.state("get_state on the other runtime", g2, cfg("t1"))
        rt.stream(
            "resume on the other runtime", g2, resume(second, "because"), cfg("t1"), stream_mode=ALL_MODES
        )
        rt.stream("done", g2, resume(second, "ship"), cfg("t1"), stream_mode=ALL_MODES)
        rt.record("calls", calls.calls)
        rt.history("get_state_history", g2, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare_cross_hitl(scenario)


def resume(m, value):
    """``Command(resume=value)`` of ``m``'s runtime."""
    return fapi(m).Command(resume=value)


def test_previous_continued_by_the_other_runtime():
    def scenario(rt: Rt) -> None:
        first, second = rt.turns
        saver = rt.saver()
        calls = Calls()
        g1 = counter(fapi(first), calls, saver, final=True)
        g2 = counter(fapi(second), calls, saver, final=True)
        rt.invoke("turn 1", g1, 1, cfg("t1"))
        rt.invoke("turn 2", g1, 10, cfg("t1"))
        rt.stream("turn 3 on the other runtime", g2, 100, cfg("t1"), stream_mode=ALL_MODES)
        rt.record("calls", calls.calls)
        rt.state("get_state", g2, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare_cross_hitl(scenario)


def test_async_retry_and_cache():
    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        calls = Calls()
        fails = {"left": 1}

        @f.task(retry_policy=f.RetryPolicy(max_attempts=2, initial_interval=0.001, jitter=False))
        async def flaky(x: int) -> int:
            calls("flaky", x)
            if fails["left"]:
                fails["left"] -= 1
                raise ValueError("again")
            return x

        @f.task(cache_policy=f.CachePolicy())
        async def cached(x: int) -> int:
            calls("cached", x)
            return x * 2

        @f.entrypoint(checkpointer=rt.saver(), cache=InMemoryCache())
        async def main(x: int) -> list:
            return [await flaky(x), await cached(x)]

        rt.astream("run 1", main, 1, cfg("t1"), stream_mode=ALL_MODES)
        rt.astream("run 2 (cache hit)", main, 1, cfg("t2"), stream_mode=ALL_MODES)
        rt.ainvoke("run 3 (cache miss)", main, 2, cfg("t3"))
        rt.record("calls", calls.calls)

    compare_func(scenario)


def test_final_with_an_interrupt():
    """``entrypoint.final`` returned after a resume: what the caller gets and what is saved."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        saver = rt.saver()

        @f.entrypoint(checkpointer=saver)
        def main(x: int, *, previous=None):
            answer = f.interrupt({"x": x, "previous": previous})
            return f.entrypoint.final(value=f"{x}:{answer}", save={"last": answer, "before": previous})

        rt.stream("pause", main, 1, cfg("t1"), stream_mode=ALL_MODES)
        rt.stream("resume", main, f.Command(resume="a"), cfg("t1"), stream_mode=ALL_MODES)
        rt.invoke("turn 2 pauses", main, 2, cfg("t1"), version="v2")
        rt.invoke("turn 2 resumed", main, f.Command(resume="b"), cfg("t1"), version="v2")
        rt.state("get_state", main, cfg("t1"))
        rt.history("get_state_history", main, cfg("t1"))
        rt.saved("saver.list", saver, "t1")

    compare_func(scenario)


@pytest.mark.parametrize("kind", ["str", "dict", "list"])
def test_v2_values_of_a_new_turn_that_pauses(kind):
    """A thread whose last turn returned a value of ``kind``; the next turn pauses before
    returning. LangGraph's v2 ``values`` part of the interrupt (and so ``invoke(version="v2")
    .value``) carries the thread's values when they are a dict, else ``{}``."""

    def scenario(rt: Rt) -> None:
        f = fapi(rt.m)
        saver = rt.saver()

        @f.entrypoint(checkpointer=saver)
        def main(x: int):
            a = f.interrupt(x)
            return {"str": f"{x}:{a}", "dict": {"x": x, "a": a}, "list": [x, a]}[kind]

        rt.invoke("turn 1 pauses", main, 1, cfg("t1"), version="v2")
        rt.invoke("turn 1 resumed", main, f.Command(resume="a"), cfg("t1"), version="v2")
        rt.stream("turn 2 pauses", main, 2, cfg("t1"), stream_mode=ALL_MODES, version="v2")
        rt.stream(
            "turn 2 resumed", main, f.Command(resume="b"), cfg("t1"), stream_mode="values", version="v2"
        )
        rt.invoke("turn 3 pauses: invoke v2", main, 3, cfg("t1"), version="v2")
        rt.invoke("turn 3 resumed", main, f.Command(resume="c"), cfg("t1"))
        rt.invoke("turn 4 pauses: invoke v1", main, 4, cfg("t1"))

    compare_func(scenario)

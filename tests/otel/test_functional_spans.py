"""The functional API traced: an entrypoint's task span, and under it one task span per ``@task``
call (nested calls nested), with the call's task id and namespace; a failing call is an ERROR span;
a call answered from the thread's saved results on resume makes no span (it does not run)."""

from __future__ import annotations

import asyncio
import contextlib

from opentelemetry.trace import StatusCode

from lgtrace.checkpoint.memory import InMemorySaver
from lgtrace.func import entrypoint, task
from lgtrace.types import Command, interrupt

from .test_spans import Tracing


def _tree(tracing: Tracing) -> list[tuple[str, str | None]]:
    spans = tracing.spans()
    names = {s.context.span_id: s.name for s in spans}
    return sorted((s.name, names.get(s.parent.span_id) if s.parent else None) for s in spans)


@task
def double(x: int) -> int:
    return 2 * x


@task
def outer(x: int) -> int:
    return double(x).result() + 1


@task
def broken(x: int) -> int:
    raise ValueError(f"broken {x}")


def test_call_spans_nest_under_their_caller() -> None:
    @entrypoint()
    def workflow(n: int) -> list[int]:
        return [outer(i).result() for i in range(n)]

    tracing = Tracing()
    assert workflow.invoke(2, tracing.config) == [1, 3]
    assert _tree(tracing) == [
        ("double", "outer"),
        ("double", "outer"),
        ("invoke_workflow LangGraph", None),
        ("outer", "workflow"),
        ("outer", "workflow"),
        ("workflow", "invoke_workflow LangGraph"),
    ]
    calls = [s for s in tracing.spans() if s.name in ("outer", "double")]
    assert all(s.attributes["langgraph.triggers"] == ("__pregel_push",) for s in calls)
    for s in calls:  # the task id is the last segment of the call's namespace
        assert s.attributes["langgraph.checkpoint_ns"].endswith(
            f"{s.name}:{s.attributes['langgraph.task_id']}"
        )
    assert not tracing.handler.runs


def test_async_calls_and_a_failing_call() -> None:
    @task
    async def slow(x: int) -> int:
        await asyncio.sleep(0.001)
        return x

    @entrypoint()
    async def workflow(n: int) -> int:
        values = await asyncio.gather(*[slow(i) for i in range(n)])
        with contextlib.suppress(ValueError):  # the entrypoint catches the call's error
            await broken(n)
        return sum(values)

    tracing = Tracing()
    assert asyncio.run(workflow.ainvoke(3, tracing.config)) == 3
    by_name: dict[str, list] = {}
    for s in tracing.spans():
        by_name.setdefault(s.name, []).append(s)
    assert len(by_name["slow"]) == 3 and all(
        s.status.status_code == StatusCode.UNSET for s in by_name["slow"]
    )
    (failed,) = by_name["broken"]
    assert failed.status.status_code == StatusCode.ERROR and "broken 3" in failed.status.description
    assert by_name["workflow"][0].status.status_code == StatusCode.UNSET  # the entrypoint caught it
    assert not tracing.handler.runs


def test_a_resumed_run_does_not_trace_finished_calls_again() -> None:
    @entrypoint(checkpointer=InMemorySaver())
    def workflow(n: int) -> str:
        value = outer(n).result()
        return f"{value}: {interrupt('ok?')}"

    tracing = Tracing()
    config = {**tracing.config, "configurable": {"thread_id": "t"}}
    workflow.invoke(1, config)
    first = len([s for s in tracing.spans() if s.name in ("outer", "double")])
    assert workflow.invoke(Command(resume="yes"), config) == "3: yes"
    names = [s.name for s in tracing.spans()]
    assert first == 2 and names.count("outer") == 1 and names.count("double") == 1
    assert names.count("workflow") == 2  # the entrypoint ran twice

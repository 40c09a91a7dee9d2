"""Run one graph on one implementation and compare with the oracle."""

from __future__ import annotations

import asyncio
import difflib
import functools
import os
import pprint
from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from .graphs import Case, load
from .normalize import CallSpec, exc_repr, freeze, normalize_stream, renumber_ids

ORACLE_PREFIX = "langgraph"
# Set LGTRACE_DIFF_CANDIDATE=langgraph to validate the harness against itself.
CANDIDATE_PREFIX = os.environ.get("LGTRACE_DIFF_CANDIDATE", "lgtrace")

_loaded: dict[str, SimpleNamespace] = {}


def impl(prefix: str) -> SimpleNamespace:
    if prefix not in _loaded:
        _loaded[prefix] = load(prefix)
    return _loaded[prefix]


_runner: asyncio.Runner | None = None


def run_async(coro: Any) -> Any:
    """Run on one long-lived event loop: its default executor (used for sync nodes
    under ``astream``) is reused, which keeps the suite fast."""
    global _runner
    if _runner is None:
        _runner = asyncio.Runner()
    return _runner.run(coro)


@dataclass
class Outcome:
    events: list[Any] = field(default_factory=list)
    error: tuple | None = None  # exc_repr(...) of what the run raised
    build_error: tuple | None = None  # the builder / compile raised


# --------------------------------------------------------------------------- running


def _stream_kwargs(call: CallSpec) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if call.stream_mode is not None:
        kwargs["stream_mode"] = (
            list(call.stream_mode) if isinstance(call.stream_mode, tuple) else call.stream_mode
        )
    if call.subgraphs:
        kwargs["subgraphs"] = True
    if call.version != "v1":
        kwargs["version"] = call.version
    return kwargs


def run_stream(m: SimpleNamespace, case: Case, call: CallSpec) -> Outcome:
    out = Outcome()
    try:
        graph, inp, config = case.build(m)
    except Exception as e:
        out.build_error = exc_repr(e, m)
        return out
    kwargs = _stream_kwargs(call)
    try:
        if call.method == "stream":
            for chunk in graph.stream(inp, config, **kwargs):
                out.events.append(freeze(chunk))
        else:

            async def consume() -> None:
                async for chunk in graph.astream(inp, config, **kwargs):
                    out.events.append(freeze(chunk))

            run_async(consume())
    except Exception as e:
        out.error = exc_repr(e, m)
    return out


def run_invoke(m: SimpleNamespace, case: Case, method: str, version: str = "v1") -> Outcome:
    out = Outcome()
    try:
        graph, inp, config = case.build(m)
    except Exception as e:
        out.build_error = exc_repr(e, m)
        return out
    kwargs = {} if version == "v1" else {"version": version}
    try:
        if method == "invoke":
            result = graph.invoke(inp, config, **kwargs)
        else:
            result = run_async(graph.ainvoke(inp, config, **kwargs))
        out.events.append(freeze(result))
    except Exception as e:
        out.error = exc_repr(e, m)
    return out


# --------------------------------------------------------------------------- step plan


def _aux_parts(m: SimpleNamespace, case: Case, call: CallSpec) -> list[tuple]:
    """Run ``call`` with ``debug`` added, all namespaces and v2 parts."""
    aux = CallSpec(
        method=call.method,
        stream_mode=tuple(dict.fromkeys((*call.modes, "debug"))),
        subgraphs=True,
        version="v2",
    )
    outcome = run_stream(m, case, aux)
    return [(tuple(p["ns"]), p["type"], p["data"]) for p in outcome.events]


def _steps(parts: list[tuple]) -> tuple[list[int], set[int]]:
    """Root superstep of each part, and the supersteps that ran in parallel
    (several root tasks, or several tasks in one superstep of a nested graph)."""
    # a root task's id -> its superstep, so that "tasks" events (which carry no
    # step and precede the matching debug event) open the right window
    task_step = {
        data["payload"]["id"]: data["step"]
        for ns, kind, data in parts
        if ns == () and kind == "debug" and data.get("type") == "task"
    }
    step = 0
    steps: list[int] = []
    root_tasks: Counter[int] = Counter()
    inner_tasks: Counter[tuple] = Counter()
    for ns, kind, data in parts:
        if ns == ():
            if kind == "debug":
                step = data["step"]
            elif kind == "tasks":
                step = task_step[data["id"]]
        if kind == "debug" and data.get("type") == "task":
            if ns == ():
                root_tasks[step] += 1
            else:
                inner_tasks[(step, ns, data["step"])] += 1
        steps.append(step)
    parallel = {s for s, n in root_tasks.items() if n > 1}
    parallel |= {s for (s, _ns, _inner), n in inner_tasks.items() if n > 1}
    return steps, parallel


@functools.cache
def _has_parallel_steps(case: Case, method: str) -> bool:
    parts = _aux_parts(impl(ORACLE_PREFIX), case, CallSpec(method=method, stream_mode="debug"))
    return bool(_steps(parts)[1])


@functools.cache
def _parallel_plan(case: Case, modes: tuple, subgraphs: bool, method: str) -> tuple:
    call = CallSpec(method=method, stream_mode=modes, subgraphs=subgraphs)
    parts = _aux_parts(impl(ORACLE_PREFIX), case, call)
    steps, parallel = _steps(parts)
    counts: dict[int, int] = {}
    for (ns, kind, _data), s in zip(parts, steps, strict=True):
        if kind in modes and (subgraphs or ns == ()):
            counts[s] = counts.get(s, 0) + 1
    return tuple((n, s in parallel) for s, n in counts.items())


def step_plan(case: Case, call: CallSpec, n_oracle_events: int) -> list[tuple[int, bool]]:
    """Per superstep of the root graph: how many events ``call`` yields, and
    whether that superstep ran tasks in parallel (their events may come in any
    order).  Computed from auxiliary oracle runs with ``debug`` added, every
    namespace visible and v2 parts, so that each event can be placed in a
    superstep.  A graph without parallel supersteps is compared exactly.
    """
    if not _has_parallel_steps(case, call.method):
        return [(n_oracle_events, False)]
    return list(_parallel_plan(case, call.modes, call.subgraphs, call.method))


# --------------------------------------------------------------------------- comparing


def _error_view(o: Outcome) -> Any:
    return renumber_ids({"build_error": o.build_error, "error": o.error})


def _fmt(label: str, x: Any) -> str:
    return f"--- {label}\n{pprint.pformat(x, width=100, sort_dicts=True)}"


def _diff(expected: Any, got: Any) -> str:
    """A unified diff of the pretty-printed normalized outputs."""
    a = pprint.pformat(expected, width=100, sort_dicts=True).splitlines()
    b = pprint.pformat(got, width=100, sort_dicts=True).splitlines()
    lines = difflib.unified_diff(a, b, "langgraph (expected)", "candidate (got)", n=4, lineterm="")
    return "\n".join(lines)


def compare_stream(
    case: Case,
    call: CallSpec,
    oracle: SimpleNamespace | None = None,
    candidate: SimpleNamespace | None = None,
) -> None:
    oracle = oracle or impl(ORACLE_PREFIX)
    candidate = candidate or impl(CANDIDATE_PREFIX)
    expected = run_stream(oracle, case, call)
    got = run_stream(candidate, case, call)
    assert expected.build_error is None, f"oracle failed to build: {expected.build_error}"
    plan = step_plan(case, call, len(expected.events))
    planned = sum(n for n, _ in plan)
    assert len(expected.events) == planned, (
        f"harness bug: oracle yielded {len(expected.events)} events, plan has {planned}"
    )
    exp_events = normalize_stream(expected.events, plan, call)
    got_events = normalize_stream(got.events, plan, call)
    exp_err, got_err = _error_view(expected), _error_view(got)
    if exp_events != got_events or exp_err != got_err:
        raise AssertionError(
            f"{case.name} / {call.ident}: {candidate.prefix} differs from LangGraph\n"
            + _diff([exp_events, exp_err], [got_events, got_err])
        )


def compare_invoke(
    case: Case,
    method: str,
    version: str = "v1",
    oracle: SimpleNamespace | None = None,
    candidate: SimpleNamespace | None = None,
) -> None:
    oracle = oracle or impl(ORACLE_PREFIX)
    candidate = candidate or impl(CANDIDATE_PREFIX)
    expected = run_invoke(oracle, case, method, version)
    got = run_invoke(candidate, case, method, version)
    assert expected.build_error is None, f"oracle failed to build: {expected.build_error}"
    exp = renumber_ids([expected.events, expected.error])
    res = renumber_ids([got.events, got.error, got.build_error])
    if [*exp, None] != res:
        raise AssertionError(
            f"{case.name} / {method}-{version}: {candidate.prefix} differs from LangGraph\n"
            + _fmt("expected [result, error, build_error]", [*exp, None])
            + "\n"
            + _fmt("got [result, error, build_error]", res)
        )

"""Run one graph on one implementation and compare with the oracle."""

from __future__ import annotations

import asyncio
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

            asyncio.run(consume())
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
            result = asyncio.run(graph.ainvoke(inp, config, **kwargs))
        out.events.append(freeze(result))
    except Exception as e:
        out.error = exc_repr(e, m)
    return out


# --------------------------------------------------------------------------- step plan


def step_plan(m: SimpleNamespace, case: Case, call: CallSpec) -> list[tuple[int, bool]]:
    """Per superstep of the root graph: how many events ``call`` yields, and
    whether that superstep is parallel (several tasks at the root, or several
    tasks in one superstep of any nested graph run inside it).

    Computed from an auxiliary oracle run with ``debug`` added, all namespaces
    visible and the v2 part format, so each event can be placed in a superstep.
    """
    modes = call.modes
    aux = CallSpec(
        method=call.method,
        stream_mode=tuple(dict.fromkeys((*modes, "debug"))),
        subgraphs=True,
        version="v2",
    )
    outcome = run_stream(m, case, aux)
    if outcome.build_error:
        return []
    step = 0
    counts: dict[int, int] = {}
    root_tasks: Counter[int] = Counter()
    inner_tasks: Counter[tuple] = Counter()
    for part in outcome.events:
        ns, kind, data = tuple(part["ns"]), part["type"], part["data"]
        if kind == "debug" and data.get("type") == "task":
            if ns == ():
                step = data["step"]
                root_tasks[step] += 1
            else:
                inner_tasks[(step, ns, data["step"])] += 1
        if kind in modes and (call.subgraphs or ns == ()):
            counts[step] = counts.get(step, 0) + 1
    parallel = {s for s, n in root_tasks.items() if n > 1}
    parallel |= {s for (s, _ns, _inner), n in inner_tasks.items() if n > 1}
    return [(n, s in parallel) for s, n in counts.items()]


# --------------------------------------------------------------------------- comparing


def _error_view(o: Outcome) -> Any:
    return renumber_ids({"build_error": o.build_error, "error": o.error})


def _fmt(label: str, x: Any) -> str:
    return f"--- {label}\n{pprint.pformat(x, width=110, sort_dicts=False)}"


def compare_stream(
    case: Case,
    call: CallSpec,
    oracle: SimpleNamespace | None = None,
    candidate: SimpleNamespace | None = None,
) -> None:
    oracle = oracle or impl(ORACLE_PREFIX)
    candidate = candidate or impl(CANDIDATE_PREFIX)
    plan = step_plan(oracle, case, call)
    expected = run_stream(oracle, case, call)
    got = run_stream(candidate, case, call)
    planned = sum(n for n, _ in plan)
    assert expected.build_error is None, f"oracle failed to build: {expected.build_error}"
    assert len(expected.events) == planned, (
        f"harness bug: oracle yielded {len(expected.events)} events, plan has {planned}"
    )
    exp_events = normalize_stream(expected.events, plan, call)
    got_events = normalize_stream(got.events, plan, call)
    exp_err, got_err = _error_view(expected), _error_view(got)
    if exp_events != got_events or exp_err != got_err:
        raise AssertionError(
            f"{case.name} / {call.ident}: lgtrace differs from LangGraph\n"
            + _fmt("expected events", exp_events)
            + "\n"
            + _fmt("got events", got_events)
            + "\n"
            + _fmt("expected error", exp_err)
            + "\n"
            + _fmt("got error", got_err)
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
    if exp + [None] != res:
        raise AssertionError(
            f"{case.name} / {method}-{version}: lgtrace differs from LangGraph\n"
            + _fmt("expected [result, error]", exp)
            + "\n"
            + _fmt("got [result, error, build_error]", res)
        )

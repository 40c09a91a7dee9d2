"""Differential conformance: every catalogue graph, every stream shape, both runtimes.

The oracle is LangGraph; the candidate is lgtrace (or LangGraph itself when
``LGTRACE_DIFF_CANDIDATE=langgraph``, to validate the harness).
"""

from __future__ import annotations

import pytest

from .graphs import CATALOGUE, Case
from .harness import ORACLE_PREFIX, compare_invoke, compare_stream, impl, run_stream
from .normalize import CallSpec

ALL5 = ("custom", "tasks", "values", "updates", "debug")

# sync stream: every mode shape, with and without subgraphs
SYNC_MODES: list = [
    None,  # the default (a compiled StateGraph streams "updates")
    "values",
    "updates",
    "custom",
    "debug",
    "tasks",
    ("updates",),
    ("updates", "custom"),
    ("values", "updates", "debug"),
    ALL5,
]
# v2 parts and astream: a representative subset, to keep the suite fast
V2_MODES: list = ["updates", "custom", ("values", "updates", "debug"), ALL5]
ASYNC_MODES: list = ["values", "updates", "custom", "debug", ("updates", "custom"), ALL5]
ASYNC_V2_MODES: list = [ALL5]


# for graphs without subgraphs, subgraphs=True only changes the chunk shape:
# check that shape on a few modes only
FLAT_SUBGRAPH_MODES: list = [None, "custom", ALL5]


def _calls(method: str, modes: list, version: str) -> list[CallSpec]:
    return [
        CallSpec(method=method, stream_mode=mode, subgraphs=subgraphs, version=version)
        for mode in modes
        for subgraphs in (False, True)
    ]


CALLS = (
    _calls("stream", SYNC_MODES, "v1")
    + _calls("stream", V2_MODES, "v2")
    + _calls("astream", ASYNC_MODES, "v1")
    + _calls("astream", ASYNC_V2_MODES, "v2")
)


def _wanted(case: Case, call: CallSpec) -> bool:
    if case.async_only and call.method == "stream":
        return False
    if call.subgraphs and not case.nested:
        return call.stream_mode in FLAT_SUBGRAPH_MODES
    return True


def _stream_params():
    for name, case in CATALOGUE.items():
        for call in CALLS:
            if _wanted(case, call):
                yield pytest.param(name, call, id=f"{name}-{call.ident}")


def _invoke_params():
    for name, case in CATALOGUE.items():
        for method in ("invoke", "ainvoke"):
            if case.async_only and method == "invoke":
                continue
            for version in ("v1", "v2"):
                yield pytest.param(name, method, version, id=f"{name}-{method}-{version}")


def test_catalogue_size():
    assert len(CATALOGUE) >= 30


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_nested_flag_matches_oracle(name: str):
    """``Case.nested`` decides which subgraphs=True calls run: keep it honest."""
    case = CATALOGUE[name]
    call = CallSpec(method="astream" if case.async_only else "stream", stream_mode="debug", subgraphs=True)
    outcome = run_stream(impl(ORACLE_PREFIX), case, call)
    assert any(ns != () for ns, _ in outcome.events) == case.nested


@pytest.mark.parametrize(("name", "call"), list(_stream_params()))
def test_stream(name: str, call: CallSpec):
    compare_stream(CATALOGUE[name], call)


@pytest.mark.parametrize(("name", "method", "version"), list(_invoke_params()))
def test_invoke(name: str, method: str, version: str):
    compare_invoke(CATALOGUE[name], method, version)

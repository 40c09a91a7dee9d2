"""Differential conformance: every catalogue graph, every stream shape, both runtimes.

The oracle is LangGraph; the candidate is lgtrace (or LangGraph itself when
``LGTRACE_DIFF_CANDIDATE=langgraph``, to validate the harness).
"""

from __future__ import annotations

import pytest

from .graphs import CATALOGUE
from .harness import compare_invoke, compare_stream
from .normalize import CallSpec

MODES: list = [
    None,  # the default (a compiled StateGraph streams "updates")
    "values",
    "updates",
    "custom",
    "debug",
    "tasks",
    ("updates",),
    ("updates", "custom"),
    ("values", "updates", "debug"),
    ("custom", "tasks", "values", "updates", "debug"),
]

CALLS = [
    CallSpec(method=method, stream_mode=mode, subgraphs=subgraphs, version=version)
    for method in ("stream", "astream")
    for mode in MODES
    for subgraphs in (False, True)
    for version in ("v1", "v2")
]


def _stream_params():
    for name, case in CATALOGUE.items():
        for call in CALLS:
            if case.async_only and call.method == "stream":
                continue
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


@pytest.mark.parametrize(("name", "call"), list(_stream_params()))
def test_stream(name: str, call: CallSpec):
    compare_stream(CATALOGUE[name], call)


@pytest.mark.parametrize(("name", "method", "version"), list(_invoke_params()))
def test_invoke(name: str, method: str, version: str):
    compare_invoke(CATALOGUE[name], method, version)

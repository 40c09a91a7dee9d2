"""``get_graph().draw_mermaid()`` draws every graph of the catalogue as LangGraph draws it
(``xray=True`` too, for the graphs with subgraphs)."""

from __future__ import annotations

import warnings

import pytest

from .graphs import CATALOGUE
from .harness import CANDIDATE_PREFIX, impl


def _mermaid(prefix: str, name: str, xray: bool) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph, _, _ = CATALOGUE[name].build(impl(prefix))
    return graph.get_graph(xray=xray).draw_mermaid()


@pytest.mark.parametrize("xray", [False, True])
@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_draw_mermaid_as_langgraph(name, xray):
    if xray and not CATALOGUE[name].nested:
        pytest.skip("no subgraph to expand")
    assert _mermaid(CANDIDATE_PREFIX, name, xray) == _mermaid("langgraph", name, xray)

"""Property test: random DAG topologies behave the same on LangGraph and lgtrace.

Nodes ``n0..n{k-1}``; every edge goes from a lower to a higher index (or from
START / to END), so every run terminates.  Fan-in uses list edges (joins).
``log`` and ``total`` have ``operator.add`` reducers; the plain key ``p<i>`` is
written only by node ``n<i>`` (a node runs at most once per superstep), so no
step has conflicting writes.  Conditional edges route with deterministic
functions of the state, with or without a path map.

No ``from __future__ import annotations``: the runtimes resolve the node
annotation ``state: State`` and ``State`` is local to the builder.
"""

import operator
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from .graphs import Case
from .harness import compare_stream
from .normalize import CallSpec


@dataclass(frozen=True)
class Cond:
    source: int  # -1 is START
    targets: tuple[int, ...]  # node indexes; len(nodes) stands for END
    kind: str  # "single" | "list"
    path_map: str  # "none" | "list" | "dict"


@dataclass(frozen=True)
class Topology:
    n: int
    edges: tuple[tuple[int, int], ...]  # (src, dst), src -1 is START
    joins: tuple[tuple[tuple[int, ...], int], ...]  # ((srcs...), dst)
    conds: tuple[Cond, ...]
    weights: tuple[int, ...]
    returns_none: tuple[bool, ...]
    reads_plain: tuple[int | None, ...]  # node i also reports p<j> it can see
    total0: int


@st.composite
def topologies(draw: Any) -> Topology:
    n = draw(st.integers(2, 8))
    edges: list[tuple[int, int]] = [(-1, 0)]
    joins: list[tuple[tuple[int, ...], int]] = []
    for j in range(1, n):
        preds = draw(st.lists(st.integers(-1, j - 1), min_size=1, max_size=min(3, j + 1), unique=True))
        real = sorted(p for p in preds if p >= 0)
        if len(real) >= 2 and draw(st.booleans()):
            joins.append((tuple(real), j))
            edges.extend((p, j) for p in preds if p < 0)
        else:
            edges.extend((p, j) for p in sorted(preds))
    conds: list[Cond] = []
    for i in range(-1, n - 1):
        if draw(st.integers(0, 3)) != 0:  # about one node in four
            continue
        choices = [*range(i + 1, n), n]  # higher nodes or END
        targets = draw(st.lists(st.sampled_from(choices), min_size=1, max_size=3, unique=True))
        conds.append(
            Cond(
                source=i,
                targets=tuple(targets),
                kind=draw(st.sampled_from(["single", "list"])),
                path_map=draw(st.sampled_from(["none", "list", "dict"])),
            )
        )
    return Topology(
        n=n,
        edges=tuple(edges),
        joins=tuple(joins),
        conds=tuple(conds),
        weights=tuple(draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))),
        returns_none=tuple(
            draw(st.lists(st.integers(0, 5), min_size=n, max_size=n).map(lambda xs: [x == 0 for x in xs]))
        ),
        reads_plain=tuple(draw(st.one_of(st.none(), st.integers(0, n - 1))) for _ in range(n)),
        total0=draw(st.integers(0, 5)),
    )


def make_case(topo: Topology) -> Case:
    def build(m: Any):
        fields: dict[str, Any] = {
            "log": Annotated[list, operator.add],
            "total": Annotated[int, operator.add],
        }
        fields.update({f"p{i}": str for i in range(topo.n)})
        State = TypedDict("State", fields, total=False)

        def name(i: int) -> str:
            if i < 0:
                return m.START
            return m.END if i >= topo.n else f"n{i}"

        def make_node(i: int):
            def node(state: State):
                if topo.returns_none[i]:
                    return None
                update = {
                    "log": [f"n{i}@{len(state.get('log', []))}"],
                    "total": topo.weights[i],
                    f"p{i}": f"n{i}:{state.get('total', 0)}",
                }
                j = topo.reads_plain[i]
                if j is not None:
                    update["log"].append(f"saw p{j}={state.get(f'p{j}')}")
                return update

            return node

        def make_path(cond: Cond):
            targets = [name(t) for t in cond.targets]
            labels = [f"to_{t}" for t in targets] if cond.path_map == "dict" else targets

            if cond.kind == "single":

                def path(state: State):
                    return labels[state.get("total", 0) % len(labels)]

            else:

                def path(state: State):
                    k = state.get("total", 0)
                    chosen = [lab for x, lab in enumerate(labels) if (k + x) % 2 == 0]
                    return chosen or [labels[-1]]

            if cond.path_map == "none":
                return path, None
            if cond.path_map == "list":
                return path, list(targets)
            return path, dict(zip(labels, targets, strict=True))

        builder = m.StateGraph(State)
        for i in range(topo.n):
            builder.add_node(f"n{i}", make_node(i))
        for src, dst in topo.edges:
            builder.add_edge(name(src), name(dst))
        for srcs, dst in topo.joins:
            builder.add_edge([name(s) for s in srcs], name(dst))
        for cond in topo.conds:
            path, path_map = make_path(cond)
            builder.add_conditional_edges(name(cond.source), path, path_map)
        return builder.compile(), {"log": [], "total": topo.total0}, None

    return Case(name="topology", build=build)


CALLS = [
    CallSpec(method="stream", stream_mode="updates"),
    CallSpec(method="stream", stream_mode="values"),
    CallSpec(method="stream", stream_mode=("values", "updates", "debug")),
    CallSpec(method="astream", stream_mode=("updates", "values")),
    CallSpec(method="stream", stream_mode=("updates", "values"), version="v2"),
]


# One property per call shape, so that a difference in one shape does not hide
# the others.  No shrink phase: topologies are small already, and shrinking a
# ubiquitous difference would take minutes.
@pytest.mark.parametrize("call", CALLS, ids=[c.ident for c in CALLS])
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(topo=topologies())
def test_random_topologies_match(call: CallSpec, topo: Topology):
    note(repr(topo))
    compare_stream(make_case(topo), call)

"""Property test: random DAG topologies behave the same on LangGraph and lgtrace.

Nodes ``n0..n{k-1}``; every edge goes from a lower to a higher index (or from
START / to END), so every run terminates.  Fan-in uses list edges (joins).
``log`` and ``total`` have ``operator.add`` reducers; the plain key ``p<i>`` is
written only by node ``n<i>`` (a node runs at most once per superstep), so no
step has conflicting writes.  Conditional edges route with deterministic
functions of the state, with or without a path map.

The second half (from "failure shapes") generates the shapes of issue #9, one
property each: failing tasks next to slow siblings, several failures in a
Send + pull fan-out, subgraphs over dataclass / Pydantic state with defaults,
raising conditional edges and reducers, Commands built in helpers.

No ``from __future__ import annotations``: the runtimes resolve the node
annotation ``state: State`` and ``State`` is local to the builder.
"""

import asyncio
import dataclasses
import functools
import operator
import os
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

import pytest
from hypothesis import HealthCheck, Phase, example, given, note, settings
from hypothesis import strategies as st
from pydantic import Field, create_model

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


# =========================================================================== failure shapes
#
# The properties below generate the shapes issue #9 lists, each family in its own
# test so that a difference in one does not hide the others.  They share:
#
# * a random call: ``stream`` or ``astream``, a random non-empty set of the modes
#   values / updates / custom / debug / tasks (a bare mode or a tuple), with or
#   without ``subgraphs=True``;
# * timed node scripts: a node writes custom events and then returns an update,
#   returns None or raises, each action at a *slot* (a multiple of ``SLOT``
#   seconds after the node started).  Where the order of two actions in different
#   tasks matters (an event vs a sibling's failure, two failures), their slots
#   differ, so they are at least ``SLOT`` apart.  A failure is never at slot 0: a
#   LangGraph sync runner whose first task fails before the step's other tasks are
#   registered waits for them all (a race in LangGraph itself, not compared here).
#   Async nodes are generated only under ``astream``.


SLOT = 0.04  # seconds between two slots
MODES = ("values", "updates", "custom", "debug", "tasks")
ERRORS = {"ValueError": ValueError, "KeyError": KeyError, "RuntimeError": RuntimeError}


class LogState(TypedDict, total=False):
    log: Annotated[list, operator.add]
    i: int  # the index a Send worker reads


@st.composite
def call_specs(draw: Any) -> CallSpec:
    method = draw(st.sampled_from(["stream", "astream"]))
    modes = draw(st.lists(st.sampled_from(MODES), min_size=1, max_size=len(MODES), unique=True))
    stream_mode = modes[0] if len(modes) == 1 and draw(st.booleans()) else tuple(modes)
    return CallSpec(method=method, stream_mode=stream_mode, subgraphs=draw(st.booleans()))


def async_flags(call: CallSpec) -> st.SearchStrategy[bool]:
    return st.booleans() if call.method == "astream" else st.just(False)


@dataclass(frozen=True)
class Script:
    """One node's actions in time: custom writes at ``writes`` slots, then at
    ``end_slot`` it returns ``{"log": [name]}`` ("update"), None ("none") or
    raises ``error(f"{name} failed")`` ("raise")."""

    name: str
    writes: tuple[int, ...]
    end_slot: int
    end: str = "update"
    error: str = "ValueError"
    is_async: bool = False


def _finish(script: Script) -> Any:
    if script.end == "raise":
        raise ERRORS[script.error](f"{script.name} failed")
    return None if script.end == "none" else {"log": [script.name]}


def run_script(m: Any, script: Script) -> Any:
    t0 = time.monotonic()
    writer = m.get_stream_writer()
    for k, slot in enumerate(script.writes):
        time.sleep(max(0.0, t0 + slot * SLOT - time.monotonic()))
        writer({"from": script.name, "k": k})
    time.sleep(max(0.0, t0 + script.end_slot * SLOT - time.monotonic()))
    return _finish(script)


async def arun_script(m: Any, script: Script) -> Any:
    t0 = time.monotonic()
    writer = m.get_stream_writer()
    for k, slot in enumerate(script.writes):
        await asyncio.sleep(max(0.0, t0 + slot * SLOT - time.monotonic()))
        writer({"from": script.name, "k": k})
    await asyncio.sleep(max(0.0, t0 + script.end_slot * SLOT - time.monotonic()))
    return _finish(script)


def script_node(m: Any, script: Script) -> Any:
    if script.is_async:

        async def anode(state: LogState):
            return await arun_script(m, script)

        return anode

    def node(state: LogState):
        return run_script(m, script)

    return node


def in_subgraph(m: Any, node: Any) -> Any:
    """``node`` as the only node of a compiled subgraph over the same state."""
    return m.StateGraph(LogState).add_node("inner", node).add_edge(m.START, "inner").compile()


@st.composite
def bystander(draw: Any, name: str, avoid: frozenset[int], is_async: st.SearchStrategy[bool]) -> Script:
    """A task that does not fail: writes and ends at slots 0..3 outside ``avoid``."""
    allowed = [s for s in range(4) if s not in avoid]
    end_slot = draw(st.sampled_from(allowed))
    writes = draw(st.lists(st.sampled_from([s for s in allowed if s <= end_slot]), max_size=3))
    end = draw(st.sampled_from(["update", "update", "none"]))
    return Script(name, tuple(sorted(writes)), end_slot, end, is_async=draw(is_async))


@st.composite
def failing(draw: Any, name: str, slot: int, is_async: st.SearchStrategy[bool], avoid=frozenset()) -> Script:
    """A task that raises at ``slot`` after writing at slots up to it."""
    allowed = [s for s in range(slot + 1) if s == slot or s not in avoid]
    writes = draw(st.lists(st.sampled_from(allowed), max_size=2))
    error = draw(st.sampled_from(sorted(ERRORS)))
    return Script(name, tuple(sorted(writes)), slot, "raise", error, is_async=draw(is_async))


def property_settings(max_examples: int) -> settings:
    """Like the topology property: derandomized, no database, no shrinking (set
    LGTRACE_PROPERTY_SHRINK=1 to shrink a failure to a minimal example)."""
    shrink = [Phase.shrink] if os.environ.get("LGTRACE_PROPERTY_SHRINK") else []
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, *shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


TIMED = property_settings(20)  # graphs that sleep: ~0.3 s an example
QUICK = property_settings(50)  # graphs that do not


# --------------------------------------------------------------------------- 1: fail fast


@dataclass(frozen=True)
class FailFast:
    """START [-> pre] -> s0..s{k-1} in one superstep [-> after].  One sibling raises
    at slot 1 or 2; the others write / return at other slots, some inside a
    compiled subgraph."""

    call: CallSpec
    prelude: Script | None
    siblings: tuple[Script, ...]
    nested: tuple[bool, ...]
    after: bool


@st.composite
def fail_fast_cases(draw: Any) -> FailFast:
    call = draw(call_specs())
    asyncs = async_flags(call)
    k = draw(st.integers(2, 4))
    bad = draw(st.integers(0, k - 1))
    slot = draw(st.integers(1, 2))
    siblings = tuple(
        draw(failing(f"s{i}", slot, asyncs))
        if i == bad
        else draw(bystander(f"s{i}", frozenset({slot}), asyncs))
        for i in range(k)
    )
    prelude = None
    if draw(st.booleans()):
        prelude = Script("pre", tuple(draw(st.lists(st.just(0), max_size=2))), 0, is_async=draw(asyncs))
    nested = tuple(draw(st.integers(0, 3)) == 3 for _ in range(k))  # about one in four
    return FailFast(call, prelude, siblings, nested, draw(st.booleans()))


def fail_fast_case(ff: FailFast) -> Case:
    def build(m: Any):
        b = m.StateGraph(LogState)
        src = m.START
        if ff.prelude is not None:
            b.add_node("pre", script_node(m, ff.prelude))
            b.add_edge(m.START, "pre")
            src = "pre"
        for script, nested in zip(ff.siblings, ff.nested, strict=True):
            node = script_node(m, script)
            b.add_node(script.name, in_subgraph(m, node) if nested else node)
            b.add_edge(src, script.name)
        if ff.after:
            b.add_node("after", lambda s: {"log": ["after"]})
            b.add_edge([s.name for s in ff.siblings], "after")
        return b.compile(), {"log": []}, None

    return Case(name="fail_fast", build=build)


@TIMED
@given(ff=fail_fast_cases())
# minimal examples that failed before the fixes of issue #9 (6b2f87e): lgtrace
# delivered the siblings' events that came after the failure
@example(
    ff=FailFast(
        call=CallSpec(method="stream", stream_mode=("values", "updates")),
        prelude=None,
        siblings=(Script("s0", (), 1, "raise", "KeyError"), Script("s1", (), 2)),
        nested=(False, False),
        after=False,
    )
)
@example(
    ff=FailFast(
        call=CallSpec(method="astream", stream_mode=("custom", "updates")),
        prelude=None,
        siblings=(
            Script("s0", (0,), 1, "raise", is_async=True),
            Script("s1", (0, 2), 2, is_async=True),
            Script("s2", (2,), 3),
        ),
        nested=(False, False, True),
        after=True,
    )
)
def test_property_fail_fast(ff: FailFast):
    note(repr(ff))
    compare_stream(fail_fast_case(ff), ff.call)


# --------------------------------------------------------------------------- 2: first error in time


@dataclass(frozen=True)
class FirstError:
    """[START -> fan ->] a fan-out superstep of pull tasks ``p<k>`` and ``Send("w",
    {"i": k})`` tasks running ``sends[k]``.  At least two tasks raise, at distinct
    slots; the one raised must be the earliest, whatever its place in the plan."""

    call: CallSpec
    from_start: bool  # the fan-out is START's (else a node ``fan`` runs first)
    pulls: tuple[Script, ...]
    pull_via_branch: bool  # pull tasks are named by the branch (else static edges)
    sends: tuple[Script, ...]
    send_async: bool


@st.composite
def first_error_cases(draw: Any) -> FirstError:
    call = draw(call_specs())
    asyncs = async_flags(call)
    n_pulls = draw(st.integers(0, 2))
    n_sends = draw(st.integers(1 if n_pulls else 2, 3))
    total = n_pulls + n_sends
    bad = draw(st.lists(st.integers(0, total - 1), min_size=2, max_size=min(3, total), unique=True))
    slots = draw(st.permutations([1, 2, 3]))[: len(bad)]
    fail_slot = dict(zip(bad, slots, strict=True))
    avoid = frozenset(slots)
    send_async = draw(asyncs)
    scripts = []
    for t in range(total):
        name = f"p{t}" if t < n_pulls else f"w{t - n_pulls}"
        is_async = asyncs if t < n_pulls else st.just(send_async)
        if t in fail_slot:
            scripts.append(draw(failing(name, fail_slot[t], is_async, avoid)))
        else:
            scripts.append(draw(bystander(name, avoid, is_async)))
    return FirstError(
        call=call,
        from_start=draw(st.booleans()),
        pulls=tuple(scripts[:n_pulls]),
        pull_via_branch=draw(st.booleans()),
        sends=tuple(scripts[n_pulls:]),
        send_async=send_async,
    )


def first_error_case(fe: FirstError) -> Case:
    def build(m: Any):
        b = m.StateGraph(LogState)
        src = m.START
        if not fe.from_start:
            b.add_node("fan", lambda s: {"log": ["fan"]})
            b.add_edge(m.START, "fan")
            src = "fan"
        for script in fe.pulls:
            b.add_node(script.name, script_node(m, script))
            if not fe.pull_via_branch:
                b.add_edge(src, script.name)

        if fe.send_async:

            async def worker(state: LogState):
                return await arun_script(m, fe.sends[state["i"]])

        else:

            def worker(state: LogState):
                return run_script(m, fe.sends[state["i"]])

        b.add_node("w", worker)
        pulled = [s.name for s in fe.pulls] if fe.pull_via_branch else []

        def route(state: LogState):
            return [*pulled, *(m.Send("w", {"i": k}) for k in range(len(fe.sends)))]

        b.add_conditional_edges(src, route, [*pulled, "w"])
        return b.compile(), {"log": []}, None

    return Case(name="first_error", build=build)


@TIMED
@given(fe=first_error_cases())
# minimal examples that failed before the fixes of issue #9 (6b2f87e): lgtrace
# raised the first error in plan order
@example(
    fe=FirstError(
        call=CallSpec(method="stream", stream_mode=("values",)),
        from_start=False,
        pulls=(),
        pull_via_branch=False,
        sends=(Script("w0", (), 2, "raise", "KeyError"), Script("w1", (), 1, "raise", "KeyError")),
        send_async=False,
    )
)
@example(
    fe=FirstError(
        call=CallSpec(method="astream", stream_mode=("updates", "tasks")),
        from_start=True,
        pulls=(Script("p0", (), 1, "raise", "RuntimeError", is_async=True),),
        pull_via_branch=False,
        sends=(Script("w0", (0,), 2, "raise", "RuntimeError"),),
        send_async=False,
    )
)
def test_property_first_error_in_time(fe: FirstError):
    note(repr(fe))
    compare_stream(first_error_case(fe), fe.call)


# --------------------------------------------------------------------------- 3: subgraph defaults


@dataclass(frozen=True)
class Schema:
    """A state class drawn as data: its kind and its fields' defaults.

    Every kind has ``log`` (a list under ``operator.add``), ``last: str``,
    ``opt: str | None`` and ``count: int``; ``extra`` adds a field the other
    graph may lack.  A TypedDict has no defaults: reads of missing keys say so."""

    kind: str  # "typeddict" | "dataclass" | "pydantic"
    last: str
    opt: str | None
    count: int
    extra: str | None  # name of one more field (default "x"), or None


FIELDS = ("log", "last", "opt", "count")


def make_schema(spec: Schema, name: str) -> Any:
    types = {"log": Annotated[list, operator.add], "last": str, "opt": str | None, "count": int}
    defaults: dict[str, Any] = {"last": spec.last, "opt": spec.opt, "count": spec.count}
    if spec.extra is not None:
        types[spec.extra] = str
        defaults[spec.extra] = "x"
    if spec.kind == "typeddict":
        return TypedDict(name, types, total=False)
    if spec.kind == "dataclass":
        fields = [("log", types["log"], dataclasses.field(default_factory=list))]
        fields += [(k, types[k], dataclasses.field(default=v)) for k, v in defaults.items()]
        return dataclasses.make_dataclass(name, fields)
    model_fields: dict[str, Any] = {"log": (types["log"], Field(default_factory=list))}
    model_fields.update({k: (types[k], v) for k, v in defaults.items()})
    return create_model(name, **model_fields)


def read(state: Any, key: str) -> Any:
    if isinstance(state, dict):
        return state.get(key, "<missing>")
    return getattr(state, key, "<missing>")


def seen(tag: str, state: Any, keys: tuple[str, ...]) -> str:
    """A log entry recording what the node saw, defaults included."""
    return tag + "(" + ",".join(f"{k}={read(state, k)!r}" for k in keys) + ")"


@dataclass(frozen=True)
class NodeWrite:
    """A node of a SubDefaults graph: logs what it saw, writes ``writes`` keys."""

    writes: tuple[str, ...]  # among "last", "opt", "count"
    is_async: bool = False


@dataclass(frozen=True)
class SubDefaults:
    """START -> [pre ->] sub [|| sibling] [-> post]: ``sub`` is a compiled StateGraph
    over ``child`` (whose nodes are ``child_nodes``, optionally ending in a
    compiled grandchild over the same schema); the parent is over ``parent``.
    ``via_send``: the parent reaches ``sub`` with ``Send("sub", input)``."""

    call: CallSpec
    parent: Schema
    child: Schema
    input_keys: tuple[str, ...]
    pre: NodeWrite | None
    child_nodes: tuple[NodeWrite, ...]
    grandchild: bool
    sibling: NodeWrite | None
    post: bool
    via_send: bool


INPUT_VALUES = {"log": ["in"], "last": "L", "opt": "O", "count": 5}


@st.composite
def schemas(draw: Any) -> Schema:
    return Schema(
        kind=draw(st.sampled_from(["typeddict", "dataclass", "pydantic"])),
        last=draw(st.sampled_from(["", "d"])),
        opt=draw(st.sampled_from([None, "o"])),
        count=draw(st.integers(0, 2)),
        extra=draw(st.sampled_from([None, "extra"])),
    )


@st.composite
def node_writes(draw: Any, asyncs: st.SearchStrategy[bool]) -> NodeWrite:
    writes = draw(st.lists(st.sampled_from(["last", "opt", "count"]), max_size=2, unique=True))
    return NodeWrite(tuple(writes), draw(asyncs))


@st.composite
def sub_defaults_cases(draw: Any, via_send: bool) -> SubDefaults:
    call = draw(call_specs())
    asyncs = async_flags(call)
    parent = draw(schemas())
    child = parent if draw(st.booleans()) else draw(schemas())
    if parent.kind == "dataclass" and child.extra and not parent.extra:
        # LangGraph 1.2.22's v2 output builds the root's state class from a nested
        # graph's values too: a dataclass root then raises TypeError on the child's
        # extra field under subgraphs=True, which the harness's auxiliary run
        # (v2, subgraphs=True) uses to place events in supersteps
        child = dataclasses.replace(child, extra=None)
    return SubDefaults(
        call=call,
        parent=parent,
        child=child,
        input_keys=tuple(draw(st.lists(st.sampled_from(FIELDS), unique=True))),
        pre=draw(st.one_of(st.none(), node_writes(asyncs))),
        child_nodes=tuple(draw(st.lists(node_writes(asyncs), min_size=1, max_size=2))),
        grandchild=draw(st.booleans()),
        sibling=draw(st.one_of(st.none(), node_writes(asyncs))),
        post=draw(st.booleans()),
        via_send=via_send,
    )


def writes_node(tag: str, spec: NodeWrite, keys: tuple[str, ...]) -> Any:
    def update(state: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"log": [seen(tag, state, keys)]}
        for k in spec.writes:
            if k == "count":
                c = read(state, "count")
                out[k] = c + 1 if isinstance(c, int) else 1
            else:
                out[k] = f"{tag}.{k}"
        return out

    if spec.is_async:

        async def anode(state: Any):
            await asyncio.sleep(0)
            return update(state)

        return anode

    def node(state: Any):
        return update(state)

    return node


def sub_defaults_case(sd: SubDefaults) -> Case:
    def build(m: Any):
        parent_state = make_schema(sd.parent, "Parent")
        child_state = make_schema(sd.child, "Child") if sd.child != sd.parent else parent_state
        parent_keys = FIELDS + ((sd.parent.extra,) if sd.parent.extra else ())
        child_keys = FIELDS + ((sd.child.extra,) if sd.child.extra else ())

        def chain(state_cls: Any, prefix: str, specs: tuple[NodeWrite, ...], tail: Any = None) -> Any:
            g = m.StateGraph(state_cls)
            prev = m.START
            for j, spec in enumerate(specs):
                g.add_node(f"{prefix}{j}", writes_node(f"{prefix}{j}", spec, child_keys))
                g.add_edge(prev, f"{prefix}{j}")
                prev = f"{prefix}{j}"
            if tail is not None:
                g.add_node("grand", tail)
                g.add_edge(prev, "grand")
            return g.compile()

        grand = chain(child_state, "g", (NodeWrite(("count",)),)) if sd.grandchild else None
        sub = chain(child_state, "c", sd.child_nodes, grand)

        b = m.StateGraph(parent_state)
        b.add_node("sub", sub)
        src = m.START
        if sd.pre is not None:
            b.add_node("pre", writes_node("pre", sd.pre, parent_keys))
            b.add_edge(m.START, "pre")
            src = "pre"
        if sd.via_send:
            send_arg = {"log": ["sent"], "count": 9}
            b.add_conditional_edges(src, lambda s: [m.Send("sub", send_arg)], ["sub"])
        else:
            b.add_edge(src, "sub")
        if sd.sibling is not None:
            b.add_node("sibling", writes_node("sibling", sd.sibling, parent_keys))
            b.add_edge(src, "sibling")
        if sd.post:
            b.add_node("post", writes_node("post", NodeWrite(()), parent_keys))
            b.add_edge("sub", "post")
        return b.compile(), {k: INPUT_VALUES[k] for k in sd.input_keys}, None

    return Case(name="subgraph_defaults", build=build, nested=True)


@QUICK
@given(sd=sub_defaults_cases(via_send=False))
# minimal example that failed before the fixes of issue #9 (6b2f87e): the subgraph
# did not get the parent's dataclass defaults
@example(
    sd=SubDefaults(
        call=CallSpec(method="stream", stream_mode=("values",)),
        parent=Schema("dataclass", last="", opt=None, count=0, extra=None),
        child=Schema("typeddict", last="", opt=None, count=0, extra=None),
        input_keys=(),
        pre=None,
        child_nodes=(NodeWrite(()),),
        grandchild=False,
        sibling=None,
        post=False,
        via_send=False,
    )
)
def test_property_subgraph_defaults(sd: SubDefaults):
    note(repr(sd))
    compare_stream(sub_defaults_case(sd), sd.call)


@QUICK
@given(sd=sub_defaults_cases(via_send=True))
# minimal example that failed at f15bd14: the Send's arg reached the subgraph as
# a Parent dataclass (defaults filled in) instead of as sent
@example(
    sd=SubDefaults(
        call=CallSpec(method="stream", stream_mode=("values",)),
        parent=Schema("dataclass", last="", opt=None, count=0, extra=None),
        child=Schema("typeddict", last="", opt=None, count=0, extra=None),
        input_keys=(),
        pre=None,
        child_nodes=(NodeWrite(()),),
        grandchild=False,
        sibling=None,
        post=False,
        via_send=True,
    )
)
def test_property_subgraph_defaults_via_send(sd: SubDefaults):
    note(repr(sd))
    compare_stream(sub_defaults_case(sd), sd.call)


# --------------------------------------------------------------------------- 4: raising edges, reducers


def _no_negatives(left: list | None, right: Any) -> list:
    if not isinstance(right, list) or any(isinstance(x, int) and x < 0 for x in right):
        raise ValueError(f"acc rejects {right!r}")
    return (left or []) + right


class RaisingState(TypedDict, total=False):
    log: Annotated[list, operator.add]
    acc: Annotated[list, _no_negatives]
    plain: str


# Not generated: a route returning a name that is no node.  LangGraph ignores it
# (without a path map) or raises KeyError (with one); lgtrace raises a descriptive
# InvalidUpdateError / ValueError instead.  Not one of issue #9's shapes.
EDGE_FAULTS = (
    "edge_raises",  # the faulty node's conditional edge raises ValueError
    "edge_missing_key",  # ... reads a key the state lacks (KeyError)
)
REDUCER_FAULTS = (
    "reducer_list_int",  # the node writes an int to ``log`` (operator.add: TypeError)
    "reducer_custom",  # the node writes to ``acc``, whose reducer raises ValueError
    "input_reducer",  # the graph input itself holds ``acc: [-1]``
)


@dataclass(frozen=True)
class Raising:
    """START [-> pre] -> s0..s{k-1} -> after: sibling ``bad`` returns at slot 1 or 2
    and its conditional edge or its write fails (``fault``); the others write /
    return at other slots and route to ``after`` by a static or a conditional edge."""

    call: CallSpec
    pre: bool
    siblings: tuple[Script, ...]
    bad: int
    fault: str
    path_map: bool
    ok_edges: tuple[bool, ...]  # the other siblings also have a (working) conditional edge


@st.composite
def raising_cases(draw: Any, faults: tuple[str, ...]) -> Raising:
    call = draw(call_specs())
    asyncs = async_flags(call)
    k = draw(st.integers(1, 3))
    bad = draw(st.integers(0, k - 1))
    slot = draw(st.integers(1, 2))
    siblings = []
    for i in range(k):
        if i == bad:
            writes = draw(st.lists(st.integers(0, slot), max_size=2))
            siblings.append(Script(f"s{i}", tuple(sorted(writes)), slot, is_async=draw(asyncs)))
        else:
            siblings.append(draw(bystander(f"s{i}", frozenset({slot}), asyncs)))
    return Raising(
        call=call,
        pre=draw(st.booleans()),
        siblings=tuple(siblings),
        bad=bad,
        fault=draw(st.sampled_from(faults)),
        path_map=draw(st.booleans()),
        ok_edges=tuple(draw(st.booleans()) for _ in range(k)),
    )


def raising_case(rc: Raising) -> Case:
    def build(m: Any):
        b = m.StateGraph(RaisingState)
        src = m.START
        if rc.pre:
            b.add_node("pre", lambda s: {"log": ["pre"]})
            b.add_edge(m.START, "pre")
            src = "pre"
        b.add_node("after", lambda s: {"log": ["after"]})
        for i, script in enumerate(rc.siblings):
            base = script_node(m, script)
            if i == rc.bad and rc.fault in ("reducer_list_int", "reducer_custom"):
                bad_write = {"log": 5} if rc.fault == "reducer_list_int" else {"acc": [1, -1]}
                if script.is_async:

                    async def node(state: RaisingState, base=base, bad_write=bad_write):
                        await base(state)
                        return bad_write

                else:

                    def node(state: RaisingState, base=base, bad_write=bad_write):
                        base(state)
                        return bad_write

                b.add_node(script.name, node)
            else:
                b.add_node(script.name, base)
            b.add_edge(src, script.name)
            if i == rc.bad and rc.fault.startswith("edge_"):

                def route(state: RaisingState, name=script.name):
                    if rc.fault == "edge_raises":
                        raise ValueError(f"route after {name} failed")
                    return state["plain"]  # never written: KeyError

                b.add_conditional_edges(script.name, route, ["after"] if rc.path_map else None)
            elif rc.ok_edges[i]:
                b.add_conditional_edges(script.name, lambda s: "after", ["after"] if rc.path_map else None)
            else:
                b.add_edge(script.name, "after")
        inp: dict[str, Any] = {"log": []}
        if rc.fault == "input_reducer":
            inp["acc"] = [-1]
        return b.compile(), inp, None

    return Case(name="raising", build=build)


@TIMED
@given(rc=raising_cases(EDGE_FAULTS))
# minimal example that failed before the fixes of issue #9 (6b2f87e): the node's
# update was not streamed before its conditional edge's error
@example(
    rc=Raising(
        call=CallSpec(method="stream", stream_mode=("updates",)),
        pre=False,
        siblings=(Script("s0", (), 1),),
        bad=0,
        fault="edge_raises",
        path_map=False,
        ok_edges=(False,),
    )
)
def test_property_raising_edges(rc: Raising):
    note(repr(rc))
    compare_stream(raising_case(rc), rc.call)


@TIMED
@given(rc=raising_cases(REDUCER_FAULTS))
# minimal examples that failed before the fixes of issue #9: a lone task whose
# write fails its reducer streams its update only when it did not run inline
# (6b2f87e streamed it always, f15bd14 never)
@example(
    rc=Raising(
        call=CallSpec(method="stream", stream_mode=("updates",)),
        pre=False,
        siblings=(Script("s0", (), 1),),
        bad=0,
        fault="reducer_list_int",
        path_map=False,
        ok_edges=(False,),
    )
)
@example(
    rc=Raising(
        call=CallSpec(method="stream", stream_mode=("values", "updates", "custom")),
        pre=False,
        siblings=(Script("s0", (), 1),),
        bad=0,
        fault="reducer_list_int",
        path_map=False,
        ok_edges=(False,),
    )
)
def test_property_raising_reducers(rc: Raising):
    note(repr(rc))
    compare_stream(raising_case(rc), rc.call)


# --------------------------------------------------------------------------- 5: helper commands


def go(m: Any, goto: Any, tag: str) -> Any:
    """A Command built away from the node that returns it (module level)."""
    return m.Command(goto=goto, update={"log": [tag]})


class Router:
    def __init__(self, m: Any) -> None:
        self.m = m

    def to(self, goto: Any, tag: str) -> Any:
        return self.m.Command(goto=goto, update={"log": [tag]})


STYLES = (
    "lambda_helper",  # lambda s: go(m, targets, tag)
    "def_helper",  # def node(state): return go(m, targets, tag)
    "local_helper",  # a helper defined inside the builder, called from a lambda
    "method_helper",  # lambda s: router.to(targets, tag)
    "partial",  # functools.partial over a helper taking the state
    "send_helper",  # lambda s: go(m, [Send(t, {...}) ...], tag)
    "annotated",  # def node(state) -> Command[Literal[...]] built inline (the case compile() knows)
    "async_helper",  # async def node(state): return go(...)  (astream only)
)


@dataclass(frozen=True)
class HelperCommands:
    """START -> n0; node i routes with a Command to ``targets[i]`` (higher nodes;
    ``n`` is END), built by ``styles[i]``.  Apart from START -> n0 and the few
    ``static`` edges, nodes are reached through Commands alone (or not at all,
    which LangGraph accepts too)."""

    call: CallSpec
    n: int
    targets: tuple[tuple[int, ...], ...]
    styles: tuple[str, ...]
    static: tuple[tuple[int, int], ...]  # extra static edges (src < dst)


@st.composite
def helper_command_cases(draw: Any) -> HelperCommands:
    call = draw(call_specs())
    styles = [s for s in STYLES if s != "async_helper" or call.method == "astream"]
    n = draw(st.integers(2, 5))
    targets = tuple(
        tuple(draw(st.lists(st.integers(i + 1, n), min_size=1, max_size=2, unique=True))) for i in range(n)
    )
    static = tuple((i, j) for i in range(n) for j in range(i + 1, n) if draw(st.integers(0, 5)) == 0)
    return HelperCommands(
        call=call,
        n=n,
        targets=targets,
        styles=tuple(draw(st.sampled_from(styles)) for _ in range(n)),
        static=static,
    )


def helper_command_case(hc: HelperCommands) -> Case:
    def build(m: Any):
        def name(i: int) -> str:
            return m.END if i >= hc.n else f"n{i}"

        def local_go(goto: Any, tag: str) -> Any:
            return m.Command(goto=goto, update={"log": [tag]})

        def partial_body(goto: Any, tag: str, state: LogState) -> Any:
            return go(m, goto, f"{tag}@{len(state['log'])}")

        router = Router(m)
        b = m.StateGraph(LogState)
        for i in range(hc.n):
            names = [name(t) for t in hc.targets[i]]
            goto: Any = names[0] if len(names) == 1 else names
            tag = f"n{i}"
            style = hc.styles[i]
            if style == "lambda_helper":
                node = lambda s, goto=goto, tag=tag: go(m, goto, tag)  # noqa: E731
            elif style == "def_helper":

                def node(state: LogState, goto=goto, tag=tag):
                    return go(m, goto, tag)

            elif style == "local_helper":
                node = lambda s, goto=goto, tag=tag: local_go(goto, tag)  # noqa: E731
            elif style == "method_helper":
                node = lambda s, goto=goto, tag=tag: router.to(goto, tag)  # noqa: E731
            elif style == "partial":
                node = functools.partial(partial_body, goto, tag)
            elif style == "send_helper":
                sends = [m.Send(t, {"log": [f"sent by {tag}"]}) for t in names if t != m.END]
                node = lambda s, goto=sends, tag=tag: go(m, goto, tag)  # noqa: E731
            elif style == "annotated":

                def node(state: LogState, goto=goto, tag=tag):
                    return m.Command(goto=goto, update={"log": [tag]})

                node.__annotations__["return"] = m.Command[Literal[tuple(names)]]
            else:

                async def node(state: LogState, goto=goto, tag=tag):
                    await asyncio.sleep(0)
                    return go(m, goto, tag)

            b.add_node(f"n{i}", node)
        b.add_edge(m.START, "n0")
        for src, dst in hc.static:
            b.add_edge(f"n{src}", f"n{dst}")
        return b.compile(), {"log": []}, None

    return Case(name="helper_commands", build=build)


@QUICK
@given(hc=helper_command_cases())
# minimal examples that failed before the fixes of issue #9 (6b2f87e): compile()
# rejected n1 as unreachable
@example(
    hc=HelperCommands(
        call=CallSpec(method="stream", stream_mode=("values",)),
        n=2,
        targets=((1,), (2,)),
        styles=("lambda_helper", "lambda_helper"),
        static=(),
    )
)
@example(
    hc=HelperCommands(
        call=CallSpec(method="stream", stream_mode=("updates",)),
        n=4,
        targets=((1, 2), (3,), (3, 4), (4,)),
        styles=("method_helper", "def_helper", "send_helper", "local_helper"),
        static=(),
    )
)
# lgtrace warns about the nodes it cannot see a route to; LangGraph does not check
@pytest.mark.filterwarnings("ignore:.*looks? unreachable:UserWarning")
def test_property_helper_commands(hc: HelperCommands):
    note(repr(hc))
    compare_stream(helper_command_case(hc), hc.call)

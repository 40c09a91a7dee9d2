"""Run one persistence scenario on LangGraph (the oracle) and on the candidate, compare traces.

A *scenario* is a function ``scenario(rt)`` that builds graphs with ``rt.m`` (the
``langgraph.*`` or ``lgtrace.*`` namespace, ``tests.differential.graphs.load``), compiles
them with a fresh :class:`RecordingSaver` (an ``InMemorySaver`` that also logs ``put`` /
``put_writes`` calls) and drives them through ``rt``: every stream, invoke, state snapshot,
history and saved checkpoint is *recorded* (frozen at once) under a label. The oracle's and
the candidate's traces are each normalized by the same rules (``normalize.normalize_trace``)
and must be equal; a failure names the first differing observation and the path to the first
difference inside it, then shows a unified diff of the normalized traces.

Set ``LGTRACE_DIFF_CANDIDATE=langgraph`` (as for ``tests/differential``) to run the oracle
against itself, which checks that the normalization hides only nondeterminism.
"""

from __future__ import annotations

import difflib
import functools
import pprint
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from langgraph.checkpoint.base import writes_sort_key
from langgraph.checkpoint.memory import InMemorySaver

from ..differential.graphs import CATALOGUE
from ..differential.harness import CANDIDATE_PREFIX, ORACLE_PREFIX, _has_parallel_steps, impl, run_async
from ..differential.normalize import UUID_RE, exc_repr, sort_key
from .normalize import (
    bag,
    canonical_stream,
    first_difference,
    freeze,
    normalize_trace,
    parse_event,
    sort_branch_writes,
)

__all__ = [
    "CANDIDATE_PREFIX",
    "ORACLE_PREFIX",
    "RecordingSaver",
    "Rt",
    "build_case",
    "compare",
    "impl",
    "run_scenario",
]


# --------------------------------------------------------------------------- saver


class RecordingSaver(InMemorySaver):
    """LangGraph's ``InMemorySaver`` that logs the runtime's ``put`` / ``put_writes`` calls
    (frozen at call time). The async twins of ``InMemorySaver`` call these, so both are seen."""

    def __init__(self) -> None:
        super().__init__()
        self.puts: list[tuple] = []
        self.put_writes_calls: list[tuple] = []

    def put(self, config, checkpoint, metadata, new_versions):
        conf = config["configurable"]
        self.puts.append(
            (
                conf.get("checkpoint_ns", ""),
                {
                    "parent_id": conf.get("checkpoint_id"),
                    "id": checkpoint["id"],
                    "metadata": freeze(metadata),
                    "new_versions": freeze(new_versions),
                },
            )
        )
        return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config, writes, task_id, task_path=""):
        conf = config["configurable"]
        self.put_writes_calls.append(
            (
                conf.get("checkpoint_ns", ""),
                conf["checkpoint_id"],
                task_path,
                task_id,
                [(task_id, c, freeze(v)) for c, v in writes],
            )
        )
        return super().put_writes(config, writes, task_id, task_path)


def _mask(x: Any) -> str:
    return UUID_RE.sub("<id>", x) if isinstance(x, str) else sort_key(x)


def _by_ns(pairs: list[tuple[str, Any]]) -> tuple:
    """A bag of ``(ns, [items in order])``: parallel subgraphs create their namespaces in any
    order, and id placeholders are numbered by order of first appearance, so the namespaces
    are sorted at normalization (``normalize.renumber``), by what is already known of them."""
    groups: dict[str, list] = {}
    for ns, item in pairs:
        groups.setdefault(ns, []).append(item)
    return bag(list(groups.items()))


def calls_view(saver: RecordingSaver) -> dict:
    """``put`` calls per namespace in call order (a namespace's puts are strictly ordered;
    a nested graph's puts and its parent's are not ordered with each other), and
    ``put_writes`` calls per namespace as a sorted multiset (tasks of one step finish in any
    order): a bag."""
    return {
        "puts": _by_ns(saver.puts),
        "put_writes": bag(
            [
                {"ns": ns, "checkpoint_id": cid, "task_path": path, "writes": sort_branch_writes(w)}
                for ns, cid, path, _tid, w in saver.put_writes_calls
            ]
        ),
    }


def saved_view(saver: InMemorySaver, thread_id: str) -> dict:
    """Every checkpoint of a thread, per namespace (newest first), as ``saver.list`` returns
    them; ``pending_writes`` are extended with each write's index and ``task_path`` from the
    saver's storage, in the order ``list`` returns them."""
    per_ns: list[tuple[str, Any]] = []
    for tup in saver.list({"configurable": {"thread_id": thread_id}}):
        conf = tup.config["configurable"]
        key = (thread_id, conf["checkpoint_ns"], conf["checkpoint_id"])
        stored = saver.writes.get(key, {})
        order = sorted(stored, key=lambda k, s=stored: writes_sort_key(s[k][3], *k))
        raw = [(tid, stored[(tid, idx)][1], idx, stored[(tid, idx)][3]) for tid, idx in order]
        assert [(t, c) for t, c, _, _ in raw] == [(t, c) for t, c, _ in tup.pending_writes]
        writes = [
            (tid, ch, freeze(v), idx, path)
            for (tid, ch, v), (_, _, idx, path) in zip(tup.pending_writes, raw, strict=True)
        ]
        fields = freeze(tup)[1]
        fields["pending_writes"] = sort_branch_writes(writes)
        per_ns.append((conf["checkpoint_ns"], fields))
    return _by_ns(per_ns)


# --------------------------------------------------------------------------- building


def build_case(m: SimpleNamespace, name: str, checkpointer: Any, **compile_kwargs: Any) -> tuple:
    """A ``tests.differential`` catalogue graph compiled with ``checkpointer``.

    The catalogue builders compile without a checkpointer; the builder of the graph they
    return is recompiled with one (nested graphs keep ``checkpointer=None``, so they inherit
    the parent's). Returns ``(graph, input, config)``; ``config`` may be None.
    """
    builders: dict[int, tuple] = {}

    class Recording(m.StateGraph):
        def compile(self, *args: Any, **kwargs: Any) -> Any:
            graph = super().compile(*args, **kwargs)
            builders[id(graph)] = (self, kwargs)
            return graph

    ns = SimpleNamespace(**{**vars(m), "StateGraph": Recording})
    graph, inp, config = CATALOGUE[name].build(ns)
    builder, kwargs = builders[id(graph)]
    graph = builder.compile(**{**kwargs, **compile_kwargs, "checkpointer": checkpointer})
    return graph, inp, config


JOIN_RACE = """
LangGraph's default durability ("async") serializes a checkpoint on a background thread
while the run goes on, and the checkpoint holds the *live* set of a join channel
(``NamedBarrierValue.checkpoint()`` returns ``self.seen``; ``update()`` adds to it in place;
``copy_checkpoint`` is shallow). When the next step writes to that join before the saver
serialized the checkpoint, the saved ``join:...`` value already holds the new name, and
``get_state``/``get_state_history`` of that checkpoint then list the joined node in
``next``/``tasks`` (e.g. fanout_uneven_join, step 2: ``('b2', 'd')`` instead of ``('b2',)``).
Whether it happens is timing (it flips with the stream modes, which change how LangGraph runs
a lone task). Durability "sync" stores what "async" is documented to store (persistence.md
§4) without the race, so scenarios whose graph has a join run with ``durability="sync"`` on
both runtimes; the candidate's own async path over joins is checked against its sync path
(``test_async.py::test_candidate_async_durability_saves_what_sync_saves``).
"""


@functools.cache
def has_join(name: str) -> bool:
    """Whether a catalogue graph has a join channel (``add_edge([a, b], c)``): see JOIN_RACE."""
    graph, _, _ = build_case(impl(ORACLE_PREFIX), name, None)
    return any(k.startswith("join:") for k in graph.channels)


def is_parallel(name: str) -> bool:
    """Whether a catalogue graph runs several tasks in one superstep (at any level)."""
    case = CATALOGUE[name]
    return _has_parallel_steps(case, "astream" if case.async_only else "stream")


def thread(tid: str, base: dict | None = None, **configurable: Any) -> dict:
    """``base`` (a catalogue config) with ``configurable.thread_id`` set."""
    base = dict(base or {})
    base["configurable"] = {**base.get("configurable", {}), "thread_id": tid, **configurable}
    return base


# --------------------------------------------------------------------------- recording


class Rt:
    """What a scenario drives: one implementation's namespace plus the trace recorder.

    ``rt.m`` is the namespace the scenario builds with; cross-runtime scenarios get the
    namespaces of each turn from ``rt.turns``.
    """

    def __init__(self, m: SimpleNamespace, turns: tuple[SimpleNamespace, ...] = ()) -> None:
        self.m = m
        self.turns = turns or (m, m)
        self.trace: list[tuple[str, Any]] = []
        # the durability every run of the scenario uses unless the call names one; see
        # JOIN_RACE for why scenarios over join graphs set "sync"
        self.durability: str | None = None

    def _kw(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.durability is not None:
            kwargs.setdefault("durability", self.durability)
        return kwargs

    # ---------------------------------------------------------------- basics

    def record(self, label: str, value: Any) -> Any:
        self.trace.append((label, freeze(value)))
        return value

    def saver(self) -> RecordingSaver:
        return RecordingSaver()

    def _guard(self, label: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as e:
            self.trace.append((label + " !raised", exc_repr(e)))
            return None

    # ---------------------------------------------------------------- streams

    def stream(
        self,
        label: str,
        graph: Any,
        inp: Any,
        config: Any,
        *,
        stream_mode: Any = None,
        subgraphs: bool = False,
        version: str = "v1",
        parallel: bool = False,
        method: str = "stream",
        **kwargs: Any,
    ) -> list:
        """Stream and record ``(events, error)``; events of parallel steps canonicalized."""
        if stream_mode is not None:
            kwargs["stream_mode"] = list(stream_mode) if isinstance(stream_mode, tuple) else stream_mode
        if subgraphs:
            kwargs["subgraphs"] = True
        if version != "v1":
            kwargs["version"] = version
        self._kw(kwargs)
        events: list = []
        error = None
        try:
            if method == "stream":
                for chunk in graph.stream(inp, config, **kwargs):
                    events.append(freeze(chunk))
            else:

                async def consume() -> None:
                    async for chunk in graph.astream(inp, config, **kwargs):
                        events.append(freeze(chunk))

                run_async(consume())
        except Exception as e:
            error = exc_repr(e)
        if stream_mode is None:
            modes: tuple = ("updates",)
        elif isinstance(stream_mode, str):
            modes = (stream_mode,)
        else:
            modes = tuple(stream_mode)
        multi = isinstance(stream_mode, (list, tuple))
        try:
            parsed = [parse_event(ev, modes, multi, subgraphs, version == "v2") for ev in events]
            shown = canonical_stream(events, parsed, parallel)
        except (TypeError, ValueError, KeyError, IndexError):  # malformed chunks: compare as they are
            shown = events
        self.trace.append((label, {"events": shown, "error": error}))
        return events

    def astream(self, label: str, graph: Any, inp: Any, config: Any, **kwargs: Any) -> list:
        return self.stream(label, graph, inp, config, method="astream", **kwargs)

    def invoke(self, label: str, graph: Any, inp: Any, config: Any, **kwargs: Any) -> Any:
        try:
            result = graph.invoke(inp, config, **self._kw(kwargs))
        except Exception as e:
            self.trace.append((label, {"error": exc_repr(e)}))
            return None
        self.trace.append((label, {"result": freeze(result)}))
        return result

    def ainvoke(self, label: str, graph: Any, inp: Any, config: Any, **kwargs: Any) -> Any:
        try:
            result = run_async(graph.ainvoke(inp, config, **self._kw(kwargs)))
        except Exception as e:
            self.trace.append((label, {"error": exc_repr(e)}))
            return None
        self.trace.append((label, {"result": freeze(result)}))
        return result

    # ---------------------------------------------------------------- state API

    def state(self, label: str, graph: Any, config: Any, **kwargs: Any) -> Any:
        snap = self._guard(label, lambda: graph.get_state(config, **kwargs))
        if snap is not None:
            self.record(label, snap)
        return snap

    def astate(self, label: str, graph: Any, config: Any, **kwargs: Any) -> Any:
        snap = self._guard(label, lambda: run_async(graph.aget_state(config, **kwargs)))
        if snap is not None:
            self.record(label, snap)
        return snap

    def history(self, label: str, graph: Any, config: Any, **kwargs: Any) -> list:
        snaps = self._guard(label, lambda: list(graph.get_state_history(config, **kwargs)))
        if snaps is not None:
            self.record(label, snaps)
        return snaps or []

    def ahistory(self, label: str, graph: Any, config: Any, **kwargs: Any) -> list:
        async def collect() -> list:
            return [s async for s in graph.aget_state_history(config, **kwargs)]

        snaps = self._guard(label, lambda: run_async(collect()))
        if snaps is not None:
            self.record(label, snaps)
        return snaps or []

    def update(self, label: str, graph: Any, config: Any, values: Any, **kwargs: Any) -> Any:
        new = self._guard(label, lambda: graph.update_state(config, values, **kwargs))
        if new is not None:
            self.record(label, new)
        return new

    def aupdate(self, label: str, graph: Any, config: Any, values: Any, **kwargs: Any) -> Any:
        new = self._guard(label, lambda: run_async(graph.aupdate_state(config, values, **kwargs)))
        if new is not None:
            self.record(label, new)
        return new

    # ---------------------------------------------------------------- saver

    def saved(self, label: str, saver: InMemorySaver, thread_id: str) -> None:
        self.trace.append((label, saved_view(saver, thread_id)))

    def calls(self, label: str, saver: RecordingSaver) -> None:
        self.trace.append((label, calls_view(saver)))


# --------------------------------------------------------------------------- comparing


def run_scenario(scenario: Callable[[Rt], None], rt: Rt) -> list:
    scenario(rt)
    return rt.trace


def _fmt(x: Any) -> list[str]:
    return pprint.pformat(x, width=110, sort_dicts=True).splitlines()


def compare_traces(name: str, expected: list, got: list, who: str) -> None:
    exp, res = normalize_trace(expected), normalize_trace(got)
    if exp == res:
        return
    labels_e = [label for label, _ in exp]
    labels_g = [label for label, _ in res]
    where = "?"
    for i, ((le, ve), (lg, vg)) in enumerate(zip(exp, res, strict=False)):
        if le != lg:
            where = f"observation #{i}: expected {le!r}, got {lg!r}"
            break
        d = first_difference(ve, vg)
        if d:
            where = f"observation #{i} {le!r}: first difference at {d}"
            break
    else:
        where = f"observations: expected {labels_e}, got {labels_g}"
    diff = difflib.unified_diff(
        _fmt(exp), _fmt(res), "langgraph (expected)", f"{who} (got)", n=5, lineterm=""
    )
    raise AssertionError(f"{name}: {who} differs from LangGraph\n{where}\n" + "\n".join(diff))


def compare(scenario: Callable[[Rt], None], name: str | None = None) -> None:
    """The scenario on LangGraph and on the candidate: traces must be equal after normalization."""
    name = name or scenario.__name__
    expected = run_scenario(scenario, Rt(impl(ORACLE_PREFIX)))
    got = run_scenario(scenario, Rt(impl(CANDIDATE_PREFIX)))
    compare_traces(name, expected, got, CANDIDATE_PREFIX)


def compare_cross(scenario: Callable[[Rt], None], name: str | None = None) -> None:
    """Two-turn scenario: LangGraph for both turns is the expectation; LangGraph then the
    candidate, and the candidate then LangGraph, must each give the same trace."""
    name = name or scenario.__name__
    lg, cand = impl(ORACLE_PREFIX), impl(CANDIDATE_PREFIX)
    expected = run_scenario(scenario, Rt(lg, (lg, lg)))
    failures = []
    for turns, who in (((lg, cand), f"langgraph->{cand.prefix}"), ((cand, lg), f"{cand.prefix}->langgraph")):
        got = run_scenario(scenario, Rt(lg, turns))
        try:
            compare_traces(name, expected, got, who)
        except AssertionError as e:
            failures.append(str(e))
    if failures:
        raise AssertionError("\n\n".join(failures))

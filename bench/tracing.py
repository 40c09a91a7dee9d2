"""The tracing cases: what one graph run costs with OpenTelemetry tracing on.

One graph, an LLM node and a tool node (``graphs.agent_graph`` with
``models.UsageToolModel``: one tool call, then an answer; both replies carry
token usage), traced by:

- **lgtrace**: ``lgtrace.otel.OTelCallbackHandler`` passed in ``config["callbacks"]``
  (lgtrace graph only);
- three **anchor** instrumentations, each on the lgtrace graph (same graph:
  the difference is the tracer alone) and on the LangGraph graph:
  OpenInference, OpenLLMetry (Traceloop) and the official OpenTelemetry GenAI
  LangChain instrumentation;
- **none**: the same graph untraced (the baseline the added time is taken from);
- **noop**: a callback handler that does nothing (lgtrace graph): what
  langchain-core's callback machinery costs before any tracer does anything.

In the 200 KB capture-off cases the small-state lgtrace runs (none, noop,
lgtrace) run in the same rounds, so growth with state size is read within one
case. Rounds run the variants in a shuffled order (``Case.shuffle``).

Every tracer exports to its own ``InMemorySpanExporter`` through a
``SimpleSpanProcessor`` (export inline, on span end); no meter provider is
configured (metrics go to the global no-op provider for every tracer).

**Keeping an anchor active only during its own runs.** The anchors patch
langchain-core (and langgraph) globally. Each one is instrumented once per case
(untimed), the attributes it patched are recorded, and its patches are swapped
out again; before each of its runs the runner calls ``Bench.enter`` (put its
patches back, set its content variable) and after it ``Bench.leave`` (take them
out, check and clear the exported spans); both are outside the timed region and
outside the CPU-time measurement. Swapping costs a few setattr calls, where an
instrument/uninstrument pair costs 0.2-5 ms, builds a fresh handler every run
(no steady state), and cannot be used for OpenLLMetry at all: its
``uninstrument()`` (0.62.4) leaves ``BaseCallbackManager.__init__`` and
``Pregel.stream`` wrapped (it passes ``"langchain_core.callbacks",
"BaseCallbackManager.__init__"`` to ``unwrap``, which reads that as attribute
``BaseCallbackManager.__init__`` of module ``langchain_core.callbacks``). The
patch points are found by comparing every attribute of every langchain /
langgraph module and class before and after the first ``instrument()`` of each
anchor in the process; every variant's ``enter`` checks that no other anchor's
patch is in place.

**Content capture.** lgtrace: ``capture_content=True/False``. OpenInference:
``TraceConfig(hide_inputs=..., hide_outputs=...)`` (it masks attributes after
building them). OpenLLMetry: ``TRACELOOP_TRACE_CONTENT=true/false`` (read per
call). Official GenAI: ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=
SPAN_ONLY/NO_CONTENT`` (read when instrumenting and per call). The check run
asserts each variant exported spans, that token counts are on them, and that
the conversation text (question, history, tool arguments and result, answer)
is in some span attribute with capture on and in none with capture off.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from bench import graphs
from bench.core import Bench, Params, SkipVariant, stream_bench
from bench.impls import BASELINE, SUBJECT, load
from bench.models import UsageToolModel, _lookup, _query

# --------------------------------------------------------------------------- what runs

QUESTION = "What is the weather in Paris? [bench-question-7f3a]"
"""The user's question; its bracketed marker is looked for in the exported spans."""

HISTORY_MARK = "[history 000]"
"""Starts the first history message (looked for when there is a history)."""


def tracing_input(history_kib: int) -> dict[str, Any]:
    """The question, after ``history_kib`` KiB of earlier conversation (2 KiB messages)."""
    messages: list[BaseMessage] = []
    size = 2048
    filler = "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. "
    for i in range(history_kib * 1024 // size):
        text = (f"[history {i:03d}] " + filler * (size // len(filler) + 1))[:size]
        cls = HumanMessage if i % 2 == 0 else AIMessage
        messages.append(cls(text, id=f"history-{i}"))
    messages.append(HumanMessage(QUESTION, id="human-question"))
    return {"messages": messages}


def content_markers(history_kib: int) -> dict[str, str]:
    """Texts that only content capture can put on a span: where each comes from -> text."""
    marks = {
        "question": "[bench-question-7f3a]",
        "tool arguments": _query(0)[:40],
        "tool result": _lookup(_query(0))[:40],
        "answer": UsageToolModel().answer[:30],
    }
    if history_kib:
        marks["history"] = HISTORY_MARK
    return marks


# --------------------------------------------------------------------------- tracers


@dataclass(frozen=True)
class Anchor:
    """A third-party LangChain instrumentation the lgtrace handler is compared with."""

    name: str
    label: str
    module: str
    cls: str
    dist: str
    env: Callable[[bool], dict[str, str]]
    """Environment variables to set while it is instrumented and while it runs."""
    kwargs: Callable[[bool], dict[str, Any]] = lambda _content: {}
    """Extra ``instrument()`` arguments for content capture on/off."""

    def installed(self) -> bool:
        try:
            return importlib.util.find_spec(self.module) is not None
        except ModuleNotFoundError:
            return False


def _openinference_kwargs(content: bool) -> dict[str, Any]:
    from openinference.instrumentation import TraceConfig

    return {"config": TraceConfig(hide_inputs=not content, hide_outputs=not content)}


ANCHORS: dict[str, Anchor] = {
    a.name: a
    for a in (
        Anchor(
            "openinference",
            "OpenInference",
            "openinference.instrumentation.langchain",
            "LangChainInstrumentor",
            "openinference-instrumentation-langchain",
            env=lambda _content: {},
            kwargs=_openinference_kwargs,
        ),
        Anchor(
            "openllmetry",
            "OpenLLMetry (Traceloop)",
            "opentelemetry.instrumentation.langchain",
            "LangchainInstrumentor",
            "opentelemetry-instrumentation-langchain",
            env=lambda content: {"TRACELOOP_TRACE_CONTENT": "true" if content else "false"},
        ),
        Anchor(
            "otel_genai",
            "OTel GenAI (official)",
            "opentelemetry.instrumentation.genai.langchain",
            "LangChainInstrumentor",
            "opentelemetry-instrumentation-genai-langchain",
            env=lambda content: {
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY" if content else "NO_CONTENT"
            },
        ),
    )
}

NOOP = "noop"
"""A callback handler that does nothing: what langchain-core's callback machinery alone adds
(run managers, events dispatched to one handler) -- the floor under any callback-based tracer."""

TRACERS: tuple[str, ...] = ("none", NOOP, SUBJECT, *ANCHORS)
"""Row order of the tracing table: untraced, the callback floor, lgtrace's handler, the anchors."""

TRACER_LABELS: dict[str, str] = {
    "none": "none (untraced)",
    NOOP: "no-op callback handler",
    SUBJECT: "lgtrace OTelCallbackHandler",
    **{a.name: a.label for a in ANCHORS.values()},
}


def variant_label(graph: str, tracer: str) -> str:
    return f"{graph}+{tracer}"


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --------------------------------------------------------------------------- finding an anchor's patches

_SCANNED = ("langchain_core", "langchain", "langgraph", "langchain_openai", "langchain_community", "lgtrace")
_PRELOAD = (
    "langchain_core.callbacks",
    "langchain_core.language_models.chat_models",
    "langchain_core.retrievers",
    "langchain_core.runnables",
    "langchain_core.runnables.base",
    "langchain_core.runnables.branch",
    "langchain_core.runnables.fallbacks",
    "langchain_core.tools.base",
    "langchain_core.tracers",
    "langgraph.graph",
    "langgraph.pregel",
    "langgraph.prebuilt",
    "langgraph.prebuilt.chat_agent_executor",
    "langgraph.types",
    "langchain_openai",
    "langchain_openai.chat_models.base",
    "langchain_openai.llms.base",
)
"""Modules the anchors patch, imported before the first scan so a patch never lands in a
module imported by ``instrument()`` itself (it would not be seen as a change)."""

Patch = tuple[Any, str, Any, Any]
"""``(owner, attribute, patched value, original value)``."""

_PATCH_POINTS: dict[str, list[tuple[Any, str]]] = {}
"""Per anchor: ``(owner, attribute)`` pairs its ``instrument()`` changed (found once per process)."""


def _preload() -> None:
    for name in _PRELOAD:
        with suppress(ImportError):
            importlib.import_module(name)


def _scan() -> dict[tuple[int, str], tuple[Any, Any]]:
    """Every attribute of every scanned module and of the classes they hold: key -> (owner, value)."""
    out: dict[tuple[int, str], tuple[Any, Any]] = {}
    classes: dict[int, type] = {}
    for name, mod in list(sys.modules.items()):
        if mod is None or name.split(".", 1)[0] not in _SCANNED:
            continue
        for attr, value in list(vars(mod).items()):
            out[(id(mod), attr)] = (mod, value)
            if isinstance(value, type):
                classes.setdefault(id(value), value)
    for cls in classes.values():
        for attr, value in list(vars(cls).items()):
            out[(id(cls), attr)] = (cls, value)
    return out


def _is_patch(before: Any, after: Any) -> bool:
    return _is_proxy(after) or (callable(before) and callable(after))


def _find_patches(before: dict[tuple[int, str], tuple[Any, Any]]) -> list[tuple[Any, str]]:
    after = _scan()
    points = []
    for key, (owner, value) in after.items():
        old = before.get(key)
        if old is not None and old[1] is value:
            continue
        if old is None and not _is_proxy(value):
            continue  # a lazily imported name, a cache: not a patch
        if old is None or _is_patch(old[1], value):
            points.append((owner, key[1]))
    return points


def _raw(owner: Any, attr: str) -> Any:
    return vars(owner).get(attr, _MISSING)


_MISSING = object()


def _is_proxy(value: Any) -> bool:
    """A ``wrapt`` wrapper (how the three anchors patch); wrapt comes with any of them."""
    wrapt = sys.modules.get("wrapt")
    return wrapt is not None and isinstance(value, wrapt.ObjectProxy)


class AnchorSession:
    """One anchor instrumented (once, untimed) with its own provider and exporter; patches swapped
    in by ``activate`` and out by ``deactivate``. Shared by its lgtrace-graph and LangGraph-graph
    variants in a case."""

    def __init__(self, anchor: Anchor, content: bool) -> None:
        if not anchor.installed():
            raise SkipVariant(f"{anchor.label} is not installed (pip install {anchor.dist})")
        self.anchor = anchor
        self.content = content
        self.provider, self.exporter = _in_memory_provider()
        self.env = anchor.env(content)
        _preload()
        self.instrumentor = getattr(importlib.import_module(anchor.module), anchor.cls)()
        if getattr(self.instrumentor, "_is_instrumented_by_opentelemetry", False):
            raise RuntimeError(f"{anchor.label} is already instrumented (not by this harness?)")
        known = _PATCH_POINTS.get(anchor.name)
        before = _scan() if known is None else None
        originals = {(id(o), a): _raw(o, a) for o, a in known or ()}
        with _environ(self.env):
            self.instrumentor.instrument(
                tracer_provider=self.provider, skip_dep_check=True, **anchor.kwargs(content)
            )
        if known is None:
            assert before is not None
            known = _PATCH_POINTS[anchor.name] = _find_patches(before)
            originals = {
                (id(o), a): before[(id(o), a)][1] if (id(o), a) in before else _MISSING for o, a in known
            }
        if not known:
            raise RuntimeError(f"{anchor.label}: instrument() patched nothing that could be found")
        self.patches: list[Patch] = []
        for owner, attr in known:
            value = _raw(owner, attr)
            original = originals[(id(owner), attr)]
            if original is _MISSING and _is_proxy(value):
                original = value.__wrapped__
            if value is original:
                raise RuntimeError(f"{anchor.label}: {owner!r}.{attr} was not patched this time")
            self.patches.append((owner, attr, value, original))
        self.active = False
        self.closed = False
        self._saved_env: dict[str, str | None] = {}
        self._swap(on=False)

    def _swap(self, on: bool) -> None:
        for owner, attr, patched, original in self.patches:
            value = patched if on else original
            if value is _MISSING:
                delattr(owner, attr)
            else:
                setattr(owner, attr, value)

    def is_out(self) -> bool:
        """None of this anchor's patches is in place."""
        return all(_raw(owner, attr) is original for owner, attr, _p, original in self.patches)

    def activate(self) -> None:
        assert not self.active and not self.closed
        self._saved_env = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        self._swap(on=True)
        self.active = True

    def deactivate(self) -> None:
        if not self.active:
            return
        self._swap(on=False)
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self.active = False

    def close(self) -> None:
        """Patches out, then ``uninstrument()`` (resets the instrumentor singleton for the next case)."""
        if self.closed:
            return
        self.deactivate()
        self.closed = True
        self.instrumentor.uninstrument()
        self._swap(on=False)  # whatever uninstrument() did, leave the originals in place
        self.exporter.clear()


def _in_memory_provider() -> tuple[Any, Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


# --------------------------------------------------------------------------- spans check


class DroppedAttributes(logging.Filter):
    """Counts (and swallows) the SDK's "Attributes dict is full" warnings: a span got more than
    the default limit of 128 attributes (OpenInference flattens every message of a 200 KB history
    into attributes) and the oldest were dropped. Once per attribute: it would flood the output."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Attributes dict is full"):
            self.count += 1
            return False
        return True


DROPPED = DroppedAttributes()
logging.getLogger("opentelemetry.attributes").addFilter(DROPPED)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple | list):
        for v in value:
            if isinstance(v, str):
                yield v


def inspect_spans(spans: Any, markers: dict[str, str]) -> dict[str, Any]:
    """Span count and names, whether token counts are recorded, which markers are where."""
    found: dict[str, set[str]] = {}
    token_keys: set[str] = set()
    for span in spans:
        for key, value in (span.attributes or {}).items():
            if "token" in key and isinstance(value, int) and not isinstance(value, bool) and value > 0:
                token_keys.add(key)
            for text in _strings(value):
                for what, mark in markers.items():
                    if mark in text:
                        found.setdefault(what, set()).add(key)
    return {
        "spans_per_run": len(spans),
        "span_names": dict(sorted(Counter(s.name for s in spans).items())),
        "token_attributes": sorted(token_keys),
        "content_found": {k: sorted(v) for k, v in sorted(found.items())},
    }


def verify_spans(info: dict[str, Any], content: bool, markers: dict[str, str], who: str) -> None:
    if info["spans_per_run"] <= 0:
        raise AssertionError(f"{who}: no span exported")
    if not info["token_attributes"]:
        raise AssertionError(f"{who}: no token counts on any span")
    found = info["content_found"]
    if content:
        missing = [what for what in markers if what not in found]
        if missing:
            raise AssertionError(f"{who}: content capture on, but no span holds the {', '.join(missing)}")
    elif found:
        where = "; ".join(f"{what} in {', '.join(keys[:4])}" for what, keys in found.items())
        raise AssertionError(f"{who}: content capture off, but spans hold content: {where}")


# --------------------------------------------------------------------------- variants


class TracingContext:
    """What the variants of one case share: the anchor sessions (built on first use)."""

    def __init__(self, content: bool) -> None:
        self.content = content
        self.sessions: dict[str, AnchorSession] = {}

    def session(self, anchor: str) -> AnchorSession:
        if anchor not in self.sessions:
            self.sessions[anchor] = AnchorSession(ANCHORS[anchor], self.content)
        return self.sessions[anchor]

    def assert_clean(self, active: AnchorSession | None = None) -> None:
        """No anchor's patch is in place but ``active``'s."""
        for s in self.sessions.values():
            if s is not active and not s.closed and not s.is_out():
                raise AssertionError(f"{s.anchor.label} is still patched in outside its own runs")

    def close(self) -> None:
        for s in self.sessions.values():
            s.close()


class NoopHandler(BaseCallbackHandler):
    """Handles every event by doing nothing, inline (as lgtrace's handler runs).

    It implements ``on_chat_model_start``: without it langchain-core falls back to
    ``on_llm_start`` and renders every message into a prompt string first
    (``get_buffer_string``), a cost proportional to the history that no tracer here pays.
    """

    run_inline = True

    def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class _SpanCheck:
    exporter: Any
    expected: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def take(self) -> int:
        n = len(self.exporter.get_finished_spans())
        self.exporter.clear()
        return n


def tracing_bench(graph_impl: str, tracer: str, p: Params, ctx: TracingContext) -> Bench:
    """One variant: ``graph_impl``'s graph (``lgtrace``/``langgraph``) traced by ``tracer``."""
    aio = p["mode"] == "async"
    content = p["content"] == "content_on"
    history = p["history_kib"]
    markers = content_markers(history)
    graph = graphs.agent_graph(load(graph_impl), UsageToolModel(), aio=aio)
    inp = tracing_input(history)
    who = variant_label(graph_impl, tracer)
    session: AnchorSession | None = None
    config: dict[str, Any] | None = None
    spans: _SpanCheck | None = None
    if tracer == SUBJECT:
        if graph_impl != SUBJECT:
            raise SkipVariant("lgtrace's handler is only used with lgtrace graphs")
        from lgtrace.otel import OTelCallbackHandler

        provider, exporter = _in_memory_provider()
        handler = OTelCallbackHandler(tracer_provider=provider, meter_provider=None, capture_content=content)
        config = {"callbacks": [handler]}
        spans = _SpanCheck(exporter)
    elif tracer == NOOP:
        config = {"callbacks": [NoopHandler()]}
    elif tracer != "none":
        session = ctx.session(tracer)
        spans = _SpanCheck(session.exporter)
    inner = stream_bench(graph, inp, aio=aio, config=config, verify=graphs.check_tool_messages)

    def enter() -> None:
        ctx.assert_clean()
        if session is not None:
            session.activate()

    def leave() -> None:
        if session is not None:
            session.deactivate()
        if spans is not None:
            n = spans.take()
            if spans.expected is not None and n != spans.expected:
                raise AssertionError(f"{who}: {n} spans exported in a run, {spans.expected} in the check run")

    def check() -> Any:
        enter()
        try:
            if spans is not None:
                spans.take()
                dropped = DROPPED.count
                inner.run()
                exported = spans.exporter.get_finished_spans()
                info = inspect_spans(exported, markers)
                info["attributes_dropped_per_run"] = DROPPED.count - dropped
                spans.take()
                verify_spans(info, content, markers, who)
                spans.expected = info["spans_per_run"]
                bench.info.update(info)
            result = inner.check()
        finally:
            if session is not None:
                session.deactivate()
            if spans is not None:
                spans.take()
        ctx.assert_clean()
        return result

    bench = Bench(run=inner.run, check=check, close=inner.close, enter=enter, leave=leave)
    return bench


SMALL = "small:"
"""Label prefix of the small-state control variants run inside the 200 KB capture-off cases."""


def reference_of(label: str) -> str:
    """The variant whose result ``label``'s must equal: the untraced LangGraph run of the same input."""
    if label.startswith(SMALL):
        return SMALL + variant_label(SUBJECT, "none")
    return variant_label(BASELINE, "none")


def tracing_variants(p: Params) -> list[tuple[str, Callable[[], Bench]]]:
    """Every (graph, tracer) pair of a case, the untraced LangGraph run (the reference) first.

    With history and capture off, the small-state runs of the lgtrace graph (untraced, no-op
    handler, lgtrace's handler) are added as controls, so that whether lgtrace's added time grows
    with state size is read from the same interleaved rounds, not from two cases run at different
    times (load drifts between cases on a shared machine).
    """
    ctx = TracingContext(p["content"] == "content_on")
    pairs = [(BASELINE, "none"), (SUBJECT, "none"), (SUBJECT, NOOP), (SUBJECT, SUBJECT)]
    for anchor in ANCHORS:
        pairs += [(SUBJECT, anchor), (BASELINE, anchor)]
    out: list[tuple[str, Callable[[], Bench]]] = [
        (variant_label(g, t), lambda g=g, t=t: make(g, t, p)) for g, t in pairs
    ]
    if p["history_kib"] and p["content"] == "content_off":
        small = {**p, "history_kib": 0}
        out += [
            (SMALL + variant_label(SUBJECT, t), lambda t=t: make(SUBJECT, t, small))
            for t in ("none", NOOP, SUBJECT)
        ]
    closed: list[bool] = []

    def make(graph_impl: str, tracer: str, params: Params) -> Bench:
        bench = tracing_bench(graph_impl, tracer, params, ctx)
        inner_close = bench.close

        def close() -> None:
            inner_close()
            if not closed:  # the first close ends every anchor session of the case (runs are over)
                closed.append(True)
                ctx.close()

        bench.close = close
        return bench

    return out


# --------------------------------------------------------------------------- derived numbers


def _split(label: str) -> tuple[str, str]:
    """``"small:lgtrace+noop"`` -> ``("small:lgtrace", "noop")``."""
    graph, _, tracer = label.rpartition("+")
    return graph, tracer


def added_times(rec: dict[str, Any]) -> None:
    """``rec["tracing"]``: per variant the added wall / CPU time over the untraced run of the same
    graph and input; lgtrace's added time over the cheapest anchor's (on the lgtrace graph, and on
    LangGraph's); with small-state controls, lgtrace's added time at both sizes (same rounds)."""
    variants = rec["variants"]
    out: dict[str, Any] = {"added_s": {}, "added_cpu_s": {}}
    for label, v in variants.items():
        graph, tracer = _split(label)
        base = variants.get(f"{graph}+none", {})
        if tracer == "none" or "median_s" not in v or "median_s" not in base:
            continue
        out["added_s"][label] = v["median_s"] - base["median_s"]
        out["added_cpu_s"][label] = v["cpu_median_s"] - base["cpu_median_s"]
    ours = out["added_s"].get(variant_label(SUBJECT, SUBJECT))
    for graph_impl in (SUBJECT, BASELINE):
        anchors = {
            a: out["added_s"][variant_label(graph_impl, a)]
            for a in ANCHORS
            if variant_label(graph_impl, a) in out["added_s"]
        }
        if ours is None or not anchors:
            continue
        cheapest = min(anchors, key=lambda a: anchors[a])
        out[f"vs_cheapest_anchor_on_{graph_impl}"] = {
            "anchor": cheapest,
            "anchor_added_s": anchors[cheapest],
            "ratio": ours / anchors[cheapest] if anchors[cheapest] > 0 else None,
        }
    small = SMALL + variant_label(SUBJECT, SUBJECT)
    if ours is not None and small in out["added_s"]:
        a, b = out["added_s"][small], ours
        out["growth"] = {
            "small_added_s": a,
            "added_s": b,
            "small_added_cpu_s": out["added_cpu_s"][small],
            "added_cpu_s": out["added_cpu_s"][variant_label(SUBJECT, SUBJECT)],
            "grows": b > a * GROWTH_TOLERANCE + GROWTH_SLACK_S,
        }
    rec["tracing"] = out


TARGET_RATIO = 0.5
GROWTH_TOLERANCE = 1.25
GROWTH_SLACK_S = 30e-6
"""lgtrace's added time with history (capture off) may exceed the small-state one, measured in
the same rounds, by this factor plus this many seconds before it counts as growing: noise."""


def fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _cell(rec: dict[str, Any], label: str, fmt_s: Callable[[float | None], str]) -> tuple[str, str]:
    """A variant's median, added and cpu-added times; its spans per run."""
    v = rec["variants"].get(label, {})
    if v.get("status") not in (None, "ok"):
        return f"{v['status']:>30}", "-"
    added = rec["tracing"]["added_s"].get(label)
    cpu = rec["tracing"]["added_cpu_s"].get(label)
    text = (
        f"{fmt_s(v.get('median_s')):>10}{fmt_s(added) if added is not None else '-':>10}"
        f"{fmt_s(cpu) if cpu is not None else '-':>10}"
    )
    return text, str(v["spans_per_run"]) if "spans_per_run" in v else "-"


def format_tracing(records: list[dict[str, Any]], fmt_s: Callable[[float | None], str]) -> str:
    """The tracing table: per case and tracer, medians and added times on both graphs."""
    lines = [
        "[tracing] per graph run; added = traced median - untraced median of the same graph "
        "(cpu+: the same for process CPU time)",
        f"{'case / tracer':<40} {'lgtrace graph':^30}  {'LangGraph graph':^30}  {'spans':>7}",
        f"{'':<40} {'median':>10}{'added':>10}{'cpu+':>10}  {'median':>10}{'added':>10}{'cpu+':>10}  "
        f"{'lgt/lg':>7}",
    ]
    lines.append("-" * len(lines[-1]))
    for rec in records:
        if rec["status"] in ("skipped", "mismatch") or not rec.get("tracing"):
            lines.append(f"{rec['name']:<40} {rec['status'].upper()}: {rec['reason']}")
            continue
        lines.append(f"{rec['name']}  (n={rec['repeats']}, {rec['status']})")
        tr = rec["tracing"]
        variants = rec["variants"]

        for tracer in TRACERS:
            (left, lspans), (right, rspans) = (
                _cell(rec, variant_label(g, tracer), fmt_s) for g in (SUBJECT, BASELINE)
            )
            lines.append(f"  {TRACER_LABELS[tracer]:<38} {left}  {right}  {lspans + '/' + rspans:>7}")
        if any(label.startswith(SMALL) for label in variants):
            lines.append("  small-state controls (same rounds):")
            for tracer in ("none", NOOP, SUBJECT):
                left, lspans = _cell(rec, SMALL + variant_label(SUBJECT, tracer), fmt_s)
                lines.append(f"    {TRACER_LABELS[tracer]:<36} {left}  {'':>30}  {lspans + '/-':>7}")
        for graph_impl, where in ((SUBJECT, "lgtrace graph"), (BASELINE, "LangGraph graph")):
            vs = tr.get(f"vs_cheapest_anchor_on_{graph_impl}")
            if vs is None:
                continue
            ratio = vs["ratio"]
            verdict = ""
            if graph_impl == SUBJECT and ratio is not None:
                verdict = f"  [target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'MISSED'}]"
            lines.append(
                f"  => lgtrace added / cheapest anchor added ({ANCHORS[vs['anchor']].label}, {where}, "
                f"{fmt_s(vs['anchor_added_s'])}): {fmt_ratio(ratio)}{verdict}"
            )
        growth = tr.get("growth")
        if growth:
            lines.append(
                f"  => lgtrace added time, small state -> this state (same rounds): "
                f"{fmt_s(growth['small_added_s'])} -> {fmt_s(growth['added_s'])} "
                f"(cpu {fmt_s(growth['small_added_cpu_s'])} -> {fmt_s(growth['added_cpu_s'])})  "
                f"[target: no growth: {'MISSED' if growth['grows'] else 'met'}]"
            )
        for label, v in variants.items():
            if v.get("status") not in (None, "ok"):
                lines.append(f"  ({label} {v['status']}: {v.get('reason')})")
            elif v.get("attributes_dropped_per_run"):
                lines.append(
                    f"  ({label}: {v['attributes_dropped_per_run']} attributes dropped per run, "
                    "over the SDK's default limit of 128 per span)"
                )
        for label, errors in (rec.get("callback_errors") or {}).items():
            for what, count in errors.items():
                lines.append(f"  ({label}: langchain-core logged {count}x 'Error in {what}')")
    return "\n".join(lines)

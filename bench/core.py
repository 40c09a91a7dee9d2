"""What a benchmark case is, and the building blocks that time one graph run.

A ``Case`` builds one ``Bench`` per implementation (and optionally an
implementation-free anchor, such as the bare model). A ``Bench`` has:

- ``check()``: one untimed run whose normalised result is compared across
  implementations before anything is timed (it may raise ``SkipVariant``);
- ``run()``: one timed run, returning the measured quantity in seconds (whole
  run, or time to the first item, as the case says);
- ``close()``: releases what ``make`` created (an event loop);
- ``enter()`` / ``leave()``: called by the runner just before / after every
  ``run()`` (warm-up, timed, memory, profile), outside the timed region and the
  CPU-time measurement: a variant that needs process-wide state only while it
  runs (a global instrumentation) switches it on and off there. ``check()``
  does its own.

A ``Case`` normally builds one ``Bench`` per implementation; a case with
``variants`` builds any number of labelled ones instead (the tracing cases:
one graph under several tracers), all compared with the ``reference`` variant.
"""

from __future__ import annotations

import asyncio
import dataclasses
import reprlib
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.messages import BaseMessage

from bench.impls import Impl

Params = dict[str, Any]
Derived = Literal["none", "per_unit", "per_unit_over_anchor", "throughput"]


class SkipVariant(Exception):
    """Raised by ``Bench.check`` when this implementation cannot run the case yet."""


def _noop() -> None:
    return None


@dataclass
class Bench:
    run: Callable[[], float]
    check: Callable[[], Any]
    close: Callable[[], None] = _noop
    enter: Callable[[], None] = _noop
    leave: Callable[[], None] = _noop
    info: dict[str, Any] = field(default_factory=dict)
    """Filled by ``check()``; copied into the variant's JSON record (e.g. span counts)."""


@dataclass(frozen=True)
class Case:
    """One row of the results table."""

    name: str
    group: str
    description: str
    params: Params
    quick_params: Params
    make: Callable[[Impl, Params], Bench] | None = None
    anchor: Callable[[Params], Bench] | None = None
    anchor_label: str = "anchor"
    metric: str = "wall time of one run, stream consumed to the end"
    unit: str = ""
    units: Callable[[Params], float] | None = None
    derived: Derived = "none"
    slot: str | None = None
    """Set for a placeholder: the reason it is skipped (printed and recorded)."""
    repeat_factor: float = 1.0
    """Scales the repeat budget (heavy cases use fewer repeats)."""
    max_repeats: int | None = None
    """Caps the rounds (and overrides the minimum) for very heavy cases."""
    warmup: int | None = None
    """Warm-up runs per variant (default: the settings'); the untimed check run warms up too."""
    tags: tuple[str, ...] = field(default_factory=tuple)
    variants: Callable[[Params], list[tuple[str, Callable[[], Bench]]]] | None = None
    """Instead of one Bench per implementation (and ``make``/``anchor``): labelled variants."""
    reference: str | Callable[[str], str] | None = None
    """With ``variants``: the label every variant's check result must equal (or a function of the
    variant's label giving it; default: the first variant)."""
    shuffle: bool = False
    """Run the variants of each round in a (seeded) random order instead of A B, B A, ...: with
    many variants a fixed order gives each one the same predecessor every round, and a run right
    after a heavy one (large allocations freed) is slower, a bias that shuffling spreads evenly."""
    finish: Callable[[dict[str, Any]], None] | None = None
    """Called with the case's record after timing, to add derived numbers."""


# --------------------------------------------------------------------------- normalising results


_SCALARS = (str, int, float, bool, type(None))


def norm(value: Any, _memo: dict[int, Any] | None = None) -> Any:
    """A plain, comparable form: messages lose their ids, schemas become dicts, tuples lists.

    Copy-on-change with a memo by ``id``: a subtree that needs no change is returned
    as is, and a subtree shared by many stream items is walked once. States share
    most of their structure (and both implementations share the input), so this
    keeps checking big states cheap.
    """
    if isinstance(value, _SCALARS):
        return value
    memo: dict[int, Any] = {} if _memo is None else _memo
    key = id(value)
    if key in memo:
        return memo[key]
    out: Any
    if isinstance(value, BaseMessage):
        calls = [
            (c["name"], norm(c["args"], memo), c.get("id")) for c in getattr(value, "tool_calls", []) or []
        ]
        out = (
            type(value).__name__.removesuffix("Chunk"),
            norm(value.content, memo),
            calls,
            getattr(value, "tool_call_id", None),
            value.name,
        )
    elif isinstance(value, dict):
        items = {k if isinstance(k, str) else str(k): norm(v, memo) for k, v in value.items()}
        same = type(value) is dict and all(
            k in value and items[k] is v for k, v in value.items() if isinstance(k, str)
        )
        out = value if same and len(items) == len(value) else items
    elif isinstance(value, list | tuple):
        elems = [norm(v, memo) for v in value]
        same = type(value) is list and all(a is b for a, b in zip(elems, value, strict=True))
        out = value if same else elems
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: norm(getattr(value, f.name), memo) for f in dataclasses.fields(value)}
    elif hasattr(value, "model_dump") and not isinstance(value, type):
        dumped = value.model_dump()
        memo.setdefault(-1, []).append(dumped)  # keep it alive: its id must not be reused
        out = norm(dumped, memo)
    else:
        out = value
    memo[key] = out
    return out


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxtuple = 4, 8, 8, 8
_SHORT.maxstring, _SHORT.maxother = 120, 60


def _item_key(item: Any) -> str:
    """A bounded-cost sort key: a truncated repr (full reprs of big states cost seconds)."""
    return _SHORT.repr(item)


def multiset(items: list[Any]) -> list[Any]:
    """Stream items, normalised and stably sorted by a truncated repr, so tasks of one step
    that finish in another order (parallel nodes, ``Send`` fan-outs) still compare equal."""
    memo: dict[int, Any] = {}
    return sorted((norm(i, memo) for i in items), key=_item_key)


def first_difference(a: Any, b: Any, path: str = "$") -> str | None:
    """Where two normalised values first differ, as a short human-readable path."""
    if a == b:
        return None
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a.keys() ^ b.keys())[:5]} differ"
        for k in a:
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if a != b:
        return f"{path}: {str(a)[:80]!r} != {str(b)[:80]!r}"
    return None


# --------------------------------------------------------------------------- running graphs


def _on_loop(aio: bool) -> tuple[Callable[[Coroutine[Any, Any, Any]], Any], Callable[[], None]]:
    """``(run_coroutine, close)``; one event loop per Bench, reused by every run."""
    if not aio:
        return (lambda c: c), _noop
    loop = asyncio.new_event_loop()
    return loop.run_until_complete, loop.close


def stream_bench(
    graph: Any,
    inp: Any,
    *,
    aio: bool,
    config: dict[str, Any] | None = None,
    mode: str | None = None,
    summarize: Callable[[list[Any]], Any] = multiset,
    final: bool = True,
    verify: Callable[[Any], None] | None = None,
) -> Bench:
    """Time consuming ``stream``/``astream`` to the end; check = stream summary + final state."""
    kwargs: dict[str, Any] = {} if mode is None else {"stream_mode": mode}
    on_loop, close = _on_loop(aio)

    if aio:

        async def atimed() -> float:
            t0 = time.perf_counter()
            async for _ in graph.astream(inp, config, **kwargs):
                pass
            return time.perf_counter() - t0

        async def acollect() -> tuple[list[Any], Any]:
            chunks = [c async for c in graph.astream(inp, config, **kwargs)]
            return chunks, (await graph.ainvoke(inp, config) if final else None)

        def run() -> float:
            return on_loop(atimed())  # type: ignore[no-any-return]

        def collect() -> tuple[list[Any], Any]:
            return on_loop(acollect())  # type: ignore[no-any-return]

    else:

        def run() -> float:
            t0 = time.perf_counter()
            for _ in graph.stream(inp, config, **kwargs):
                pass
            return time.perf_counter() - t0

        def collect() -> tuple[list[Any], Any]:
            chunks = list(graph.stream(inp, config, **kwargs))
            return chunks, (graph.invoke(inp, config) if final else None)

    def check() -> Any:
        chunks, state = collect()
        if verify is not None:
            verify(state)
        return {"items": len(chunks), "stream": summarize(chunks), "final": norm(state)}

    return Bench(run=run, check=check, close=close)


def first_item_bench(
    graph: Any,
    inp: Any,
    *,
    aio: bool,
    config: dict[str, Any] | None = None,
    mode: str | None = None,
    accept: Callable[[Any], bool] = lambda _: True,
    summarize: Callable[[Any], Any] = norm,
    require: str = "",
) -> Bench:
    """Time from calling ``stream`` to the first accepted item; then close the stream (untimed).

    ``require``: if set, the implementation is skipped (``SkipVariant``) when its
    stream has no accepted item at all, with this text as the reason.
    """
    kwargs: dict[str, Any] = {} if mode is None else {"stream_mode": mode}
    on_loop, close = _on_loop(aio)

    if aio:

        async def afirst() -> tuple[float, Any]:
            t0 = time.perf_counter()
            stream = graph.astream(inp, config, **kwargs)
            try:
                async for item in stream:
                    if accept(item):
                        return time.perf_counter() - t0, item
                return -1.0, None
            finally:
                await stream.aclose()

        def first() -> tuple[float, Any]:
            return on_loop(afirst())  # type: ignore[no-any-return]

    else:

        def first() -> tuple[float, Any]:
            t0 = time.perf_counter()
            stream = graph.stream(inp, config, **kwargs)
            try:
                for item in stream:
                    if accept(item):
                        return time.perf_counter() - t0, item
                return -1.0, None
            finally:
                stream.close()

    def run() -> float:
        return first()[0]

    def check() -> Any:
        elapsed, item = first()
        if elapsed < 0:
            if require:
                raise SkipVariant(require)
            raise AssertionError("the stream ended without an item")
        return {"first": summarize(item)}

    return Bench(run=run, check=check, close=close)

"""Run cases: validate once, then time the implementations interleaved in one process.

For each case: build every variant (untimed), run each once and compare the
normalised results of lgtrace and LangGraph (a mismatch stops the case: a
benchmark of a wrong result is worthless), warm up, then take ``repeats``
rounds; each round runs every variant once, in alternating order (A B, B A,
...), so drift on a shared machine hits both alike. Memory is measured in a
separate, untimed run under ``tracemalloc`` (it slows the run down).
"""

from __future__ import annotations

import cProfile
import gc
import io
import logging
import math
import pstats
import random
import statistics
import sys
import threading
import time
import traceback
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.core import Bench, Case, SkipVariant, first_difference
from bench.impls import BASELINE, IMPLEMENTATIONS, SUBJECT, load


class CallbackErrorCounter(logging.Filter):
    """Counts (and swallows) langchain-core's "Error in <handler>.<event> callback" warnings.

    A handler that raises is logged once per event by langchain-core; during a
    timed loop that floods the output. The count per case and variant is
    recorded in the JSON (``callback_errors``) and shown under the table row.
    """

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if not msg.startswith("Error in "):
            return True
        key = msg.split(" callback:", 1)[0].removeprefix("Error in ") + ": " + msg.split(": ", 1)[-1][:100]
        self.counts[key] = self.counts.get(key, 0) + 1
        return False

    def take(self) -> dict[str, int]:
        counts, self.counts = self.counts, {}
        return counts

    def charge(self, rec: dict[str, Any], label: str) -> None:
        """Attribute what was counted since the last call to variant ``label`` of ``rec``."""
        for what, n in self.take().items():
            per = rec.setdefault("callback_errors", {}).setdefault(label, {})
            per[what] = per.get(what, 0) + n


CALLBACK_ERRORS = CallbackErrorCounter()
logging.getLogger("langchain_core.callbacks.manager").addFilter(CALLBACK_ERRORS)


@dataclass(frozen=True)
class Settings:
    quick: bool
    min_repeats: int
    max_repeats: int
    budget_s: float
    """Target timed seconds per case, all variants together (before ``repeat_factor``)."""
    warmup: int = 1
    memory: bool = True


FULL = Settings(quick=False, min_repeats=5, max_repeats=200, budget_s=6.0)
QUICK = Settings(quick=True, min_repeats=3, max_repeats=10, budget_s=0.2)


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 2)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}: {str(exc)[:300]}{where}"


def traced_peak(run: Callable[[], float]) -> int:
    """Peak bytes allocated (tracemalloc) during one run, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return max(0, peak - base)


def _derive(case: Case, params: dict[str, Any], medians: dict[str, float]) -> dict[str, float]:
    if case.units is None or case.derived == "none":
        return {}
    units = case.units(params)
    out: dict[str, float] = {}
    anchor = medians.get(case.anchor_label) if case.anchor else None
    for label, med in medians.items():
        if case.derived == "per_unit":
            out[label] = med / units
        elif case.derived == "throughput":
            out[label] = units / med
        elif case.derived == "per_unit_over_anchor" and label != case.anchor_label and anchor is not None:
            out[label] = (med - anchor) / units
    return out


def run_case(case: Case, settings: Settings, log: Callable[[str], None] = print) -> dict[str, Any]:
    params = case.quick_params if settings.quick else case.params
    rec: dict[str, Any] = {
        "name": case.name,
        "group": case.group,
        "description": case.description,
        "params": params,
        "metric": case.metric,
        "unit": case.unit,
        "derived_kind": case.derived,
        "anchor_label": case.anchor_label if case.anchor else None,
        "status": "ok",
        "reason": None,
        "repeats": 0,
        "variants": {},
        "ratio": None,
        "cpu_ratio": None,
    }
    if case.slot is not None or (case.make is None and case.variants is None):
        rec["status"], rec["reason"] = "skipped", case.slot or "not implemented"
        return rec

    variants: dict[str, dict[str, Any]] = rec["variants"]
    benches: dict[str, Bench] = {}
    makers: list[tuple[str, Callable[[], Bench]]]
    if case.variants is not None:
        makers = case.variants(params)
    else:
        makers = [
            (prefix, lambda prefix=prefix: case.make(load(prefix), params))  # type: ignore[misc]
            for prefix in IMPLEMENTATIONS
        ]
    if case.anchor is not None:
        anchor = case.anchor
        makers.append((case.anchor_label, lambda: anchor(params)))
    t_check = time.perf_counter()
    CALLBACK_ERRORS.take()
    try:
        checks: dict[str, Any] = {}
        for label, make in makers:
            try:
                bench = benches[label] = make()
                checks[label] = bench.check()
                variants[label] = {"status": "ok", **bench.info}
                CALLBACK_ERRORS.charge(rec, label)
            except SkipVariant as e:
                variants[label] = {"status": "skipped", "reason": str(e)}
            except Exception as e:
                variants[label] = {"status": "error", "reason": _describe(e)}
        if case.variants is not None:
            if not _compare_variants(case, rec, checks):
                return rec
        elif BASELINE not in checks:
            rec["status"] = "error"
            rec["reason"] = f"{BASELINE} failed: {variants[BASELINE].get('reason')}"
            return rec
        elif SUBJECT in checks:
            diff = first_difference(checks[SUBJECT], checks[BASELINE])
            if diff is not None:
                rec["status"], rec["reason"] = "mismatch", f"results differ: {diff}"
                return rec
        else:
            sub = variants[SUBJECT]
            rec["status"] = "partial" if sub["status"] == "skipped" else "error"
            rec["reason"] = f"{SUBJECT} {sub['status']}: {sub['reason']}"
        live = [label for label in benches if variants[label]["status"] == "ok"]
        rec["phases_s"] = {"build_and_check": round(time.perf_counter() - t_check, 3)}
        _time_or_error(case, settings, rec, {label: benches[label] for label in live})
        if case.finish is not None and rec["status"] != "error":
            case.finish(rec)
    finally:
        for bench in benches.values():
            bench.close()
        CALLBACK_ERRORS.charge(rec, "unattributed")
    return rec


def _compare_variants(case: Case, rec: dict[str, Any], checks: dict[str, Any]) -> bool:
    """A case with ``variants``: every result must equal the reference's. False: nothing to time."""
    variants = rec["variants"]
    first = next(iter(variants))
    reference = case.reference
    for label in variants:
        ref = reference(label) if callable(reference) else reference or first
        if ref not in checks:
            rec["status"] = "error"
            rec["reason"] = f"reference {ref} {variants[ref]['status']}: {variants[ref].get('reason')}"
            return False
        if label in checks:
            diff = first_difference(checks[label], checks[ref])
            if diff is not None:
                rec["status"], rec["reason"] = "mismatch", f"{label} differs from {ref}: {diff}"
                return False
    failed = {label: v for label, v in variants.items() if v["status"] != "ok"}
    if failed:
        errors = any(v["status"] == "error" for v in failed.values())
        rec["status"] = "error" if errors else "partial"
        rec["reason"] = "; ".join(f"{label} {v['status']}: {v['reason']}" for label, v in failed.items())
    return True


def _time_or_error(case: Case, settings: Settings, rec: dict[str, Any], benches: dict[str, Bench]) -> None:
    """``_time``; a failure while timing (a variant's ``leave()`` check, say) marks the case an error."""
    try:
        _time(case, settings, rec, benches)
    except Exception as e:
        rec["status"], rec["reason"] = "error", f"while timing: {_describe(e)}"


def _time(case: Case, settings: Settings, rec: dict[str, Any], benches: dict[str, Bench]) -> None:
    variants = rec["variants"]
    labels = list(benches)
    gc.collect()
    gc.freeze()  # objects built so far (graphs, inputs) are no longer scanned by the collector
    phases = rec.setdefault("phases_s", {})
    t0 = time.perf_counter()
    try:
        estimate = {label: 0.0 for label in labels}
        for _ in range(settings.warmup if case.warmup is None else case.warmup):
            for label in labels:
                estimate[label] = _run_once(benches[label])
                CALLBACK_ERRORS.charge(rec, label)
        # rounds: as many as fit the budget (estimated from the warm-up, and re-checked
        # as we go, since one warm-up run is a poor estimate on a busy machine)
        budget = settings.budget_s * case.repeat_factor
        round_s = max(sum(estimate.values()), 1e-9) if any(estimate.values()) else float("inf")
        repeats = math.ceil(budget / round_s)
        repeats = max(settings.min_repeats, min(settings.max_repeats, repeats))
        if case.max_repeats is not None:
            repeats = min(repeats, case.max_repeats)
        t1 = time.perf_counter()
        phases["warmup"] = round(t1 - t0, 3)
        samples: dict[str, list[float]] = {label: [] for label in labels}
        cpu: dict[str, list[float]] = {label: [] for label in labels}
        rng = random.Random(0)
        for i in range(repeats):
            if i >= settings.min_repeats and time.perf_counter() - t1 > budget:
                repeats = i
                break
            gc.collect()
            if case.shuffle:
                order = labels[:]
                rng.shuffle(order)
            else:
                order = labels if i % 2 == 0 else labels[::-1]
            for label in order:
                bench = benches[label]
                bench.enter()
                try:
                    c0 = time.process_time()
                    samples[label].append(bench.run())
                    cpu[label].append(time.process_time() - c0)
                finally:
                    bench.leave()
                CALLBACK_ERRORS.charge(rec, label)
        rec["repeats"] = repeats
        t2 = time.perf_counter()
        phases["timing"] = round(t2 - t1, 3)
        medians: dict[str, float] = {}
        for label in labels:
            xs = samples[label]
            med = medians[label] = statistics.median(xs)
            q = statistics.quantiles(xs, n=4) if len(xs) >= 2 else [med, med, med]
            variants[label].update(
                median_s=med,
                min_s=min(xs),
                q1_s=q[0],
                q3_s=q[2],
                samples_s=[round(x, 9) for x in xs],
                cpu_median_s=statistics.median(cpu[label]),
            )
        for label, value in _derive(case, rec["params"], medians).items():
            variants[label]["derived"] = value
        if SUBJECT in medians and BASELINE in medians:
            rec["ratio"] = medians[SUBJECT] / medians[BASELINE]
            cpu_base = variants[BASELINE]["cpu_median_s"]
            rec["cpu_ratio"] = variants[SUBJECT]["cpu_median_s"] / cpu_base if cpu_base > 0 else None
        if settings.memory:
            for label in labels:
                bench = benches[label]
                bench.enter()
                try:
                    variants[label]["peak_kib"] = traced_peak(bench.run) / 1024
                finally:
                    bench.leave()
                CALLBACK_ERRORS.charge(rec, label)
            phases["memory"] = round(time.perf_counter() - t2, 3)
    finally:
        gc.unfreeze()


def _run_once(bench: Bench) -> float:
    bench.enter()
    try:
        return bench.run()
    finally:
        bench.leave()


def _profile_target(case: Case, params: dict[str, Any], prefix: str) -> tuple[str, Bench]:
    """The Bench ``--profile PREFIX`` runs: the implementation's, or (a case with ``variants``) the
    variant labelled PREFIX, else ``PREFIX+PREFIX`` (lgtrace's graph under lgtrace's handler), else
    the first traced one of that implementation (``PREFIX+...``)."""
    if case.variants is None:
        assert case.make is not None
        return prefix, case.make(load(prefix), params)
    makers = dict(case.variants(params))
    label = prefix if prefix in makers else f"{prefix}+{prefix}" if f"{prefix}+{prefix}" in makers else None
    if label is None:
        candidates = [k for k in makers if k.startswith(prefix + "+") and not k.endswith("+none")]
        if not candidates:
            raise SystemExit(f"{case.name}: no variant {prefix!r}; variants: {', '.join(makers)}")
        label = candidates[0]
    bench = makers[label]()
    bench.check()
    return label, bench


def profile_case(case: Case, settings: Settings, prefix: str = SUBJECT, top: int = 25) -> str:
    """cProfile one run of ``prefix``'s variant (after a warm-up run); the top of the report.

    Threads started during the run (worker pools of sync runs) are profiled too,
    each with its own profiler, and merged into one report.
    """
    if case.slot is not None or (case.make is None and case.variants is None):
        return f"{case.name}: nothing to profile ({case.slot})"
    params = case.quick_params if settings.quick else case.params
    prefix, bench = _profile_target(case, params, prefix)
    profiles: list[cProfile.Profile] = []
    original_run = threading.Thread.run

    def profiled_run(thread: threading.Thread) -> None:
        prof = cProfile.Profile()
        profiles.append(prof)
        prof.runcall(original_run, thread)

    try:
        _run_once(bench)
        main = cProfile.Profile()
        bench.enter()
        threading.Thread.run = profiled_run  # type: ignore[method-assign]
        try:
            main.enable()
            bench.run()
            main.disable()
        finally:
            threading.Thread.run = original_run  # type: ignore[method-assign]
            bench.leave()
    finally:
        bench.close()
    out = io.StringIO()
    stats = pstats.Stats(main, stream=out)
    for prof in profiles:
        stats.add(prof)
    stats.strip_dirs()
    threads = f" (+{len(profiles)} threads)" if profiles else ""
    out.write(f"== {case.name} [{prefix}]{threads} by internal time\n")
    stats.sort_stats("tottime").print_stats(top)
    out.write(f"== {case.name} [{prefix}]{threads} by cumulative time\n")
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# --------------------------------------------------------------------------- report


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    ax = abs(x)
    if ax >= 1:
        return f"{x:.2f} s"
    if ax >= 1e-3:
        return f"{x * 1e3:.2f} ms"
    if ax >= 1e-6:
        return f"{x * 1e6:.1f} µs"
    return f"{x * 1e9:.0f} ns"


def _fmt_derived(rec: dict[str, Any], label: str) -> str:
    v = rec["variants"].get(label, {}).get("derived")
    if v is None:
        return "-"
    if rec["derived_kind"] == "throughput":
        return f"{v / 1e3:.1f}k/s"
    return fmt_s(v)


def _fmt_kib(rec: dict[str, Any], label: str) -> str:
    v = rec["variants"].get(label, {}).get("peak_kib")
    if v is None:
        return "-"
    return f"{v / 1024:.1f}M" if v >= 10 * 1024 else f"{v:.0f}K"


def _median(rec: dict[str, Any], label: str | None) -> float | None:
    if label is None:
        return None
    m = rec["variants"].get(label, {}).get("median_s")
    return float(m) if m is not None else None


def format_table(records: list[dict[str, Any]]) -> str:
    """The results table; the tracing cases (many variants each) get a table of their own."""
    from bench.tracing import format_tracing

    tracing = [r for r in records if r["group"] == "tracing"]
    others = [r for r in records if r["group"] != "tracing"]
    parts = [_format_main(others)] if others else []
    if tracing:
        parts.append(format_tracing(tracing, fmt_s))
    return "\n\n".join(parts)


def _format_main(records: list[dict[str, Any]]) -> str:
    w = max([34, *(len(r["name"]) for r in records if r["status"] != "skipped")])
    head = (
        f"{'case':<{w}} {SUBJECT:>10} {BASELINE:>10} {'ratio':>6} {'cpu':>5} {'anchor':>10}  "
        f"{'derived (' + SUBJECT[:3] + ' / ' + BASELINE[:3] + ')':<30} {'peak mem (lgt / lg)':<20} {'n':>4}"
    )
    lines = [head, "-" * len(head)]
    group = None
    for rec in records:
        if rec["group"] != group:
            group = rec["group"]
            lines.append(f"[{group}]")
        name = rec["name"]
        if rec["status"] in ("skipped", "mismatch", "error") and not rec["variants"].get(BASELINE, {}).get(
            "median_s"
        ):
            lines.append(f"{name:<{w}} {rec['status'].upper()}: {rec['reason']}")
            continue
        ratio = f"{rec['ratio']:.2f}" if rec["ratio"] is not None else "-"
        cpu_ratio = f"{rec['cpu_ratio']:.2f}" if rec.get("cpu_ratio") is not None else "-"
        unit = rec["unit"]
        derived = f"{_fmt_derived(rec, SUBJECT)} / {_fmt_derived(rec, BASELINE)}"
        if rec["derived_kind"] != "none" and unit:
            derived += f" per {unit}" if rec["derived_kind"] != "throughput" else f" {unit}s"
        mem = f"{_fmt_kib(rec, SUBJECT)} / {_fmt_kib(rec, BASELINE)}"
        lines.append(
            f"{name:<{w}} {fmt_s(_median(rec, SUBJECT)):>10} {fmt_s(_median(rec, BASELINE)):>10} "
            f"{ratio:>6} {cpu_ratio:>5} "
            f"{fmt_s(_median(rec, rec['anchor_label'])):>10}  {derived:<30} {mem:<20} {rec['repeats']:>4}"
        )
        if rec["status"] != "ok":
            lines.append(f"{'':<{w}} ({rec['status']}: {rec['reason']})")
        for label, errors in (rec.get("callback_errors") or {}).items():
            for what, count in errors.items():
                lines.append(f"{'':<{w}} ({label}: langchain-core logged {count}x 'Error in {what}')")
    return "\n".join(lines)


LEGEND = f"""\
Times are medians over n interleaved rounds. ratio = {SUBJECT} / {BASELINE} (below 1: {SUBJECT} faster).
cpu: the same ratio of median process CPU time (all threads) per run: steadier on a busy machine.
anchor: an implementation-free reference (the bare model's own stream), where a case has one.
tracing: added = traced median - untraced median of the same graph; the ratio is lgtrace's added time
over the cheapest anchor instrumentation's (OpenInference, OpenLLMetry, OTel GenAI) on the same graph.
derived: per-unit time (whole run / units), per-token overhead over the anchor, or throughput.
peak mem: tracemalloc peak of Python allocations during one separate, untimed run (not RSS)."""


def log_line(rec: dict[str, Any], elapsed: float) -> str:
    status = rec["status"]
    tracing = rec.get("tracing")
    if tracing:
        ours = tracing["added_s"].get(f"{SUBJECT}+{SUBJECT}")
        vs = tracing.get(f"vs_cheapest_anchor_on_{SUBJECT}") or {}
        ratio = vs.get("ratio")
        return (
            f"  {rec['name']:<38} lgtrace added {fmt_s(ours):>10}, cheapest anchor "
            f"({vs.get('anchor', '-')}) {fmt_s(vs.get('anchor_added_s')):>10}, ratio "
            f"{'-' if ratio is None else f'{ratio:.2f}'}  ({status}, n={rec['repeats']}, {elapsed:.1f}s)"
        )
    if rec["ratio"] is not None:
        s, b = _median(rec, SUBJECT), _median(rec, BASELINE)
        return (
            f"  {rec['name']:<38} {fmt_s(s):>10} vs {fmt_s(b):>10}  ratio {rec['ratio']:.2f}"
            f"  (n={rec['repeats']}, {elapsed:.1f}s)"
        )
    return f"  {rec['name']:<38} {status}: {rec['reason']}  ({elapsed:.1f}s)"


def flush() -> None:
    sys.stdout.flush()


def now() -> float:
    return time.perf_counter()

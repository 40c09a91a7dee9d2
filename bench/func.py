"""The functional API's per-call overhead: ``@entrypoint`` calling trivial ``@task``s, lgtrace vs LangGraph.

One definition, two runtimes: every entrypoint and task below is written once and built from
``lgtrace.func`` or ``langgraph.func`` (and ``{prefix}.checkpoint.memory``) by import prefix. The
task is ``inc(i) -> i + 1`` (``async def`` under ``ainvoke``/``astream``); the entrypoint takes
``n`` and calls it ``n`` times:

- ``sequential``: ``total += inc(i).result()`` (async: ``await inc(i)``), one call after another;
- ``parallel``: all ``n`` futures first, then their results (async: ``asyncio.gather``).

Configurations, for each pattern, sync and async:

- ``invoke`` / ``ainvoke``: no checkpointer;
- ``invoke memory`` / ``ainvoke memory``: ``entrypoint(checkpointer=InMemorySaver())``, the default
  durability, a fresh ``thread_id`` per run (one saver per runtime and configuration);
- ``stream updates`` / ``astream updates``: ``stream(n, stream_mode="updates")`` consumed to the end,
  no checkpointer.

Validated first: each runtime's result (``n(n+1)/2``; for the streams the list of updates, as a
multiset for ``parallel``) must equal the other's, or nothing is timed (exit status 1). Timed
interleaved: after 2 warm-up runs per variant, ``rounds`` rounds; each round runs, for every
configuration, both runtimes with ``n`` tasks and with ``0`` tasks (the same entrypoint returning at
once), alternating the order A B / B A, a ``gc.collect()`` between runs (not timed), set-up objects
frozen out of the cyclic collector. **per call** = (median run with ``n`` calls - median run with
none) / ``n``, wall time; **ratio** = lgtrace's per call / LangGraph's. The JSON also has process
CPU time (all threads), minima and every sample.

    python -m bench.func                 # n=200, 40 rounds (~35 s here)
    python -m bench.func --quick         # n=20, 2 rounds (smoke test; writes func_quick.json)
    python -m bench.func --show bench/results/func.json
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import itertools
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.impls import IMPLEMENTATIONS
from bench.machine import load_average, machine_info

RESULTS = Path(__file__).resolve().parent / "results"
PATTERNS = ("sequential", "parallel")
MODES = ("sync", "async")
CONFIGS = ("invoke", "memory", "stream")
FULL_N, QUICK_N = 200, 20
FULL_ROUNDS, QUICK_ROUNDS = 40, 2
WARMUP = 2


def _label(mode: str, config: str) -> str:
    call = "invoke" if mode == "sync" else "ainvoke"
    stream = "stream" if mode == "sync" else "astream"
    return {"invoke": call, "memory": f"{call} memory", "stream": f"{stream} updates"}[config]


def build(prefix: str, pattern: str, mode: str, config: str) -> Callable[[int], Any]:
    """``run(n)`` for one runtime and configuration: the entrypoint's result (or its stream's items)."""
    func = importlib.import_module(f"{prefix}.func")
    saver = (
        importlib.import_module(f"{prefix}.checkpoint.memory").InMemorySaver() if config == "memory" else None
    )

    if mode == "sync":

        @func.task
        def inc(i: int) -> int:
            return i + 1

        if pattern == "sequential":

            @func.entrypoint(checkpointer=saver)
            def calls(n: int) -> int:
                total = 0
                for i in range(n):
                    total += inc(i).result()
                return total

        else:

            @func.entrypoint(checkpointer=saver)
            def calls(n: int) -> int:
                futures = [inc(i) for i in range(n)]
                return sum(f.result() for f in futures)

        ep = calls
        if config == "stream":
            return lambda n: list(ep.stream(n, stream_mode="updates"))
        if config == "memory":
            threads = itertools.count()
            return lambda n: ep.invoke(n, {"configurable": {"thread_id": f"t{next(threads)}"}})
        return lambda n: ep.invoke(n)

    @func.task
    async def inc_async(i: int) -> int:
        return i + 1

    if pattern == "sequential":

        @func.entrypoint(checkpointer=saver)
        async def acalls(n: int) -> int:
            total = 0
            for i in range(n):
                total += await inc_async(i)
            return total

    else:

        @func.entrypoint(checkpointer=saver)
        async def acalls(n: int) -> int:
            return sum(await asyncio.gather(*[inc_async(i) for i in range(n)]))

    aep = acalls
    loop = asyncio.new_event_loop()
    if config == "stream":

        async def consume(n: int) -> list[Any]:
            return [item async for item in aep.astream(n, stream_mode="updates")]

        return lambda n: loop.run_until_complete(consume(n))
    if config == "memory":
        athreads = itertools.count()
        return lambda n: loop.run_until_complete(
            aep.ainvoke(n, {"configurable": {"thread_id": f"t{next(athreads)}"}})
        )
    return lambda n: loop.run_until_complete(aep.ainvoke(n))


def _normalise(result: Any, pattern: str) -> Any:
    if isinstance(result, list):  # a stream's updates: parallel calls may finish in any order
        items = [json.dumps(x, sort_keys=True) for x in result]
        return sorted(Counter(items).items()) if pattern == "parallel" else items
    return result


def measure(pattern: str, mode: str, config: str, n: int, rounds: int) -> dict[str, Any]:
    runs = {impl: build(impl, pattern, mode, config) for impl in IMPLEMENTATIONS}
    expected = n * (n + 1) // 2
    checked = {impl: _normalise(run(n), pattern) for impl, run in runs.items()}
    first, *others = checked.values()
    if any(other != first for other in others):
        return {"pattern": pattern, "mode": mode, "config": config, "status": "mismatch", "checked": checked}
    if config != "stream" and first != expected:
        return {"pattern": pattern, "mode": mode, "config": config, "status": "wrong", "checked": checked}
    variants = [(impl, size) for impl in IMPLEMENTATIONS for size in (n, 0)]
    for impl, size in variants:
        for _ in range(WARMUP):
            runs[impl](size)
    wall: dict[tuple[str, int], list[float]] = {v: [] for v in variants}
    cpu: dict[tuple[str, int], list[float]] = {v: [] for v in variants}
    gc.collect()
    gc.freeze()
    try:
        for i in range(rounds):
            for impl, size in variants if i % 2 == 0 else reversed(variants):
                run = runs[impl]
                gc.collect()
                c0, t0 = time.process_time(), time.perf_counter()
                run(size)
                t1, c1 = time.perf_counter(), time.process_time()
                wall[impl, size].append(t1 - t0)
                cpu[impl, size].append(c1 - c0)
    finally:
        gc.unfreeze()
    impls: dict[str, Any] = {}
    for impl in IMPLEMENTATIONS:
        med_n, med_0 = statistics.median(wall[impl, n]), statistics.median(wall[impl, 0])
        cpu_n, cpu_0 = statistics.median(cpu[impl, n]), statistics.median(cpu[impl, 0])
        impls[impl] = {
            "median_s": med_n,
            "median_empty_s": med_0,
            "min_s": min(wall[impl, n]),
            "min_empty_s": min(wall[impl, 0]),
            "per_call_s": (med_n - med_0) / n,
            "per_call_min_s": (min(wall[impl, n]) - min(wall[impl, 0])) / n,
            "per_call_cpu_s": (cpu_n - cpu_0) / n,
            "samples_s": wall[impl, n],
            "samples_empty_s": wall[impl, 0],
            "cpu_samples_s": cpu[impl, n],
            "cpu_samples_empty_s": cpu[impl, 0],
        }
    subject, baseline = (impls[impl] for impl in IMPLEMENTATIONS)
    return {
        "pattern": pattern,
        "mode": mode,
        "config": config,
        "label": _label(mode, config),
        "status": "ok",
        "n": n,
        "rounds": rounds,
        "impls": impls,
        "ratio": subject["per_call_s"] / baseline["per_call_s"],
        "ratio_min": subject["per_call_min_s"] / baseline["per_call_min_s"],
        "ratio_cpu": subject["per_call_cpu_s"] / baseline["per_call_cpu_s"],
    }


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs" if seconds < 1e-4 else f"{seconds * 1e6:.0f} µs"


def format_table(data: dict[str, Any]) -> str:
    lines = [
        "| pattern, call | per task call lgtrace / LangGraph | ratio (cpu) | whole run lgtrace / LangGraph |",
        "| --- | --- | --- | --- |",
    ]
    for r in data["results"]:
        if r["status"] != "ok":
            lines.append(f"| {r['pattern']}, {r.get('label', r['config'])} | {r['status'].upper()} | | |")
            continue
        lgt, lg = (r["impls"][impl] for impl in IMPLEMENTATIONS)
        lines.append(
            f"| {r['pattern']}, `{r['label']}` | {_us(lgt['per_call_s'])} / {_us(lg['per_call_s'])} | "
            f"{r['ratio']:.2f} ({r['ratio_cpu']:.2f}) | "
            f"{lgt['median_s'] * 1e3:.2f} / {lg['median_s'] * 1e3:.2f} ms |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.func", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"n={QUICK_N}, {QUICK_ROUNDS} rounds (smoke test)")
    ap.add_argument("-n", type=int, help=f"task calls per run (default {FULL_N})")
    ap.add_argument("--rounds", type=int, help=f"timed rounds (default {FULL_ROUNDS})")
    ap.add_argument("-o", "--output", type=Path, help="JSON path (default bench/results/func.json)")
    ap.add_argument("--show", type=Path, metavar="JSON", help="print the table of a results file and exit")
    args = ap.parse_args(argv)
    if args.show:
        print(format_table(json.loads(args.show.read_text())))
        return 0
    n = args.n or (QUICK_N if args.quick else FULL_N)
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else FULL_ROUNDS)
    output = args.output or RESULTS / ("func_quick.json" if args.quick else "func.json")
    info = machine_info()
    data: dict[str, Any] = {
        "schema": 1,
        "command": "python -m bench.func" + (" " + " ".join(argv) if argv else ""),
        "quick": args.quick,
        "settings": {
            "n": n,
            "rounds": rounds,
            "warmup": WARMUP,
            "patterns": list(PATTERNS),
            "modes": list(MODES),
            "configs": list(CONFIGS),
        },
        "machine": info,
        "results": [],
    }
    t0 = time.monotonic()
    for pattern in PATTERNS:
        for mode in MODES:
            for config in CONFIGS:
                row = measure(pattern, mode, config, n, rounds)
                data["results"].append(row)
                print(f"  {pattern}, {_label(mode, config)}: {row['status']}", flush=True)
    info["load_average_end"] = load_average()
    data["total_elapsed_s"] = round(time.monotonic() - t0, 3)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data, indent=1, default=str) + "\n")
    print(format_table(data))
    print(f"total {data['total_elapsed_s']:.0f} s; load {info['load_average_end']}; wrote {output}")
    return 0 if all(r["status"] == "ok" for r in data["results"]) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

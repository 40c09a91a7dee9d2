"""Threads and memory of many concurrent ``astream`` runs (issue #9, item 8).

``python -m bench.concurrency`` starts, for each implementation and node kind, a
fresh Python process that builds one small graph (``bench.graphs.blocking_chain``:
``add_one -> wait -> add_three``, ``wait`` sleeping 50 ms so the runs overlap) and
runs it ``N`` times at once on one event loop (``asyncio.gather`` of ``N``
``astream`` consumers, ``stream_mode=["updates", "values"]``). Node kinds:

- ``sync``: plain functions, ``wait`` calls ``time.sleep`` (a blocking client call):
  the runtime must run them off the event loop, on some thread;
- ``async``: ``async def`` nodes, ``wait`` awaits ``asyncio.sleep`` (no thread needed).

Measured per process:

- OS threads (``psutil`` ``num_threads``, main thread included) and RSS, sampled every
  5 ms *from this (parent) process*, so the sampler adds no thread to the child and
  keeps sampling while the child's event loop or GIL is busy; the peak is taken over
  the window between the child's first ``astream`` call and the end of ``gather``
  (``CLOCK_MONOTONIC`` is shared by both processes);
- in the child: ``threading.active_count()`` sampled on the event loop (5 ms), threads
  and RSS just before the runs, right after ``gather`` and after ``asyncio.run`` returned
  (the loop's default executor shut down), ``ru_maxrss`` (the process's lifetime peak,
  imports included), CPU time;
- wall time of the ``gather``, and how many runs produced exactly the expected
  updates and final state (both implementations are checked against the same closed form).

Each child is a separate process so neither implementation's threads or heap
pollute the other's figures. ``--quick`` runs N=50 (smoke test). Results go to
``bench/results/concurrency.json`` (``--quick``: ``concurrency_quick.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.impls import IMPLEMENTATIONS
from bench.machine import load_average, machine_info

RESULTS = Path(__file__).resolve().parent / "results"
NODE_KINDS = ("sync", "async")
FULL_RUNS, QUICK_RUNS = 1000, 50
SLEEP_S = 0.05
SAMPLE_S = 0.005
CHILD_TIMEOUT_S = 600.0
MIB = 2**20


# --------------------------------------------------------------------------- child process


def _expected(value: int) -> tuple[list[Any], dict[str, Any]]:
    from bench.graphs import blocking_chain_result

    updates = [
        {"add_one": {"value": value + 1, "trail": ["add_one"]}},
        {"wait": {"value": (value + 1) * 2, "trail": ["wait"]}},
        {"add_three": {"value": (value + 1) * 2 + 3, "trail": ["add_three"]}},
    ]
    return updates, blocking_chain_result(value)


def child(prefix: str, kind: str, runs: int, sleep_s: float) -> dict[str, Any]:
    """Run ``runs`` concurrent ``astream``s in this process; the measurements as a dict."""
    import psutil

    from bench.graphs import blocking_chain
    from bench.impls import load

    graph = blocking_chain(load(prefix), sleep_s, aio=kind == "async")
    proc = psutil.Process()
    gc.collect()
    out: dict[str, Any] = {
        "impl": prefix,
        "nodes": kind,
        "runs": runs,
        "impl_dir": str(Path(sys.modules[f"{prefix}.graph"].__file__ or "").parents[1]),
        "threads_before": proc.num_threads(),
        "py_threads_before": threading.active_count(),
        "rss_before_mib": proc.memory_info().rss / MIB,
    }

    async def one(value: int) -> str | None:
        """None if the run streamed exactly the expected updates and final state, else why not."""
        updates: list[Any] = []
        last_values: Any = None
        async for mode, payload in graph.astream(
            {"value": value, "trail": []}, stream_mode=["updates", "values"]
        ):
            if mode == "updates":
                updates.append(payload)
            else:
                last_values = payload
        want_updates, want_final = _expected(value)
        if updates != want_updates:
            return f"run {value}: updates {updates!r} != {want_updates!r}"
        if last_values != want_final:
            return f"run {value}: final state {last_values!r} != {want_final!r}"
        return None

    async def main() -> None:
        peak_py = threading.active_count()
        done = False

        async def sample() -> None:
            nonlocal peak_py
            while not done:
                peak_py = max(peak_py, threading.active_count())
                await asyncio.sleep(SAMPLE_S)

        sampler = asyncio.create_task(sample())
        await asyncio.sleep(0)  # the sampler takes its first sample
        t0 = time.monotonic()
        outcomes = await asyncio.gather(*(one(i) for i in range(runs)), return_exceptions=True)
        t1 = time.monotonic()
        peak_py = max(peak_py, threading.active_count())
        done = True
        await sampler
        errors = [o if isinstance(o, str) else f"{type(o).__name__}: {o}" for o in outcomes if o is not None]
        out.update(
            t_start=t0,
            t_end=t1,
            wall_s=t1 - t0,
            correct=runs - len(errors),
            errors=len(errors),
            first_errors=errors[:3],
            py_threads_peak=peak_py,
            threads_after_gather=proc.num_threads(),
            py_threads_after_gather=threading.active_count(),
        )

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    asyncio.run(main())
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    gc.collect()
    out.update(
        threads_after=proc.num_threads(),
        py_threads_after=threading.active_count(),
        rss_after_mib=proc.memory_info().rss / MIB,
        ru_maxrss_mib=cpu1.ru_maxrss * 1024 / MIB,  # Linux: KiB
        cpu_s=(cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        context_switches=(cpu1.ru_nvcsw - cpu0.ru_nvcsw) + (cpu1.ru_nivcsw - cpu0.ru_nivcsw),
    )
    return out


# --------------------------------------------------------------------------- parent: spawn and sample


def measure(prefix: str, kind: str, runs: int, sleep_s: float) -> dict[str, Any]:
    """One fresh child process, sampled from here; its record with the sampled peaks added."""
    import psutil

    cmd = [sys.executable, "-m", "bench.concurrency", "--child", prefix, kind, str(runs), str(sleep_s)]
    samples: list[tuple[float, int, int, int]] = []  # (monotonic, threads, rss, vms bytes)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t_spawn = time.monotonic()
        popen = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=Path(__file__).resolve().parent.parent)
        try:
            ps = psutil.Process(popen.pid)
            while popen.poll() is None:
                if time.monotonic() - t_spawn > CHILD_TIMEOUT_S:
                    popen.kill()
                    popen.wait()
                    raise TimeoutError(f"child {prefix}/{kind} ran over {CHILD_TIMEOUT_S:.0f} s")
                try:
                    with ps.oneshot():
                        mem = ps.memory_info()
                        samples.append((time.monotonic(), ps.num_threads(), mem.rss, mem.vms))
                except (psutil.NoSuchProcess, psutil.ZombieProcess):
                    pass
                time.sleep(SAMPLE_S)
        finally:
            if popen.poll() is None:
                popen.kill()
                popen.wait()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if popen.returncode != 0 or not lines:
        return {
            "impl": prefix,
            "nodes": kind,
            "runs": runs,
            "status": "error",
            "reason": f"child exited {popen.returncode}: {stderr.strip()[-2000:]}",
        }
    rec: dict[str, Any] = json.loads(lines[-1])
    window = [s for s in samples if rec["t_start"] <= s[0] <= rec["t_end"]]
    rec["status"] = "ok" if rec["errors"] == 0 else "wrong"
    rec["samples_in_runs"] = len(window)
    rec["threads_peak"] = max((s[1] for s in window), default=None)
    rec["rss_peak_mib"] = max((s[2] for s in window), default=0) / MIB or None
    rec["vms_peak_mib"] = max((s[3] for s in window), default=0) / MIB or None
    rec["threads_peak_process"] = max((s[1] for s in samples), default=None)
    rec["rss_peak_process_mib"] = max((s[2] for s in samples), default=0) / MIB or None
    rec["process_s"] = round(time.monotonic() - t_spawn, 3)
    return rec


# --------------------------------------------------------------------------- report


def _f(x: Any, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def format_table(data: dict[str, Any]) -> str:
    s = data["settings"]
    head = (
        f"{'impl':<10} {'nodes':<6} {'correct':>11} {'wall':>8} {'cpu':>7}  "
        f"{'threads: before  peak  after':<29} {'RSS MiB: before   peak  +peak':<30} "
        f"{'ru_maxrss':>9} {'VMS peak':>9}"
    )
    lines = [
        f"{s['runs']} concurrent astream runs per process (a fresh process per row); graph "
        f"add_one -> wait ({s['sleep_s'] * 1000:.0f} ms) -> add_three",
        head,
        "-" * len(head),
    ]
    for r in data["results"]:
        if r.get("status") == "error":
            lines.append(f"{r['impl']:<10} {r['nodes']:<6} ERROR: {r['reason'][-300:]}")
            continue
        before = r["rss_before_mib"]
        peak = r["rss_peak_mib"]
        plus = None if peak is None else peak - before
        threads = f"{r['threads_before']:>15} {_f(r['threads_peak'], 'd'):>5} {r['threads_after']:>6}"
        rss = f"{before:>15.0f} {_f(peak, '.0f'):>6} {_f(plus, '+.0f'):>6}"
        correct = f"{r['correct']}/{r['runs']}"
        lines.append(
            f"{r['impl']:<10} {r['nodes']:<6} {correct:>11} {r['wall_s']:>7.2f}s "
            f"{r['cpu_s']:>6.2f}s  {threads:<29} {rss:<30} {r['ru_maxrss_mib']:>9.0f} "
            f"{_f(r['vms_peak_mib'] and r['vms_peak_mib'] / 1024, '.1f'):>7}Gi"
        )
        if r["errors"]:
            lines.append(f"{'':<17} first errors: {r['first_errors']}")
    lines += [
        "threads: OS threads of the process (main included), sampled every 5 ms from the parent process;",
        "  before = just before the runs, peak = during them, after = once asyncio.run returned.",
        "RSS: likewise; ru_maxrss: the process's lifetime peak (imports included); VMS: address space,",
        "  where each thread's stack reservation shows. wall: the gather of all runs; cpu: process CPU",
        "  time (user + system) of asyncio.run.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.concurrency", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help=f"N={QUICK_RUNS} instead of {FULL_RUNS} (smoke test)"
    )
    ap.add_argument("--runs", "-n", type=int, help="concurrent runs per process")
    ap.add_argument(
        "--sleep", type=float, default=SLEEP_S, help="seconds the wait node sleeps (default 0.05)"
    )
    ap.add_argument(
        "--impl", action="append", choices=IMPLEMENTATIONS, help="only this implementation (repeatable)"
    )
    ap.add_argument("--nodes", action="append", choices=NODE_KINDS, help="only this node kind (repeatable)")
    ap.add_argument("--output", "-o", type=Path, help="JSON path (default bench/results/concurrency.json)")
    ap.add_argument("--show", type=Path, metavar="JSON", help="print the table of a results file and exit")
    ap.add_argument("--child", nargs=4, metavar=("IMPL", "NODES", "RUNS", "SLEEP"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        prefix, kind, runs, sleep_s = args.child
        print(json.dumps(child(prefix, kind, int(runs), float(sleep_s))), flush=True)
        return 0
    if args.show:
        print(format_table(json.loads(args.show.read_text())))
        return 0

    runs = args.runs or (QUICK_RUNS if args.quick else FULL_RUNS)
    output = args.output or RESULTS / ("concurrency_quick.json" if args.quick else "concurrency.json")
    info = machine_info()
    data: dict[str, Any] = {
        "schema": 1,
        "quick": args.quick,
        "command": "python -m bench.concurrency" + (" " + " ".join(argv) if argv else ""),
        "settings": {"runs": runs, "sleep_s": args.sleep, "sample_interval_s": SAMPLE_S},
        "machine": info,
        "results": [],
    }
    print(
        f"bench.concurrency: {runs} concurrent astream runs per process; {info['cpu_model']}, "
        f"{info['cores_logical']} cores, python {info['python']}, load {info['load_average_start']}",
        flush=True,
    )
    t0 = time.monotonic()
    for kind in args.nodes or NODE_KINDS:
        for prefix in args.impl or IMPLEMENTATIONS:
            rec = measure(prefix, kind, runs, args.sleep)
            data["results"].append(rec)
            if rec["status"] == "error":
                print(f"  {prefix:<10} {kind:<6} error: {rec['reason'][-300:]}", flush=True)
            else:
                print(
                    f"  {prefix:<10} {kind:<6} {rec['correct']}/{runs} correct, {rec['wall_s']:.2f} s, "
                    f"peak {rec['threads_peak']} threads, {_f(rec['rss_peak_mib'], '.0f')} MiB RSS",
                    flush=True,
                )
    info["load_average_end"] = load_average()
    data["total_elapsed_s"] = round(time.monotonic() - t0, 3)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data, indent=1, default=str) + "\n")
    print()
    print(format_table(data))
    print(f"total {data['total_elapsed_s']:.0f} s; load {info['load_average_end']}; wrote {output}")
    return 0 if all(r["status"] == "ok" for r in data["results"]) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

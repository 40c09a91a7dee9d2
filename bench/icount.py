"""Instruction counts: the per-token and tracing targets measured without timing noise.

``python -m bench.icount`` runs small probes under valgrind's cachegrind (no cache
simulation) and reports executed instructions per unit (token, graph run). Each
probe runs in two processes, with ``k`` and ``0`` measured repetitions after the
same set-up and warm-up, so start-up and imports cancel out:
``(I(k) - I(0)) / (k * units)``. Children run with ``PYTHONHASHSEED=0`` and, as in
``bench/``, with everything set-up built frozen out of the cyclic collector's way.
Counts repeat to within a few percent (collector timing, valgrind's scheduling of
the worker thread in sync ``messages`` probes). Wall
time on a shared machine swings by tens of percent.

Instructions are not time: they ignore cache misses, lock hand-offs between
threads and the kernel (valgrind runs one thread at a time). They answer a
narrower question exactly: how much work each implementation does, and what
share of it langchain-core's own callback path costs before either does anything.

Probes (lgtrace graph and LangGraph graph are the same ``bench.graphs`` definition):

- ``messages``: a one-node graph whose model streams tokens, node calls ``.invoke()``;
  ``bare`` (the model's own ``.stream()``), ``floor`` (``.invoke()`` with a streaming
  handler that only appends each chunk to a list: what any ``messages`` implementation
  built on langchain-core's callbacks pays at least), ``lgtrace``, ``langgraph``;
  ``a_``-prefixed: the same, async, the model yielding to the loop every token.
- ``tracing``: the agent graph of the tracing cases on lgtrace's graph: ``none``,
  ``noop`` (a do-nothing handler: langchain-core's callback machinery), ``lgtrace``
  (its OTel handler), ``lgtrace_nosdk`` (the same handler on OpenTelemetry's no-op
  tracer: the handler without the SDK's span work), and the three anchors.

Requires ``valgrind`` (Debian: ``apt-get install valgrind``); not run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

TOKENS = 2000


def _messages_probe(name: str) -> Callable[[], Any]:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.messages import HumanMessage
    from langchain_core.tracers._streaming import _StreamingCallbackHandler

    from bench import graphs
    from bench.impls import load
    from bench.models import TokenModel

    aio = name.startswith("a_")
    kind = name.removeprefix("a_")
    msgs = [HumanMessage("hi", id="human-0")]
    model = TokenModel(n_tokens=TOKENS, yield_every=int(aio))
    loop = asyncio.new_event_loop()

    class Collect(BaseCallbackHandler, _StreamingCallbackHandler):
        run_inline = True

        def __init__(self) -> None:
            self.out: list[Any] = []

        def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
            self.out.append((chunk.message, {}))

        def tap_output_iter(self, run_id: Any, output: Any) -> Any:
            return output

        def tap_output_aiter(self, run_id: Any, output: Any) -> Any:
            return output

    if kind == "bare":

        async def abare() -> None:
            async for _ in model.astream(msgs):
                pass

        def bare() -> None:
            for _ in model.stream(msgs):
                pass

        return (lambda: loop.run_until_complete(abare())) if aio else bare
    if kind == "floor":
        if aio:
            return lambda: loop.run_until_complete(model.ainvoke(msgs, {"callbacks": [Collect()]}))
        return lambda: model.invoke(msgs, {"callbacks": [Collect()]})
    graph = graphs.token_graph(load(kind), TOKENS, aio=aio, yield_every=int(aio))
    inp = {"messages": msgs}

    async def astream() -> None:
        async for _ in graph.astream(inp, stream_mode="messages"):
            pass

    def stream() -> None:
        for _ in graph.stream(inp, stream_mode="messages"):
            pass

    return (lambda: loop.run_until_complete(astream())) if aio else stream


def _tracing_probe(name: str) -> Callable[[], Any]:
    from opentelemetry.trace import NoOpTracerProvider

    from bench.core import Params
    from bench.tracing import ANCHORS, NOOP, TracingContext, tracing_bench

    p: Params = {"mode": "sync", "content": "content_off", "history_kib": 0}
    if name == "lgtrace_nosdk":
        from bench import graphs
        from bench.impls import load
        from bench.models import UsageToolModel
        from bench.tracing import tracing_input
        from lgtrace.otel import OTelCallbackHandler

        graph = graphs.agent_graph(load("lgtrace"), UsageToolModel(), aio=False)
        handler = OTelCallbackHandler(tracer_provider=NoOpTracerProvider(), meter_provider=None)
        inp = tracing_input(0)

        def run() -> None:
            for _ in graph.stream(inp, {"callbacks": [handler]}):
                pass

        return run
    tracer = {"noop": NOOP}.get(name, name)
    if tracer not in ("none", NOOP, "lgtrace", *ANCHORS):
        raise SystemExit(f"unknown tracing probe {name!r}")
    bench = tracing_bench("lgtrace", tracer, p, TracingContext(False))
    bench.check()

    def traced() -> None:
        if bench.enter is not None:
            bench.enter()
        bench.run()
        if bench.leave is not None:
            bench.leave()

    return traced


PROBES: dict[str, list[str]] = {
    "messages": ["bare", "floor", "lgtrace", "langgraph", "a_bare", "a_floor", "a_lgtrace", "a_langgraph"],
    "tracing": ["none", "noop", "lgtrace", "lgtrace_nosdk", "openinference", "openllmetry", "otel_genai"],
}


def _probe(group: str, name: str) -> Callable[[], Any]:
    return _messages_probe(name) if group == "messages" else _tracing_probe(name)


def _child(group: str, name: str, runs: int) -> None:
    """Inside valgrind: set up, warm up, then ``runs`` measured runs."""
    run = _probe(group, name)
    for _ in range(2):
        run()
    # as bench/ does: what set-up built is frozen, so a full collection in the measured runs
    # walks only what they allocate (the collector stays on: it is part of what code costs)
    gc.collect()
    gc.freeze()
    for _ in range(runs):
        run()


def _instructions(group: str, name: str, runs: int) -> int:
    cmd = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, "-m", "bench.icount", "--child", group, name, str(runs),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    found = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
    if out.returncode != 0 or found is None:
        raise RuntimeError(f"{group}/{name} failed under valgrind:\n{out.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def measure(group: str, name: str, runs: int) -> float:
    """Instructions per unit (token or run) of ``group``/``name``."""
    units = TOKENS if group == "messages" else 1
    with ThreadPoolExecutor(2) as pool:
        full, empty = pool.map(lambda k: _instructions(group, name, k), (runs, 0))
    return (full - empty) / (runs * units)


def report(group: str, counts: dict[str, float]) -> list[str]:
    lines = []
    if group == "messages":
        for prefix, label in (("", "sync"), ("a_", "async")):
            bare = counts.get(prefix + "bare")
            if bare is None:
                continue
            over = {
                k.removeprefix(prefix): v - bare
                for k, v in counts.items()
                if k.startswith(prefix) and (prefix or not k.startswith("a_"))
            }
            row = ", ".join(f"{k} {v / 1e3:.1f}k" for k, v in over.items() if k != "bare")
            lines.append(f"messages {label}: instructions per token over the bare model: {row}")
            if "lgtrace" in over and "langgraph" in over:
                lines.append(f"  lgtrace / langgraph = {over['lgtrace'] / over['langgraph']:.2f}")
            if "floor" in over and "langgraph" in over:
                lines.append(
                    f"  floor / langgraph = {over['floor'] / over['langgraph']:.2f}"
                    " (no implementation on langchain-core's callbacks goes below the floor)"
                )
    else:
        none = counts.get("none")
        if none is not None:
            added = {k: v - none for k, v in counts.items() if k != "none"}
            lines.append(
                "tracing (lgtrace graph): added instructions per run: "
                + ", ".join(f"{k} {v / 1e3:.0f}k" for k, v in added.items())
            )
            anchors = {k: v for k, v in added.items() if k in ("openinference", "openllmetry", "otel_genai")}
            if anchors and "lgtrace" in added:
                cheapest = min(anchors, key=anchors.__getitem__)
                lines.append(
                    f"  lgtrace / cheapest anchor ({cheapest}) = {added['lgtrace'] / anchors[cheapest]:.2f}"
                )
                if "noop" in added and "lgtrace_nosdk" in added:
                    sdk = added["lgtrace"] - added["lgtrace_nosdk"]
                    bound = (added["noop"] + sdk) / anchors[cheapest]
                    lines.append(
                        f"  lgtrace's SDK span work {sdk / 1e3:.0f}k; callback floor + that SDK work alone"
                        f" (a handler costing nothing) / cheapest anchor = {bound:.2f}"
                    )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.icount", description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", "--filter", action="append", default=[], help="probe regex (group/name)")
    ap.add_argument("--runs", type=int, default=0, help="measured runs per probe (default 4 / 20)")
    ap.add_argument("-o", "--output", default=None, help="write the counts as JSON")
    ap.add_argument("--child", nargs=3, metavar=("GROUP", "NAME", "RUNS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]))
        return 0
    if shutil.which("valgrind") is None:
        print("bench.icount needs valgrind (apt-get install valgrind)", file=sys.stderr)
        return 2
    results: dict[str, dict[str, float]] = {}
    for group, names in PROBES.items():
        for name in names:
            if args.filter and not any(re.search(f, f"{group}/{name}") for f in args.filter):
                continue
            runs = args.runs or (4 if group == "messages" else 20)
            per_unit = measure(group, name, runs)
            results.setdefault(group, {})[name] = per_unit
            unit = "token" if group == "messages" else "run"
            print(f"  {group}/{name}: {per_unit / 1e3:.1f}k instructions per {unit}")
    for group, counts in results.items():
        print("\n".join(report(group, counts)))
    if args.output:
        with open(args.output, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What ``OTelCallbackHandler(measure_ttft=True)`` costs: a node's ``.invoke()`` streamed under the hood.

One graph, one node calling ``ChatOpenAI.invoke()`` (``ainvoke()`` in an async node), the real
client over HTTP to ``lgtrace.testing.FakeOpenAIServer`` on 127.0.0.1, run in a child process (no
token delay: the figures are the client side's work plus the local transfer, as fast as the
server writes), ``stream_usage=True``. Per answer length (tokens) and
sync/async, two variants run interleaved (A B, B A, ...):

- ``default``: ``OTelCallbackHandler()``: one JSON response per call;
- ``measure_ttft``: ``OTelCallbackHandler(measure_ttft=True)``: the same call streamed over SSE
  (one chunk per token), the chunks merged into the same message.

Spans go to an ``InMemorySpanExporter`` through a ``SimpleSpanProcessor``; no meter provider.
Each variant is checked first (same answer; the measured variant's chat span has a time to
first chunk, the default's has none). **added** = median(measure_ttft) - median(default) per
call, and per answer token; **ttfc** is the median time to first chunk the spans recorded.

    python -m bench.ttft                 # 20 and 200 tokens, sync and async, 60 rounds (~30 s)
    python -m bench.ttft --quick         # 2 rounds (smoke test; writes ttft_quick.json)
    python -m bench.ttft --show bench/results/ttft.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.machine import load_average, machine_info

RESULTS = Path(__file__).resolve().parent / "results"
TOKENS = (20, 200)
MODES = ("sync", "async")
FULL_ROUNDS = 60
QUICK_ROUNDS = 2


def _variant(
    server: Any, measure_ttft: bool, loop: asyncio.AbstractEventLoop | None
) -> tuple[Callable[[], Any], Any]:
    """A ``run()`` for one variant (returns the answer) and its span exporter; async on ``loop``
    (one loop for both variants: langchain-openai shares its HTTP client between models)."""
    from langchain_core.messages import HumanMessage
    from langchain_openai import ChatOpenAI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from lgtrace.graph import START, MessagesState, StateGraph
    from lgtrace.otel import OTelCallbackHandler

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    handler = OTelCallbackHandler(tracer_provider=provider, meter_provider=None, measure_ttft=measure_ttft)
    llm = ChatOpenAI(base_url=server.base_url, api_key="bench", model="gpt-4o-mini", stream_usage=True)
    if loop is not None:

        async def agent(state: MessagesState) -> dict[str, Any]:
            return {"messages": [await llm.ainvoke(state["messages"])]}

    else:

        def agent_sync(state: MessagesState) -> dict[str, Any]:
            return {"messages": [llm.invoke(state["messages"])]}

    node = agent if loop is not None else agent_sync
    graph = StateGraph(MessagesState).add_node("agent", node).add_edge(START, "agent").compile()
    inputs = {"messages": [HumanMessage("tell me about the office")]}
    config: Any = {"callbacks": [handler]}
    if loop is not None:
        aloop = loop

        def run() -> Any:
            return aloop.run_until_complete(graph.ainvoke(inputs, config))["messages"][-1].content

    else:

        def run() -> Any:
            return graph.invoke(inputs, config)["messages"][-1].content

    return run, exporter


def _chat_span(exporter: Any) -> Any:
    spans = [s for s in exporter.get_finished_spans() if s.name.startswith("chat ")]
    exporter.clear()
    if len(spans) != 1:
        raise AssertionError(f"expected one chat span per run, got {len(spans)}")
    return spans[0]


_SERVER = """
import sys
from lgtrace.testing import FakeOpenAIServer, Reply
answer = " ".join(f"w{i}" for i in range(int(sys.argv[1])))
with FakeOpenAIServer(replies=lambda request: Reply(answer)) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def _server(tokens: int) -> Iterator[Any]:
    """The local server in a child process, so its work is not charged to the measured client."""
    child = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(tokens)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        yield types.SimpleNamespace(base_url=child.stdout.readline().strip())
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)


def measure(tokens: int, mode: str, rounds: int) -> dict[str, Any]:
    answer = " ".join(f"w{i}" for i in range(tokens))
    loop = asyncio.new_event_loop() if mode == "async" else None
    with _server(tokens) as server:
        variants = {
            name: _variant(server, name == "measure_ttft", loop) for name in ("default", "measure_ttft")
        }
        ttfc: list[float] = []
        for name, (run, exporter) in variants.items():  # check, and warm up
            for _ in range(2):
                if run() != answer:
                    raise AssertionError(f"{name}: wrong answer")
                span = _chat_span(exporter)
                first = span.attributes.get("gen_ai.response.time_to_first_chunk")
                if (first is not None) != (name == "measure_ttft"):
                    raise AssertionError(f"{name}: time to first chunk {first!r}")
        samples: dict[str, list[float]] = {name: [] for name in variants}
        order = list(variants)
        for i in range(rounds):
            for name in order if i % 2 == 0 else reversed(order):
                run, exporter = variants[name]
                gc.collect()
                started = time.perf_counter()
                run()
                samples[name].append(time.perf_counter() - started)
                span = _chat_span(exporter)
                if name == "measure_ttft":
                    ttfc.append(span.attributes["gen_ai.response.time_to_first_chunk"])
    if loop is not None:
        loop.close()
    median = {name: statistics.median(values) for name, values in samples.items()}
    added = median["measure_ttft"] - median["default"]
    return {
        "tokens": tokens,
        "mode": mode,
        "rounds": rounds,
        "median_s": median,
        "min_s": {name: min(values) for name, values in samples.items()},
        "samples_s": samples,
        "added_s": added,
        "added_s_per_token": added / tokens,
        "ratio": median["measure_ttft"] / median["default"],
        "ttfc_median_s": statistics.median(ttfc),
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def format_table(data: dict[str, Any]) -> str:
    lines = [
        "| answer, mode | default (JSON) | measure_ttft (SSE) | added per call | added per token | ratio "
        "| time to first chunk |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in data["results"]:
        m = r["median_s"]
        lines.append(
            f"| {r['tokens']} tokens, {r['mode']} | {_ms(m['default'])} | {_ms(m['measure_ttft'])} | "
            f"{_ms(r['added_s'])} | {r['added_s_per_token'] * 1e6:.0f} µs | {r['ratio']:.2f} | "
            f"{_ms(r['ttfc_median_s'])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ttft", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds (smoke test)")
    ap.add_argument("--rounds", type=int, help=f"timed rounds per row (default {FULL_ROUNDS})")
    ap.add_argument("-o", "--output", type=Path, help="JSON path (default bench/results/ttft.json)")
    ap.add_argument("--show", type=Path, metavar="JSON", help="print the table of a results file and exit")
    args = ap.parse_args(argv)
    if args.show:
        print(format_table(json.loads(args.show.read_text())))
        return 0
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else FULL_ROUNDS)
    output = args.output or RESULTS / ("ttft_quick.json" if args.quick else "ttft.json")
    info = machine_info()
    data: dict[str, Any] = {
        "schema": 1,
        "command": "python -m bench.ttft" + (" " + " ".join(argv) if argv else ""),
        "settings": {"rounds": rounds, "tokens": list(TOKENS), "modes": list(MODES)},
        "machine": info,
        "results": [],
    }
    t0 = time.monotonic()
    for tokens in TOKENS:
        for mode in MODES:
            data["results"].append(measure(tokens, mode, rounds))
            print(f"  {tokens} tokens, {mode}: done", flush=True)
    info["load_average_end"] = load_average()
    data["total_elapsed_s"] = round(time.monotonic() - t0, 3)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data, indent=1, default=str) + "\n")
    print(format_table(data))
    print(f"total {data['total_elapsed_s']:.0f} s; load {info['load_average_end']}; wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""``lgtrace serve`` side by side with the official development server ``langgraph dev`` (issue #14).

One graph (``bench/serve_project``: one node whose chat model streams a 500-token answer), served
by each server in turn, each a fresh process on a fresh copy of the project; the two graph files are
identical but for the import line (``lgtrace.graph`` / ``langgraph.graph``). Servers:

- ``lgtrace``: ``python -m lgtrace.server`` (``lgtrace serve``), checkpoints in a SQLite file;
- ``langgraph``: ``langgraph dev --no-browser --no-reload --n-jobs-per-worker 100`` (LangGraph's own
  runtime and in-memory Agent Server; 100 jobs so that no run waits for a slot);
- ``lgtrace-memory``: lgtrace's server app (``create_app``) with an ``InMemorySaver``, checkpoints in
  memory as ``langgraph dev`` keeps them: what the SQLite file costs under load.

Models (``$BENCH_MODEL``):

- ``http``: ``ChatOpenAI(streaming=True)`` against the bundled OpenAI-compatible server
  (``lgtrace.testing.FakeOpenAIServer``) in a child process on 127.0.0.1, shared by all servers (URL
  in ``$BENCH_OPENAI_URL``), ``token_delay`` 0: it writes each answer as fast as it can, one SSE frame
  per token (its listen backlog raised from socketserver's 5, which a burst of 100 connects overflows);
- ``local``: an in-process chat model streaming the same tokens, yielding to the event loop after
  each: the servers' own work per token without the OpenAI client's parsing, which costs the server
  process more CPU per token than anything else in the ``http`` case.

The client is the official ``langgraph-sdk`` async client in this process: per round, 100 fresh threads
(created before the clock starts), then 100
``client.runs.stream(thread, "chat", stream_mode="messages-tuple")`` at once with ``asyncio.gather``.
Everything shares the machine's cores: client, model server, server under test.

Per round and server:

- **time to first token** (TTFT): from calling ``runs.stream`` to the first ``messages`` event with
  non-empty content, per stream; p50 and p99 over all streams of all rounds;
- **tokens/s aggregate**: all content tokens received / (last stream's end - gather start);
- **tokens/s per stream**: a stream's tokens / (its last token - its first token), median over streams;
- **peak RSS** of the server (its process and children, ``psutil``, sampled every 10 ms from this
  process), and its RSS idle after the warm-up; CPU seconds of the server, the model server and this
  client during the round;
- every stream must carry exactly the model's answer, token by token, else the round is an error.

An **anchor** shows what the model server and a bare client deliver without any agent server: 100
``ChatOpenAI.astream`` calls at once from this process to the same model server.

**Disconnect** (secondary): a run started with ``on_disconnect="cancel"`` whose model streams slowly
(the same graph, the model paced at 10 ms/token for this input); the client leaves after 5 tokens
(``aclose()`` of the SDK's stream); measured = the time the model server recorded the client of its
stream gone (``time.monotonic``, shared by all processes on Linux) - the time the client started to
close. The model server, pacing, waits in ``select`` on the socket, so it sees the close at once.
(``lgtrace-memory`` runs no disconnect trials.)

    python -m bench.server                  # 500 tokens x 100 streams, 2 rounds, 3 servers x 2 models
    python -m bench.server --quick          # 50 tokens x 10 streams, 1 round (smoke test; server_quick.json)
    python -m bench.server --servers lgtrace,langgraph --models http --rounds 3
    python -m bench.server --show bench/results/server.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import json
import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.machine import load_average, machine_info

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PROJECT = Path(__file__).resolve().parent / "serve_project"
GRAPH_ID = "chat"
SERVERS = ("lgtrace", "langgraph", "lgtrace-memory")
MODELS = ("http", "local")
FULL = {"tokens": 500, "streams": 100, "rounds": 2, "disconnect_trials": 10}
QUICK = {"tokens": 50, "streams": 10, "rounds": 1, "disconnect_trials": 2}
SLOW_TOKEN_DELAY_S = 0.01  # the model's pace for the disconnect trials
LEAVE_AFTER_TOKENS = 5
SAMPLE_S = 0.01
START_TIMEOUT_S = 60.0
MIB = 2**20
EXTRA_PACKAGES = (
    "langgraph-api",
    "langgraph-cli",
    "langgraph-runtime-inmem",
    "langgraph-sdk",
    "langchain-openai",
    "openai",
    "uvicorn",
    "starlette",
    "httptools",
    "uvloop",
    "httpx",
)

# --------------------------------------------------------------------------- the model server

_MODEL_SERVER = """
import sys, threading, time
from lgtrace.testing import FakeOpenAIServer, Reply, message_text
from lgtrace.testing import openai_server

# socketserver's listen backlog is 5: a burst of 100 connects would overflow it, and the dropped
# handshakes come back after TCP's 1 s, 3 s, ... retransmission timeouts (or fail): raise it
openai_server._HTTPServer.request_queue_size = 1024

tokens, slow = int(sys.argv[1]), float(sys.argv[2])
answer = " ".join(f"w{i}" for i in range(tokens))
lock = threading.Lock()


class Server(FakeOpenAIServer):
    def _record_disconnect(self, disconnect):  # stamp the moment the client was seen gone
        seen = time.monotonic()
        super()._record_disconnect(disconnect)
        with lock:
            print("disconnect", repr(seen), disconnect.request_index, disconnect.chunks_sent,
                  disconnect.chunks_total, flush=True)


def reply(request):
    slow_run = "slow" in message_text(request["messages"][-1].get("content"))
    return Reply(answer, token_delay=slow if slow_run else None)


with Server(replies=reply, token_delay=0.0) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()
"""


class ModelServer:
    """``FakeOpenAIServer`` in a child process; its disconnects arrive on ``self.disconnects``."""

    def __init__(self, tokens: int) -> None:
        self.answer = " ".join(f"w{i}" for i in range(tokens))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _MODEL_SERVER, str(tokens), str(SLOW_TOKEN_DELAY_S)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"model server did not start: {self.base_url!r}")
        self.disconnects: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            kind, seen, index, sent, total = line.split()
            if kind == "disconnect":
                self.disconnects.put(
                    {
                        "t": float(seen),
                        "request_index": int(index),
                        "chunks_sent": int(sent),
                        "chunks_total": int(total),
                    }
                )

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- the servers under test


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env(model_url: str, model: str, tokens: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_", "OTEL_"))}
    env.update(
        BENCH_OPENAI_URL=model_url,
        BENCH_MODEL=model,
        BENCH_TOKENS=str(tokens),
        LANGSMITH_TRACING="false",
        LANGCHAIN_TRACING_V2="false",
        LANGGRAPH_CLI_NO_ANALYTICS="1",
    )
    return env


def server_available(name: str) -> str | None:
    """None if ``name`` can be started here, else why not."""
    if name == "langgraph" and (
        importlib.util.find_spec("langgraph_cli") is None or importlib.util.find_spec("langgraph_api") is None
    ):
        return "langgraph dev not installed (pip install 'langgraph-cli[inmem]', in the bench extra)"
    return None


def command(name: str, port: int, workdir: Path, streams: int) -> list[str]:
    if name == "lgtrace-memory":
        code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import bench.server as b; "
        code += "b.serve_memory(*sys.argv[1:])"
        return [sys.executable, "-c", code, str(workdir / "lgtrace.json"), str(port)]
    if name == "lgtrace":
        return [
            sys.executable,
            "-m",
            "lgtrace.server",
            "--config",
            str(workdir / "lgtrace.json"),
            "--port",
            str(port),
            "--db",
            str(workdir / "checkpoints.sqlite"),
        ]
    return [
        sys.executable,
        "-m",
        "langgraph_cli",
        "dev",
        "--config",
        "langgraph.json",
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--no-browser",
        "--no-reload",
        "--server-log-level",
        "warning",
        # its default, 10 runs per worker, would queue 90 of the 100 runs
        "--n-jobs-per-worker",
        str(max(streams, 10)),
    ]


@contextlib.contextmanager
def running_server(
    name: str, model_url: str, model: str, settings: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    """The server in a fresh copy of the project (its own SQLite file or ``.langgraph_api``), output to a
    log file."""
    import httpx

    with tempfile.TemporaryDirectory(prefix=f"bench-server-{name}-") as tmp:
        workdir = Path(tmp) / "project"
        shutil.copytree(PROJECT, workdir, ignore=shutil.ignore_patterns("__pycache__"))
        port = _free_port()
        argv = command(name, port, workdir, settings["streams"])
        log = (Path(tmp) / "server.log").open("w")
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            env=_server_env(model_url, model, settings["tokens"]),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        t0 = time.monotonic()
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: {(Path(tmp) / 'server.log').read_text()[-3000:]}")
                if time.monotonic() - t0 > START_TIMEOUT_S:
                    raise RuntimeError(f"{name} did not answer /ok in {START_TIMEOUT_S:.0f} s")
                try:
                    if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            yield {
                "name": name,
                "url": url,
                "pid": proc.pid,
                "argv": argv[1:],
                "start_s": time.monotonic() - t0,
                "log": Path(tmp) / "server.log",
            }
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


# --------------------------------------------------------------------------- sampling


class Sampler:
    """RSS of a process and its children every ``SAMPLE_S`` from a thread of this process."""

    def __init__(self, pid: int) -> None:
        import psutil

        root = psutil.Process(pid)
        self.procs = [root, *root.children(recursive=True)]
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        total = 0
        for p in self.procs:
            with contextlib.suppress(Exception):
                total += p.memory_info().rss
        return total

    def cpu(self) -> float:
        total = 0.0
        for p in self.procs:
            with contextlib.suppress(Exception):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self.samples += 1
            self._stop.wait(SAMPLE_S)

    def __enter__(self) -> Sampler:
        self.peak = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


# --------------------------------------------------------------------------- the client


def _input(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def one_stream(client: Any, thread_id: str, answer: str, text: str = "fast") -> dict[str, Any]:
    """One streamed run; times (monotonic) of its start, first and last token and end; error if the
    tokens do not spell the answer."""
    start = time.monotonic()
    first = last = None
    pieces: list[str] = []
    error = None
    async for part in client.runs.stream(
        thread_id, GRAPH_ID, input=_input(text), stream_mode="messages-tuple"
    ):
        if part.event == "messages":
            content = part.data[0].get("content")
            if content:
                last = time.monotonic()
                if first is None:
                    first = last
                pieces.append(content)
        elif part.event == "error":
            error = f"error event: {part.data!r}"[:300]
    end = time.monotonic()
    if error is None and "".join(pieces) != answer:
        error = f"{len(pieces)} tokens, text {''.join(pieces)[:80]!r}... != the answer"
    return {"start": start, "first": first, "last": last, "end": end, "tokens": len(pieces), "error": error}


async def batch(client: Any, n: int, answer: str) -> tuple[float, list[dict[str, Any]]]:
    """``n`` fresh threads, then ``n`` streams at once; (gather start, per-stream records)."""
    threads = await asyncio.gather(*(client.threads.create() for _ in range(n)))
    gc.collect()
    t0 = time.monotonic()
    records = await asyncio.gather(*(one_stream(client, t["thread_id"], answer) for t in threads))
    return t0, list(records)


def _pct(values: list[float], q: float) -> float:
    """Percentile by linear interpolation (``statistics.quantiles`` method 'inclusive')."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def round_figures(t0: float, records: list[dict[str, Any]]) -> dict[str, Any]:
    end = max(r["end"] for r in records)
    tokens = sum(r["tokens"] for r in records)
    per_stream = [
        r["tokens"] / (r["last"] - r["first"]) for r in records if r["last"] and r["last"] > r["first"]
    ]
    ttft = [r["first"] - r["start"] for r in records if r["first"] is not None]
    return {
        "wall_s": end - t0,
        "tokens": tokens,
        "tokens_per_s": tokens / (end - t0),
        "per_stream_tokens_per_s_median": statistics.median(per_stream) if per_stream else None,
        "per_stream_tokens_per_s": per_stream,
        "ttft_s": ttft,
        "ttft_p50_s": _pct(ttft, 0.5) if ttft else None,
        "ttft_p99_s": _pct(ttft, 0.99) if ttft else None,
        "stream_s": [r["end"] - r["start"] for r in records],
        "start_spread_s": max(r["start"] for r in records) - t0,
        "errors": [r["error"] for r in records if r["error"]][:5],
        "error_count": sum(1 for r in records if r["error"]),
    }


async def disconnect_trials(
    client: Any, model: ModelServer, trials: int, answer: str
) -> list[dict[str, Any]]:
    """Leave ``trials`` slow runs (``on_disconnect="cancel"``) after a few tokens; per trial the time until
    the model server saw its stream's client gone (None: not within 5 s)."""
    while not model.disconnects.empty():
        model.disconnects.get_nowait()
    out = []
    for _ in range(trials):
        thread = await client.threads.create()
        stream = client.runs.stream(
            thread["thread_id"],
            GRAPH_ID,
            input=_input("slow"),
            stream_mode="messages-tuple",
            on_disconnect="cancel",
        )
        seen = 0
        async for part in stream:
            if part.event == "messages" and part.data[0].get("content"):
                seen += 1
                if seen == LEAVE_AFTER_TOKENS:
                    break
        left = time.monotonic()
        await stream.aclose()
        try:
            d = await asyncio.to_thread(model.disconnects.get, True, 5.0)
        except queue.Empty:
            out.append({"closed_after_s": None, "tokens_seen": seen})
            await asyncio.sleep(len(answer.split()) * SLOW_TOKEN_DELAY_S)  # let the model finish that stream
            continue
        out.append(
            {
                "closed_after_s": d["t"] - left,
                "tokens_seen": seen,
                "chunks_sent": d["chunks_sent"],
                "chunks_total": d["chunks_total"],
            }
        )
        await asyncio.sleep(0.1)
    return out


def bench_server(name: str, model: ModelServer, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    import psutil
    from langgraph_sdk import get_client

    streams, rounds = settings["streams"], settings["rounds"]
    with running_server(name, model.base_url, kind, settings) as srv:
        out: dict[str, Any] = {"status": "ok", "argv": srv["argv"], "start_s": srv["start_s"]}

        async def main() -> None:
            client = get_client(url=srv["url"], api_key=None)
            # warm-up (not measured): 2 streams one after the other, then one batch of 10
            for _ in range(2):
                rec = await one_stream(client, (await client.threads.create())["thread_id"], model.answer)
                if rec["error"]:
                    raise RuntimeError(f"{name} warm-up: {rec['error']}")
            _, recs = await batch(client, min(10, streams), model.answer)
            if any(r["error"] for r in recs):
                raise RuntimeError(f"{name} warm-up batch: {[r['error'] for r in recs if r['error']][:3]}")
            await asyncio.sleep(0.5)
            sampler_idle = Sampler(srv["pid"])
            out["rss_idle_mib"] = sampler_idle.rss() / MIB
            out["processes"] = len(sampler_idle.procs)
            model_proc = psutil.Process(model.proc.pid)
            out["rounds"] = []
            for _ in range(rounds):
                with Sampler(srv["pid"]) as sampler:
                    cpu_srv, cpu_model, cpu_client = (
                        sampler.cpu(),
                        sum(model_proc.cpu_times()[:2]),
                        time.process_time(),
                    )
                    t0, recs = await batch(client, streams, model.answer)
                    fig = round_figures(t0, recs)
                    fig["server_cpu_s"] = sampler.cpu() - cpu_srv
                    fig["model_server_cpu_s"] = sum(model_proc.cpu_times()[:2]) - cpu_model
                    fig["client_cpu_s"] = time.process_time() - cpu_client
                fig["peak_rss_mib"] = sampler.peak / MIB
                fig["rss_samples"] = sampler.samples
                out["rounds"].append(fig)
                print(
                    f"  {kind}, {name}: {fig['tokens_per_s']:,.0f} tok/s, "
                    f"TTFT p50 {fig['ttft_p50_s'] * 1000:.0f} ms "
                    f"p99 {fig['ttft_p99_s'] * 1000:.0f} ms, peak RSS {fig['peak_rss_mib']:.0f} MiB, "
                    f"{fig['error_count']} errors",
                    flush=True,
                )
                await asyncio.sleep(0.5)
            if kind == "http" and name != "lgtrace-memory":
                out["disconnect"] = await disconnect_trials(
                    client, model, settings["disconnect_trials"], model.answer
                )

        asyncio.run(main())
    rounds_ = out["rounds"]
    ttft = [x for r in rounds_ for x in r["ttft_s"]]
    per_stream = [x for r in rounds_ for x in r["per_stream_tokens_per_s"]]
    trials = out.get("disconnect", [])
    closed = [t["closed_after_s"] for t in trials if t["closed_after_s"] is not None]
    out["summary"] = {
        "ttft_p50_s": _pct(ttft, 0.5),
        "ttft_p99_s": _pct(ttft, 0.99),
        "ttft_max_s": max(ttft),
        "tokens_per_s_median": statistics.median(r["tokens_per_s"] for r in rounds_),
        "per_stream_tokens_per_s_median": statistics.median(per_stream),
        "peak_rss_mib": max(r["peak_rss_mib"] for r in rounds_),
        "server_cpu_s_median": statistics.median(r["server_cpu_s"] for r in rounds_),
        "errors": sum(r["error_count"] for r in rounds_),
        "disconnect_closed_median_s": statistics.median(closed) if closed else None,
        "disconnect_closed_max_s": max(closed) if closed else None,
        "disconnect_not_closed": sum(1 for t in trials if t["closed_after_s"] is None),
    }
    if out["summary"]["errors"]:
        out["status"] = "error"
    return out


def bench_anchor(model: ModelServer, settings: dict[str, Any]) -> dict[str, Any]:
    """100 bare ``ChatOpenAI.astream`` calls at once against the same model server (no agent server)."""
    import psutil
    from langchain_openai import ChatOpenAI

    model_proc = psutil.Process(model.proc.pid)

    async def main() -> list[dict[str, Any]]:
        llm = ChatOpenAI(base_url=model.base_url, api_key="x", model="gpt-4o-mini", streaming=True)

        async def one() -> dict[str, Any]:
            start = time.monotonic()
            first = last = None
            pieces = []
            async for chunk in llm.astream("fast"):
                if chunk.content:
                    last = time.monotonic()
                    first = first or last
                    pieces.append(chunk.content)
            err = None if "".join(pieces) == model.answer else "wrong answer"
            return {
                "start": start,
                "first": first,
                "last": last,
                "end": time.monotonic(),
                "tokens": len(pieces),
                "error": err,
            }

        await asyncio.gather(*(one() for _ in range(min(10, settings["streams"]))))  # warm-up
        rounds = []
        for _ in range(settings["rounds"]):
            cpu_model, cpu_client = sum(model_proc.cpu_times()[:2]), time.process_time()
            gc.collect()
            t0 = time.monotonic()
            recs = await asyncio.gather(*(one() for _ in range(settings["streams"])))
            fig = round_figures(t0, list(recs))
            fig["model_server_cpu_s"] = sum(model_proc.cpu_times()[:2]) - cpu_model
            fig["client_cpu_s"] = time.process_time() - cpu_client
            rounds.append(fig)
        return rounds

    rounds = asyncio.run(main())
    ttft = [x for r in rounds for x in r["ttft_s"]]
    return {
        "status": "ok" if not any(r["error_count"] for r in rounds) else "error",
        "rounds": rounds,
        "summary": {
            "ttft_p50_s": _pct(ttft, 0.5),
            "ttft_p99_s": _pct(ttft, 0.99),
            "tokens_per_s_median": statistics.median(r["tokens_per_s"] for r in rounds),
            "per_stream_tokens_per_s_median": statistics.median(
                x for r in rounds for x in r["per_stream_tokens_per_s"]
            ),
        },
    }


# --------------------------------------------------------------------------- report


def compare(servers: dict[str, Any], ours: str = "lgtrace") -> dict[str, Any] | None:
    if servers.get(ours, {}).get("status") != "ok" or servers.get("langgraph", {}).get("status") != "ok":
        return None
    a, b = servers[ours]["summary"], servers["langgraph"]["summary"]
    tps = a["tokens_per_s_median"] / b["tokens_per_s_median"]
    p99 = a["ttft_p99_s"] / b["ttft_p99_s"]
    return {
        "tokens_per_s_ratio": tps,
        "per_stream_tokens_per_s_ratio": a["per_stream_tokens_per_s_median"]
        / b["per_stream_tokens_per_s_median"],
        "ttft_p50_ratio": a["ttft_p50_s"] / b["ttft_p50_s"],
        "ttft_p99_ratio": p99,
        "peak_rss_ratio": a["peak_rss_mib"] / b["peak_rss_mib"],
        "server_cpu_ratio": a["server_cpu_s_median"] / b["server_cpu_s_median"],
        "target_tokens_per_s_met": tps >= 2.0,
        "target_ttft_p99_met": p99 <= 0.5,
    }


def _ms(s: float | None) -> str:
    if s is None:
        return "—"
    return f"{s:.2f} s" if s >= 1 else f"{s * 1000:.0f} ms" if s >= 0.01 else f"{s * 1000:.1f} ms"


LABELS = {
    "lgtrace": "`lgtrace serve`",
    "langgraph": "`langgraph dev`",
    "lgtrace-memory": "lgtrace's app, `InMemorySaver`",
}
MODEL_LABELS = {"http": "ChatOpenAI over HTTP", "local": "in-process model"}


def format_table(data: dict[str, Any]) -> str:
    st = data["settings"]
    lines = [
        f"{st['streams']} concurrent streams x {st['tokens']} tokens, "
        f"{st['rounds']} rounds per server and model",
        "",
        "| model | server | TTFT p50 | TTFT p99 | tokens/s aggregate | tokens/s per stream | peak RSS (idle) "
        "| server CPU / round | disconnect → model stream closed |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, block in data["models"].items():
        for name, rec in block["servers"].items():
            s = rec.get("summary")
            if not s:
                lines.append(
                    f"| {MODEL_LABELS[kind]} | {LABELS[name]} "
                    f"| {rec['status']}: {' '.join(rec.get('reason', '').split())} "
                    "| | | | | | |"
                )
                continue
            disc = ""
            if s["disconnect_closed_median_s"] is not None or s["disconnect_not_closed"]:
                disc = (
                    f"median {_ms(s['disconnect_closed_median_s'])}, max {_ms(s['disconnect_closed_max_s'])}"
                )
                if s["disconnect_not_closed"]:
                    disc += f" ({s['disconnect_not_closed']} not closed in 5 s)"
            errors = f" ({s['errors']} streams failed)" if s["errors"] else ""
            lines.append(
                f"| {MODEL_LABELS[kind]} | {LABELS[name]}{errors} "
                f"| {_ms(s['ttft_p50_s'])} | {_ms(s['ttft_p99_s'])} "
                f"| {s['tokens_per_s_median']:,.0f} | {s['per_stream_tokens_per_s_median']:,.0f} "
                f"| {s['peak_rss_mib']:.0f} MiB ({rec['rss_idle_mib']:.0f}) "
                f"| {s['server_cpu_s_median']:.1f} s "
                f"| {disc} |"
            )
        anchor = block.get("anchor")
        if anchor and anchor.get("summary"):
            s = anchor["summary"]
            lines.append(
                f"| {MODEL_LABELS[kind]} | none: {st['streams']} bare `ChatOpenAI.astream` in the client "
                f"| {_ms(s['ttft_p50_s'])} | {_ms(s['ttft_p99_s'])} | {s['tokens_per_s_median']:,.0f} "
                f"| {s['per_stream_tokens_per_s_median']:,.0f} | | | |"
            )
    for kind, block in data["models"].items():
        for ours in ("lgtrace", "lgtrace-memory"):
            c = compare(block["servers"], ours)
            if not c:
                continue
            lines.append(
                f"\n{MODEL_LABELS[kind]}, {LABELS[ours]} / `langgraph dev`: "
                f"tokens/s {c['tokens_per_s_ratio']:.2f}x "
                f"(target >= 2: {'met' if c['target_tokens_per_s_met'] else 'missed'}), per stream "
                f"{c['per_stream_tokens_per_s_ratio']:.2f}x, TTFT p50 {c['ttft_p50_ratio']:.2f}, p99 "
                f"{c['ttft_p99_ratio']:.2f} "
                f"(target <= 0.5: {'met' if c['target_ttft_p99_met'] else 'missed'}), "
                f"peak RSS {c['peak_rss_ratio']:.2f}, server CPU {c['server_cpu_ratio']:.2f}"
            )
    return "\n".join(lines)


def _versions() -> dict[str, str | None]:
    import importlib.metadata

    out: dict[str, str | None] = {}
    for name in EXTRA_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def serve_memory(config: str, port: str) -> None:
    """lgtrace's server app as ``lgtrace serve`` builds it, but checkpoints in an ``InMemorySaver`` (as
    ``langgraph dev`` keeps them): what the SQLite file costs a run under load."""
    import uvicorn

    from lgtrace.checkpoint.memory import InMemorySaver
    from lgtrace.server.app import create_app
    from lgtrace.server.config import load_project

    app = create_app(load_project(config).graphs, InMemorySaver())
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", lifespan="on", loop="asyncio")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.server", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="50 tokens x 10 streams, 1 round (smoke test)")
    ap.add_argument("--servers", default=",".join(SERVERS), help="subset of lgtrace,langgraph")
    ap.add_argument("--models", default=",".join(MODELS), help="subset of http,local")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--streams", type=int)
    ap.add_argument("--tokens", type=int)
    ap.add_argument("--no-anchor", action="store_true", help="skip the bare-model anchor")
    ap.add_argument("-o", "--output", type=Path, help="JSON path (default bench/results/server.json)")
    ap.add_argument("--show", type=Path, metavar="JSON", help="print the table of a results file and exit")
    args = ap.parse_args(argv)
    if args.show:
        print(format_table(json.loads(args.show.read_text())))
        return 0
    settings = dict(QUICK if args.quick else FULL)
    for key in ("rounds", "streams", "tokens"):
        if getattr(args, key):
            settings[key] = getattr(args, key)
    settings.update(
        model_token_delay_s=0.0,
        disconnect_token_delay_s=SLOW_TOKEN_DELAY_S,
        leave_after_tokens=LEAVE_AFTER_TOKENS,
        rss_sample_s=SAMPLE_S,
    )
    output = args.output or RESULTS / ("server_quick.json" if args.quick else "server.json")
    info = machine_info()
    info["packages"].update(_versions())
    data: dict[str, Any] = {
        "schema": 1,
        "command": "python -m bench.server" + (" " + " ".join(argv) if argv else ""),
        "quick": args.quick,
        "settings": settings,
        "machine": info,
        "models": {},
    }
    t0 = time.monotonic()
    model = ModelServer(settings["tokens"])
    try:
        for kind in args.models.split(","):
            block: dict[str, Any] = {"servers": {}}
            data["models"][kind] = block
            for name in args.servers.split(","):
                reason = server_available(name)
                if reason:
                    block["servers"][name] = {"status": "skipped", "reason": reason}
                    print(f"  {kind}, {name}: skipped: {reason}", flush=True)
                    continue
                try:
                    block["servers"][name] = bench_server(name, model, kind, settings)
                except Exception as exc:
                    block["servers"][name] = {
                        "status": "error",
                        "reason": f"{type(exc).__name__}: {exc}"[:2000],
                    }
                    print(f"  {kind}, {name}: error: {exc}", flush=True)
            if kind == "http" and not args.no_anchor:
                block["anchor"] = bench_anchor(model, settings)
            block["comparison"] = compare(block["servers"])
            block["comparison_memory"] = compare(block["servers"], "lgtrace-memory")
    finally:
        model.close()
    info["load_average_end"] = load_average()
    data["total_elapsed_s"] = round(time.monotonic() - t0, 1)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data, indent=1, default=str) + "\n")
    print(format_table(data))
    print(
        f"total {data['total_elapsed_s']:.0f} s; load {info['load_average_start']} -> "
        f"{info['load_average_end']}; wrote {output}"
    )
    bad = [
        f"{kind}/{name}"
        for kind, block in data["models"].items()
        for name, rec in [*block["servers"].items(), ("anchor", block.get("anchor") or {"status": "ok"})]
        if rec["status"] == "error"
    ]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

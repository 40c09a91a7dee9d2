"""``lgtrace serve`` on PostgreSQL and Redis: 1 worker vs 2 workers on one address, and cross-worker
cancel (issue #15).

The graph and the client are ``bench.server``'s (imported, not copied): ``bench/serve_project``, one
node whose ``ChatOpenAI(streaming=True)`` reads a 500-token answer from the bundled OpenAI-compatible
server (``lgtrace.testing.FakeOpenAIServer``, a child process on 127.0.0.1, ``token_delay`` 0). The bench
starts its own PostgreSQL (``tests/pgserver.py``: ``initdb`` in a temporary directory, 127.0.0.1,
``fsync`` off) and ``redis-server`` (``tests/redisserver.py``, no persistence), and for each
configuration a fresh database and Redis database number:

- ``workers=1``: ``python -m lgtrace.server --postgres URL --redis URL`` (one process);
- ``workers=2``: the same with ``--workers 2``: a supervisor and two worker processes bound to one
  address with ``SO_REUSEPORT`` (the kernel spreads the client's connections over them).

**Throughput and TTFT.** The official ``langgraph-sdk`` async client in this process, its HTTP pool
raised to 400 connections (``get_client``'s httpx default of 100 with a 5 s pool timeout would queue
half of the streams and fail them): per round, 200 fresh threads (created before the clock starts),
then 200 ``client.runs.stream(thread, "chat", stream_mode="messages-tuple")`` at once
(``bench.server.batch``). Time to first token: from calling ``runs.stream`` to the first ``messages``
event with content, p50/p99 over all streams; tokens/s aggregate: all tokens / (last stream's end -
gather start); every stream must spell the model's answer. A warm-up batch of 20 streams first.

**CPU profile.** The machine's cores are shared by the client, the model server, PostgreSQL, Redis
and the workers. CPU seconds (``psutil`` ``cpu_times``, user + system, of every live process of a
tree plus what it reaped) over each round: each worker, the supervisor, PostgreSQL (postmaster and
backends), ``redis-server``, the model server, this client, and the whole machine
(``psutil.cpu_times()``; "other" = machine - all of those). From it, per 1000 tokens: CPU seconds of
the workers and of the server side (workers + PostgreSQL + Redis), hence the tokens/s one worker
would deliver on a core of its own and the ceiling Redis (single-threaded) would set. These are
extrapolations from a 2-core profile, not measurements on more cores.

**Cross-worker cancel.** Two separate workers (two processes, two ports, one PostgreSQL and one Redis,
as ``tests/server/test_scale.py`` starts them). Per trial: a run streamed from worker 1 whose model is
paced at 10 ms/token (the ``slow`` input of ``bench.server``'s model server, 500 tokens = 5 s); after
5 tokens, ``runs.cancel(thread, run)`` (action ``interrupt``) sent to worker 2; measured from just before
that call: the cancel request's answer, the model server seeing its HTTP stream closed (its
``time.monotonic`` stamp: the clock is shared by the processes on Linux), the stream on worker 1
ending, and worker 2 answering ``runs.get`` with status ``interrupted`` (polled every 5 ms).
Target (issue #15): within 200 ms.

    python -m bench.scale                 # 200 streams x 500 tokens, 1 round per config, 10 cancel trials
    python -m bench.scale --quick         # 20 streams x 50 tokens, 2 cancel trials (smoke; scale_quick.json)
    python -m bench.scale --show bench/results/scale.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.machine import load_average, machine_info
from bench.server import (
    GRAPH_ID,
    PROJECT,
    ModelServer,
    _free_port,
    _input,
    _ms,
    _pct,
    _server_env,
    _versions,
    round_figures,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FULL = {"tokens": 500, "streams": 200, "rounds": 1, "warmup_streams": 20, "cancel_trials": 10}
QUICK = {"tokens": 50, "streams": 20, "rounds": 1, "warmup_streams": 4, "cancel_trials": 2}
WORKERS = (1, 2)
POOL = 400
LEAVE_AFTER_TOKENS = 5
POLL_S = 0.005
CANCEL_TARGET_S = 0.2
START_TIMEOUT_S = 60.0


# --------------------------------------------------------------------------- infrastructure


@contextlib.contextmanager
def infrastructure(tokens: int) -> Iterator[dict[str, Any]]:
    """PostgreSQL, redis-server and the model server, for the whole bench."""
    from tests.pgserver import PgServer, find_bindir
    from tests.redisserver import RedisServer, find_redis

    bindir, redis_bin = find_bindir(), find_redis()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    if redis_bin is None:
        raise RuntimeError("redis-server not found (apt-get install redis-server)")
    with contextlib.ExitStack() as stack:
        pg = PgServer(bindir).start()
        stack.callback(pg.stop)
        redis = RedisServer(redis_bin).start()
        stack.callback(redis.close)
        model = ModelServer(tokens)
        stack.callback(model.close)
        yield {"pg": pg, "redis": redis, "model": model}


def fresh_database(pg: Any, name: str) -> str:
    """A new database on the bench's PostgreSQL; its URL."""
    import psycopg

    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg.url.rsplit("/", 1)[0] + "/" + name


def postmaster_pid(pg: Any) -> int:
    return int((pg.datadir / "postmaster.pid").read_text().split()[0])


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live descendants, plus what they reaped (user + system)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def machine_cpu() -> float:
    import psutil

    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


# --------------------------------------------------------------------------- the servers


@contextlib.contextmanager
def lgtrace_serve(
    workdir: Path, infra: dict[str, Any], pg_url: str, redis_db: int, tokens: int, workers: int, port: int
) -> Iterator[dict[str, Any]]:
    """``python -m lgtrace.server --postgres --redis [--workers N]`` until every worker answers /info."""
    import httpx

    redis_url = infra["redis"].url.rsplit("/", 1)[0] + f"/{redis_db}"
    argv = [
        sys.executable,
        "-m",
        "lgtrace.server",
        "--config",
        str(workdir / "lgtrace.json"),
        "--port",
        str(port),
        "--postgres",
        pg_url,
        "--redis",
        redis_url,
    ]
    if workers > 1:
        argv += ["--workers", str(workers)]
    log_path = workdir / f"serve-{port}.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        argv,
        cwd=workdir,
        env=_server_env(infra["model"].base_url, "http", tokens),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    try:
        pids: set[int] = set()
        while len(pids) < workers:
            if proc.poll() is not None:
                raise RuntimeError(f"lgtrace serve exited: {log_path.read_text()[-3000:]}")
            if time.monotonic() - t0 > START_TIMEOUT_S:
                raise RuntimeError(f"{workers} workers did not answer /info in {START_TIMEOUT_S:.0f} s")
            try:
                with httpx.Client(timeout=1) as c:  # a fresh connection each time: any worker may answer
                    pids.add(c.get(f"{url}/info").json()["lgtrace"]["pid"])
            except (httpx.HTTPError, KeyError, ValueError):
                time.sleep(0.1)
        yield {
            "url": url,
            "pid": proc.pid,
            "worker_pids": sorted(pids),
            "argv": [a if a not in (pg_url, redis_url) else "URL" for a in argv[1:]],
            "start_s": time.monotonic() - t0,
        }
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def sdk_client(url: str) -> Any:
    """The official async client (``LangGraphClient``) with its HTTP pool raised to ``POOL``."""
    import httpx
    from langgraph_sdk import get_client
    from langgraph_sdk.client import LangGraphClient

    headers = get_client(url=url, api_key=None).http.client.headers
    http = httpx.AsyncClient(
        base_url=url,
        transport=httpx.AsyncHTTPTransport(
            retries=5, limits=httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL)
        ),
        timeout=httpx.Timeout(connect=5, read=300, write=300, pool=30),
        headers=headers,
    )
    return LangGraphClient(http)


# --------------------------------------------------------------------------- throughput


class CpuMeter:
    """CPU seconds of every party over a span of time."""

    def __init__(self, srv: dict[str, Any], infra: dict[str, Any]) -> None:
        import psutil

        self.workers = srv["worker_pids"]
        self.supervisor = srv["pid"] if srv["pid"] not in self.workers else None
        self.pg = postmaster_pid(infra["pg"])
        self.redis = infra["redis"].proc.pid
        self.model = infra["model"].proc.pid
        self.me = psutil.Process()

    def read(self) -> dict[str, Any]:
        import psutil

        def own(pid: int) -> float:
            try:
                t = psutil.Process(pid).cpu_times()
            except psutil.Error:
                return 0.0
            return t.user + t.system

        me = self.me.cpu_times()
        return {
            "workers": [own(p) for p in self.workers],
            "supervisor": own(self.supervisor) if self.supervisor else 0.0,
            "postgres": tree_cpu(self.pg),
            "redis": tree_cpu(self.redis),
            "model_server": tree_cpu(self.model),
            "client": me.user + me.system,
            "machine": machine_cpu(),
        }

    @staticmethod
    def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {k: b[k] - a[k] for k in a if k != "workers"}
        out["workers"] = [y - x for x, y in zip(a["workers"], b["workers"], strict=True)]
        out["workers_total"] = sum(out["workers"])
        known = out["workers_total"] + sum(
            out[k] for k in ("supervisor", "postgres", "redis", "model_server", "client")
        )
        out["other"] = out["machine"] - known
        return out


async def stream_one(client: Any, thread_id: str, answer: str) -> dict[str, Any]:
    """``bench.server.one_stream``, but an exception the SDK raises is recorded as the stream's error,
    not propagated (one failed stream does not end the round)."""
    start = time.monotonic()
    first = last = None
    pieces: list[str] = []
    error = None
    try:
        async for part in client.runs.stream(
            thread_id, GRAPH_ID, input=_input("fast"), stream_mode="messages-tuple"
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
    except Exception as exc:
        error = error or f"{type(exc).__name__}: {exc}"[:300]
    if error is None and "".join(pieces) != answer:
        error = f"{len(pieces)} tokens, text {''.join(pieces)[:80]!r}... != the answer"
    return {
        "start": start,
        "first": first,
        "last": last,
        "end": time.monotonic(),
        "tokens": len(pieces),
        "error": error,
    }


async def batch_scaled(client: Any, n: int, answer: str) -> tuple[float, list[dict[str, Any]]]:
    """``bench.server.batch`` with ``stream_one``: ``n`` fresh threads, then ``n`` streams at once."""
    threads = await asyncio.gather(*(client.threads.create() for _ in range(n)))
    gc.collect()
    t0 = time.monotonic()
    records = await asyncio.gather(*(stream_one(client, t["thread_id"], answer) for t in threads))
    return t0, list(records)


async def runs_per_worker(pg_url: str) -> dict[str, int]:
    import psycopg

    async with await psycopg.AsyncConnection.connect(pg_url) as conn:
        cur = await conn.execute("SELECT worker, count(*) FROM lgtrace_runs GROUP BY worker ORDER BY 2 DESC")
        return {w: n for w, n in await cur.fetchall()}


def bench_workers(
    workers: int, infra: dict[str, Any], settings: dict[str, Any], workdir: Path
) -> dict[str, Any]:
    model: ModelServer = infra["model"]
    pg_url = fresh_database(infra["pg"], f"bench_scale_w{workers}")
    with lgtrace_serve(workdir, infra, pg_url, workers, settings["tokens"], workers, _free_port()) as srv:
        out: dict[str, Any] = {
            "status": "ok",
            "workers": workers,
            "argv": srv["argv"],
            "start_s": srv["start_s"],
            "rounds": [],
        }

        async def main() -> None:
            client = sdk_client(srv["url"])
            _, recs = await batch_scaled(client, settings["warmup_streams"], model.answer)  # warm-up
            if any(r["error"] for r in recs):
                raise RuntimeError(f"warm-up: {[r['error'] for r in recs if r['error']][:3]}")
            await asyncio.sleep(0.5)
            meter = CpuMeter(srv, infra)
            before_runs = await runs_per_worker(pg_url)
            for _ in range(settings["rounds"]):
                c0, w0 = meter.read(), time.monotonic()
                t0, recs = await batch_scaled(client, settings["streams"], model.answer)
                fig = round_figures(t0, recs)
                c1 = meter.read()
                fig["cpu_s"] = CpuMeter.delta(c0, c1)
                fig["cpu_wall_s"] = time.monotonic() - w0  # (threads.create included)
                out["rounds"].append(fig)
                print(
                    f"  workers={workers}: {fig['tokens_per_s']:,.0f} tok/s, TTFT p50 "
                    f"{fig['ttft_p50_s'] * 1000:.0f} ms p99 {fig['ttft_p99_s'] * 1000:.0f} ms, "
                    f"workers CPU {[round(x, 1) for x in fig['cpu_s']['workers']]} s, "
                    f"{fig['error_count']} errors",
                    flush=True,
                )
                await asyncio.sleep(0.5)
            after_runs = await runs_per_worker(pg_url)
            out["runs_per_worker_measured"] = sorted(
                (after_runs.get(w, 0) - before_runs.get(w, 0) for w in after_runs), reverse=True
            )

        asyncio.run(main())
    out["summary"] = summarize(out["rounds"], workers)
    if out["summary"]["errors"]:
        out["status"] = "error"
    return out


def summarize(rounds: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    ttft = [x for r in rounds for x in r["ttft_s"]]
    tokens = sum(r["tokens"] for r in rounds)
    cpu: dict[str, float] = {}
    for key in (
        "workers_total",
        "supervisor",
        "postgres",
        "redis",
        "model_server",
        "client",
        "other",
        "machine",
    ):
        cpu[key] = sum(r["cpu_s"][key] for r in rounds)
    wall = sum(r["cpu_wall_s"] for r in rounds)
    k = 1000 / tokens if tokens else 0.0
    per_1k = {key: value * k for key, value in cpu.items()}
    server_side = per_1k["workers_total"] + per_1k["postgres"] + per_1k["redis"] + per_1k["supervisor"]
    return {
        "ttft_p50_s": _pct(ttft, 0.5),
        "ttft_p99_s": _pct(ttft, 0.99),
        "tokens_per_s_median": statistics.median(r["tokens_per_s"] for r in rounds),
        "per_stream_tokens_per_s_median": statistics.median(
            x for r in rounds for x in r["per_stream_tokens_per_s"]
        ),
        "errors": sum(r["error_count"] for r in rounds),
        "tokens": tokens,
        "cpu_s": cpu,
        "machine_busy_share": cpu["machine"] / (wall * _cores()) if wall else None,
        "cpu_s_per_1k_tokens": per_1k,
        "worker_cpu_s_per_1k_tokens": per_1k["workers_total"],
        "server_side_cpu_s_per_1k_tokens": server_side,
        # one worker on a core of its own, nothing else limiting it
        "tokens_per_s_per_worker_core": 1000 / per_1k["workers_total"] if per_1k["workers_total"] else None,
        # workers + PostgreSQL + Redis, per core they use together
        "tokens_per_s_per_server_core": 1000 / server_side if server_side else None,
        # Redis runs on one core: its share caps the whole deployment
        "redis_ceiling_tokens_per_s": 1000 / per_1k["redis"] if per_1k["redis"] else None,
        "postgres_cores_per_10k_tokens_per_s": per_1k["postgres"] * 10,
    }


def _cores() -> int:
    import os

    return os.cpu_count() or 1


# --------------------------------------------------------------------------- cross-worker cancel


def bench_cancel(infra: dict[str, Any], settings: dict[str, Any], workdir: Path) -> dict[str, Any]:
    model: ModelServer = infra["model"]
    pg_url = fresh_database(infra["pg"], "bench_scale_cancel")
    redis_db = 9
    with contextlib.ExitStack() as stack:
        one = stack.enter_context(
            lgtrace_serve(workdir, infra, pg_url, redis_db, settings["tokens"], 1, _free_port())
        )
        two = stack.enter_context(
            lgtrace_serve(workdir, infra, pg_url, redis_db, settings["tokens"], 1, _free_port())
        )

        async def main() -> list[dict[str, Any]]:
            c1, c2 = sdk_client(one["url"]), sdk_client(two["url"])
            while not model.disconnects.empty():
                model.disconnects.get_nowait()
            trials = []
            for i in range(settings["cancel_trials"] + 1):  # the first one warms up, not counted
                trial = await cancel_trial(c1, c2, model)
                if i:
                    trials.append(trial)
                    print(
                        "  cancel via worker 2: "
                        + ", ".join(
                            f"{k.removesuffix('_s')} {_ms(trial[k])}"
                            for k in (
                                "cancel_answered_s",
                                "model_stream_closed_s",
                                "stream_ended_s",
                                "status_interrupted_s",
                            )
                        ),
                        flush=True,
                    )
                await asyncio.sleep(0.2)
            return trials

        trials = asyncio.run(main())
    summary: dict[str, Any] = {}
    for key in ("cancel_answered_s", "model_stream_closed_s", "stream_ended_s", "status_interrupted_s"):
        values = [t[key] for t in trials if t[key] is not None]
        summary[key] = {
            "median": statistics.median(values) if values else None,
            "max": max(values) if values else None,
            "missing": len(trials) - len(values),
        }
    worst = [max(t["model_stream_closed_s"] or 1e9, t["status_interrupted_s"] or 1e9) for t in trials]
    summary["target_s"] = CANCEL_TARGET_S
    summary["target_met"] = bool(worst) and max(worst) <= CANCEL_TARGET_S
    ok = all(t["final_status"] == "interrupted" for t in trials)
    return {"status": "ok" if ok else "error", "trials": trials, "summary": summary}


async def cancel_trial(c1: Any, c2: Any, model: ModelServer) -> dict[str, Any]:
    thread = await c1.threads.create()
    tid = thread["thread_id"]
    run_ids: list[str] = []
    seen = asyncio.Event()
    ended: dict[str, float] = {}
    tokens = 0

    async def consume() -> None:
        try:
            await read()
        except Exception as exc:
            ended["raised"] = f"{type(exc).__name__}: {exc}"[:300]
        ended["t"] = time.monotonic()

    async def read() -> None:
        nonlocal tokens
        async for part in c1.runs.stream(
            tid,
            GRAPH_ID,
            input=_input("slow"),
            stream_mode="messages-tuple",
            on_run_created=lambda m: run_ids.append(m["run_id"]),
        ):
            if part.event == "messages" and part.data[0].get("content"):
                tokens += 1
                if tokens == LEAVE_AFTER_TOKENS:
                    seen.set()

    reader = asyncio.create_task(consume())
    await asyncio.wait_for(seen.wait(), 30)
    run_id = run_ids[0]
    sent = time.monotonic()
    await c2.runs.cancel(tid, run_id)
    answered = time.monotonic()
    interrupted = None
    status = None
    while time.monotonic() - sent < 5:
        status = (await c2.runs.get(tid, run_id))["status"]
        if status == "interrupted":
            interrupted = time.monotonic()
            break
        await asyncio.sleep(POLL_S)
    try:
        disconnect = await asyncio.to_thread(model.disconnects.get, True, 5.0)
    except queue.Empty:
        disconnect = None
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(reader, 10)
    return {
        "tokens_before_cancel": LEAVE_AFTER_TOKENS,
        "tokens_seen": tokens,
        "cancel_answered_s": answered - sent,
        "model_stream_closed_s": None if disconnect is None else disconnect["t"] - sent,
        "model_chunks_sent": None if disconnect is None else disconnect["chunks_sent"],
        "stream_ended_s": ended["t"] - sent if "t" in ended else None,
        "status_interrupted_s": None if interrupted is None else interrupted - sent,
        "final_status": status,
        "stream_raised": ended.get("raised"),
    }


# --------------------------------------------------------------------------- report


def format_table(data: dict[str, Any]) -> str:
    st = data["settings"]
    lines = [
        f"{st['streams']} concurrent streams x {st['tokens']} tokens, {st['rounds']} round(s) per config; "
        f"{data['machine']['cores_logical']} cores shared by client, model server, PostgreSQL, Redis and "
        "workers",
        "",
        "| workers | TTFT p50 | TTFT p99 | tokens/s aggregate | runs per worker | CPU s: workers "
        "| PostgreSQL | Redis | model server | client | other | machine busy |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, rec in data["configs"].items():
        s = rec.get("summary")
        if not s:
            lines.append(f"| {name} | {rec['status']}: {rec.get('reason', '')[:200]} |" + " |" * 10)
            continue
        c = s["cpu_s"]
        per_worker = " + ".join(f"{x:.1f}" for r in rec["rounds"][:1] for x in r["cpu_s"]["workers"])
        errors = f" ({s['errors']} streams failed)" if s["errors"] else ""
        spread = " / ".join(map(str, rec.get("runs_per_worker_measured", [])))
        lines.append(
            f"| {rec['workers']}{errors} | {_ms(s['ttft_p50_s'])} | {_ms(s['ttft_p99_s'])} "
            f"| {s['tokens_per_s_median']:,.0f} | {spread} "
            f"| {per_worker} | {c['postgres']:.1f} | {c['redis']:.1f} | {c['model_server']:.1f} "
            f"| {c['client']:.1f} | {c['other']:.1f} | {s['machine_busy_share'] * 100:.0f}% |"
        )
    lines += [
        "",
        "| workers | CPU s / 1000 tokens: workers | PostgreSQL | Redis | server side (sum) "
        "| tokens/s per worker core | tokens/s per server-side core | Redis ceiling |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for rec in data["configs"].values():
        s = rec.get("summary")
        if not s:
            continue
        p = s["cpu_s_per_1k_tokens"]
        lines.append(
            f"| {rec['workers']} | {p['workers_total']:.3f} | {p['postgres']:.3f} | {p['redis']:.3f} "
            f"| {s['server_side_cpu_s_per_1k_tokens']:.3f} | {s['tokens_per_s_per_worker_core']:,.0f} "
            f"| {s['tokens_per_s_per_server_core']:,.0f} | {s['redis_ceiling_tokens_per_s']:,.0f} |"
        )
    cancel = data.get("cancel")
    if cancel and cancel.get("summary"):
        s = cancel["summary"]
        n = len(cancel["trials"])

        def cell(key: str) -> str:
            x = s[key]
            miss = f" ({x['missing']} missing)" if x["missing"] else ""
            return f"median {_ms(x['median'])}, max {_ms(x['max'])}{miss}"

        lines += [
            "",
            f"Cross-worker cancel ({n} trials; run streamed from worker 1, `runs.cancel` sent to worker 2):",
            "",
            "| cancel answered | model HTTP stream closed | stream on worker 1 ended "
            "| status `interrupted` (worker 2) "
            f"| target <= {CANCEL_TARGET_S * 1000:.0f} ms |",
            "| --- | --- | --- | --- | --- |",
            f"| {cell('cancel_answered_s')} | {cell('model_stream_closed_s')} | {cell('stream_ended_s')} "
            f"| {cell('status_interrupted_s')} | {'met' if s['target_met'] else 'MISSED'} |",
        ]
    elif cancel:
        lines.append(f"\ncancel: {cancel['status']}: {cancel.get('reason', '')[:300]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="20 streams x 50 tokens, 2 cancel trials (smoke test)"
    )
    ap.add_argument("--workers", default=",".join(map(str, WORKERS)), help="configs to run (default 1,2)")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--streams", type=int)
    ap.add_argument("--tokens", type=int)
    ap.add_argument("--cancel-trials", type=int)
    ap.add_argument("-o", "--output", type=Path, help="JSON path (default bench/results/scale.json)")
    ap.add_argument("--show", type=Path, metavar="JSON", help="print the tables of a results file and exit")
    args = ap.parse_args(argv)
    if args.show:
        print(format_table(json.loads(args.show.read_text())))
        return 0
    settings = dict(QUICK if args.quick else FULL)
    for key in ("rounds", "streams", "tokens", "cancel_trials"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    settings.update(
        http_pool=POOL,
        cancel_model_token_delay_s=0.01,
        cancel_after_tokens=LEAVE_AFTER_TOKENS,
    )
    output = args.output or RESULTS / ("scale_quick.json" if args.quick else "scale.json")
    info = machine_info()
    info["packages"].update(_versions())
    data: dict[str, Any] = {
        "schema": 1,
        "command": "python -m bench.scale" + (" " + " ".join(argv) if argv else ""),
        "quick": args.quick,
        "settings": settings,
        "machine": info,
        "configs": {},
    }
    print(
        f"bench.scale: {settings['streams']} streams x {settings['tokens']} tokens; {info['cpu_model']}, "
        f"{info['cores_logical']} cores, load {info['load_average_start']}",
        flush=True,
    )
    t0 = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp,
        infrastructure(settings["tokens"]) as infra,
    ):
        workdir = Path(tmp) / "project"
        shutil.copytree(PROJECT, workdir, ignore=shutil.ignore_patterns("__pycache__"))
        data["infrastructure_versions"] = _infra_versions(infra)
        for n in (int(x) for x in args.workers.split(",") if x):
            try:
                data["configs"][f"workers={n}"] = bench_workers(n, infra, settings, workdir)
            except Exception as exc:
                data["configs"][f"workers={n}"] = {
                    "status": "error",
                    "workers": n,
                    "reason": f"{type(exc).__name__}: {exc}"[:2000],
                }
                print(f"  workers={n}: error: {exc}", flush=True)
        if settings["cancel_trials"]:
            try:
                data["cancel"] = bench_cancel(infra, settings, workdir)
            except Exception as exc:
                data["cancel"] = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"[:2000]}
                print(f"  cancel: error: {exc}", flush=True)
    info["load_average_end"] = load_average()
    data["total_elapsed_s"] = round(time.monotonic() - t0, 1)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(data, indent=1, default=str) + "\n")
    print(format_table(data))
    print(
        f"total {data['total_elapsed_s']:.0f} s; load {info['load_average_start']} -> "
        f"{info['load_average_end']}; wrote {output}"
    )
    bad = [k for k, v in data["configs"].items() if v["status"] != "ok"]
    if data.get("cancel", {}).get("status", "ok") != "ok":
        bad.append("cancel")
    return 1 if bad else 0


def _infra_versions(infra: dict[str, Any]) -> dict[str, str]:
    out = {}
    with contextlib.suppress(Exception):
        out["postgres"] = subprocess.run(
            [str(infra["pg"].bindir / "postgres"), "--version"], capture_output=True, text=True
        ).stdout.strip()
    with contextlib.suppress(Exception):
        out["redis"] = subprocess.run(
            [infra["redis"].binary, "--version"], capture_output=True, text=True
        ).stdout.strip()
    return out


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""``lgtrace serve`` / ``python -m lgtrace.server``: serve a LangGraph project's graphs
(``langgraph.json``) over the Agent Server protocol on 127.0.0.1:2024, checkpoints in SQLite."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from lgtrace.server.app import cors_from_env, create_app
from lgtrace.server.config import ConfigError, load_project


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lgtrace serve", description=__doc__)
    p.add_argument("--config", default="langgraph.json", help="the project's langgraph.json")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=2024)
    p.add_argument(
        "--db", default=None, help="SQLite file for checkpoints (default: .lgtrace/checkpoints.sqlite)"
    )
    p.add_argument(
        "--cors-origin", action="append", default=None, help="allow this browser origin (repeatable)"
    )
    p.add_argument("--max-body", type=int, default=10 * 1024 * 1024, help="request body limit in bytes")
    p.add_argument("--max-events", type=int, default=10_000, help="events kept per run")
    p.add_argument("--keep-runs", type=int, default=1000, help="finished runs remembered")
    p.add_argument(
        "--postgres",
        default=os.environ.get("POSTGRES_URI") or None,
        help="PostgreSQL URL: threads, runs and checkpoints shared by several workers (env POSTGRES_URI)",
    )
    p.add_argument(
        "--redis",
        default=os.environ.get("REDIS_URI") or None,
        help="Redis URL: run events, cancellation and turns shared by several workers (env REDIS_URI)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the address (more than 1 needs --postgres and --redis)",
    )
    p.add_argument(
        "--retry-lost-runs",
        type=int,
        default=int(os.environ.get("LGTRACE_RETRY_LOST_RUNS") or 0),
        metavar="N",
        help="with several workers: a run whose worker died is continued from its last checkpoint by "
        "another worker, at most N more times (default 0: it is failed; env LGTRACE_RETRY_LOST_RUNS)",
    )
    p.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)  # (one of several workers)
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    project = load_project(args.config)
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from lgtrace.otel import configure_otlp, instrument

        configure_otlp(service_name=os.environ.get("OTEL_SERVICE_NAME") or "lgtrace-serve")
        instrument()  # every run traced; each nests under the HTTP span of the request that started it
    options = {
        "api_key": os.environ.get("LGTRACE_API_KEY") or None,
        "cors_origins": args.cors_origin or cors_from_env(),
        "max_body": args.max_body,
        "max_events": args.max_events,
        "keep_runs": args.keep_runs,
    }
    if bool(args.postgres) != bool(args.redis):
        raise ConfigError("several workers need both --postgres and --redis (or POSTGRES_URI and REDIS_URI)")
    if args.retry_lost_runs and not args.postgres:
        raise ConfigError(
            "--retry-lost-runs needs --postgres and --redis (a run is taken over by another worker)"
        )
    if args.postgres:
        from lgtrace.server.scale import open_scaled

        registry, resources = await open_scaled(
            project.graphs,
            args.postgres,
            args.redis,
            max_events=args.max_events,
            keep_runs=args.keep_runs,
            retry_lost=args.retry_lost_runs,
        )
        async with resources:
            await _run(create_app(project.graphs, registry.saver, registry=registry, **options), args)
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    db = Path(args.db) if args.db else project.root / ".lgtrace" / "checkpoints.sqlite"
    db.parent.mkdir(parents=True, exist_ok=True)
    threads = db.with_name(db.stem + "-threads.sqlite")  # (thread records: apart from the checkpoints)
    async with AsyncSqliteSaver.from_conn_string(str(db)) as saver:
        await _run(create_app(project.graphs, saver, thread_file=str(threads), **options), args)


async def _run(app: Any, args: argparse.Namespace) -> None:
    import uvicorn

    if args.reuse_port:  # one of several workers: each binds the address, the kernel spreads connections
        import socket

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((args.host, args.port))
        sock.listen(2048)
        config = uvicorn.Config(app, fd=sock.fileno(), log_level="warning", lifespan="on")
    else:
        config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.02)
    if server.started:
        print(f"lgtrace serve: listening on http://{args.host}:{args.port}", flush=True)
    await task


def _supervise(args: argparse.Namespace, argv: list[str]) -> None:
    """``--workers N``: start N worker processes that each bind the address with ``SO_REUSEPORT``
    (the kernel spreads connections over them), stop them all when stopped; a worker that exits is
    started again."""
    import signal
    import subprocess
    import time

    if not (args.postgres and args.redis):
        raise ConfigError("--workers above 1 needs --postgres and --redis (workers share them)")
    child_args = list(argv)
    for i, arg in enumerate(argv):  # the workers get every option but --workers
        if arg == "--workers" or arg.startswith("--workers="):
            del child_args[i : i + (2 if arg == "--workers" else 1)]
            break
    command = [sys.executable, "-m", "lgtrace.server", *child_args, "--reuse-port"]
    stopping = False

    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command)

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children = [spawn() for _ in range(args.workers)]
    print(f"lgtrace serve: {args.workers} workers on http://{args.host}:{args.port}", flush=True)
    while not stopping:
        time.sleep(0.2)
        for i, child in enumerate(children):
            if child.poll() is not None and not stopping:
                children[i] = spawn()
    for child in children:
        child.terminate()
    for child in children:
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    try:
        if args.workers > 1 and not args.reuse_port:
            _supervise(args, argv)
            return
        asyncio.run(serve(args))
    except ConfigError as exc:
        print(f"lgtrace serve: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass

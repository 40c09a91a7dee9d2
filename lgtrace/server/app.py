"""The ASGI app of ``lgtrace serve``: the Agent Server routes LangGraph's SDK clients call
(threads, state, history, runs: stream / background / wait / join / cancel, assistants), SSE
framed as the official server frames it, and the playground page at ``/``."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lgtrace.server.runs import Registry, Run, RunError, Thread, ThreadFile, search_body
from lgtrace.server.serde import dumps, error_of, jsonable

STATIC = Path(__file__).parent / "static"
HEARTBEAT_SECONDS = 5.0
SSE_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


class _Limits:
    """API key (``x-api-key``) and request body size, checked before any route runs."""

    def __init__(self, app: ASGIApp, api_key: str | None, max_body: int) -> None:
        self.app = app
        self.api_key = api_key
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        path = scope.get("path", "")
        public = path in ("/", "/ok") or path.startswith("/static/") or scope.get("method") == "OPTIONS"
        if self.api_key and not public and headers.get("x-api-key") != self.api_key:
            await JSONResponse({"detail": "Invalid or missing API key (x-api-key)"}, 401)(
                scope, receive, send
            )
            return
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await JSONResponse({"detail": f"Request body over {self.max_body} bytes"}, 413)(
                scope, receive, send
            )
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await JSONResponse({"detail": f"Request body over {self.max_body} bytes"}, 413)(
                scope, receive, send
            )


class _TooLarge(Exception):
    pass


def create_app(
    graphs: dict[str, Any],
    saver: Any,
    *,
    api_key: str | None = None,
    cors_origins: list[str] | None = None,
    max_body: int = 10 * 1024 * 1024,
    keep_runs: int = 1000,
    max_events: int = 10_000,
    on_shutdown: Any = None,
    tracing: bool = True,
    tracer_provider: Any = None,
    registry: Registry | None = None,
    thread_file: str | None = None,
) -> Starlette:
    """The app serving ``graphs``; ``registry``: where threads, runs and events live (default: in
    this process, checkpoints in ``saver``, thread records in the SQLite file ``thread_file`` if
    given; ``lgtrace.server.scale`` for several workers)."""
    if registry is None:
        records = ThreadFile(thread_file) if thread_file else None
        registry = Registry(graphs, saver, keep_runs=keep_runs, max_events=max_events, records=records)

    async def body_of(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RunError(422, f"Malformed JSON body: {exc}") from None
        if not isinstance(body, dict):
            raise RunError(422, "The JSON body must be an object")
        return body

    def handle(fn: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                return await fn(request)
            except RunError as exc:
                return JSONResponse({"detail": exc.detail}, exc.status)

        return endpoint

    # -- service ---------------------------------------------------------------------------------

    async def ok(request: Request) -> Response:
        return JSONResponse({"ok": True, "services": {}})

    async def info(request: Request) -> Response:
        from importlib.metadata import version

        return JSONResponse(
            {"version": version("lgtrace"), "lgtrace": {"pid": os.getpid()}, "flags": {"assistants": True}}
        )

    async def index(request: Request) -> Response:
        page = STATIC / "index.html"
        if not page.is_file():
            return JSONResponse({"detail": "no playground page in this install"}, 404)
        return FileResponse(page)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        target = (STATIC / name).resolve()
        if STATIC.resolve() not in target.parents or not target.is_file():
            return JSONResponse({"detail": "Not found"}, 404)
        return FileResponse(target)

    # -- assistants ------------------------------------------------------------------------------

    async def search_assistants(request: Request) -> Response:
        body = await body_of(request)
        found = [registry.assistant_json(g) for g in registry.graphs if body.get("graph_id") in (None, g)]
        offset, limit = int(body.get("offset") or 0), int(body.get("limit") or 10)
        return JSONResponse(found[offset : offset + limit])

    async def get_assistant(request: Request) -> Response:
        return JSONResponse(registry.assistant_json(registry.graph_id(request.path_params["assistant_id"])))

    async def assistant_graph(request: Request) -> Response:
        graph = registry.graphs[registry.graph_id(request.path_params["assistant_id"])]
        return JSONResponse(jsonable(graph.get_graph().to_json()))

    # -- threads ---------------------------------------------------------------------------------

    async def thread_json(thread: Thread) -> dict[str, Any]:
        state = await _state(thread)
        interrupts: dict[str, list[Any]] = {}
        values = None
        if state is not None:
            values = state["values"]
            for task in state["tasks"]:
                if task["interrupts"]:
                    interrupts[task["id"]] = task["interrupts"]
        return {
            "thread_id": thread.thread_id,
            "created_at": thread.created_at,
            "updated_at": thread.updated_at,
            "state_updated_at": thread.updated_at,
            "metadata": thread.metadata,
            "status": thread.status,
            "config": {"configurable": {}},
            "values": values,
            "error": thread.error,
            "interrupts": interrupts,
        }

    async def _state(thread: Thread, checkpoint_id: str | None = None) -> dict[str, Any] | None:
        if thread.graph_id is None:
            return None
        graph = registry.graphs[thread.graph_id]
        config: dict[str, Any] = {"configurable": {"thread_id": thread.thread_id}}
        if checkpoint_id:
            config["configurable"]["checkpoint_id"] = checkpoint_id
        snapshot = await graph.aget_state(config)
        if snapshot.config is None:
            return None
        return _thread_state(snapshot)

    async def create_thread(request: Request) -> Response:
        body = await body_of(request)
        thread = await registry.create_thread(
            body.get("thread_id"), body.get("metadata"), body.get("if_exists") or "raise"
        )
        if body.get("graph_id"):
            thread.graph_id = registry.graph_id(body["graph_id"])
            await registry.saved_thread(thread)
        return JSONResponse(await thread_json(thread))

    async def search_threads(request: Request) -> Response:
        query = search_body(await body_of(request))
        found = await registry.search_threads(query)
        return JSONResponse(jsonable([await thread_json(t) for t in found]))

    async def patch_thread(request: Request) -> Response:
        thread = await registry.thread(request.path_params["thread_id"])
        metadata = (await body_of(request)).get("metadata") or {}
        if not isinstance(metadata, dict):
            raise RunError(422, "'metadata' must be an object")
        await registry.update_thread(thread, metadata)
        return JSONResponse(jsonable(await thread_json(thread)))

    async def delete_thread(request: Request) -> Response:
        await registry.delete_thread(await registry.thread(request.path_params["thread_id"]))
        return Response(status_code=204)

    async def get_thread(request: Request) -> Response:
        return JSONResponse(
            jsonable(await thread_json(await registry.thread(request.path_params["thread_id"])))
        )

    async def get_state(request: Request) -> Response:
        thread = await registry.thread(request.path_params["thread_id"])
        state = await _state(thread, request.path_params.get("checkpoint_id"))
        return JSONResponse(jsonable(state if state is not None else _empty_state()))

    async def update_state(request: Request) -> Response:
        thread = await registry.thread(request.path_params["thread_id"])
        body = await body_of(request)
        if thread.graph_id is None:
            raise RunError(409, f"Thread {thread.thread_id!r} has no graph yet: run it first")
        graph = registry.graphs[thread.graph_id]
        config: dict[str, Any] = {"configurable": {"thread_id": thread.thread_id}}
        checkpoint_id = body.get("checkpoint_id") or (body.get("checkpoint") or {}).get("checkpoint_id")
        if checkpoint_id:
            config["configurable"]["checkpoint_id"] = checkpoint_id
        try:
            new = await graph.aupdate_state(config, body.get("values"), as_node=body.get("as_node"))
        except (ValueError, TypeError, KeyError) as exc:
            raise RunError(422, f"{type(exc).__name__}: {exc}") from None
        thread.touch()
        return JSONResponse({"checkpoint": new["configurable"], "configurable": new["configurable"]})

    async def history(request: Request) -> Response:
        thread = await registry.thread(request.path_params["thread_id"])
        body = await body_of(request) if request.method == "POST" else dict(request.query_params)
        if thread.graph_id is None:
            return JSONResponse([])
        graph = registry.graphs[thread.graph_id]
        limit = int(body.get("limit") or 10)
        before = body.get("before")
        if isinstance(before, dict):
            before = {"configurable": before.get("configurable", before)}
        elif isinstance(before, str):
            before = {"configurable": {"checkpoint_id": before}}
        config = {"configurable": {"thread_id": thread.thread_id}}
        states = []
        async for snapshot in graph.aget_state_history(
            config, limit=limit, before=before, filter=body.get("metadata") or None
        ):
            states.append(_thread_state(snapshot))
        return JSONResponse(jsonable(states))

    # -- runs ------------------------------------------------------------------------------------

    async def _thread_for_run(request: Request, body: dict[str, Any]) -> Thread:
        thread_id = request.path_params.get("thread_id")
        if thread_id is None:  # stateless: a temporary thread
            return await registry.create_thread(None, {}, "raise", temporary=True)
        try:
            return await registry.thread(thread_id)
        except RunError:
            if body.get("if_not_exists") == "create":
                return await registry.create_thread(thread_id, {}, "raise")
            raise RunError(404, "Thread or assistant not found.") from None

    async def run_stream(request: Request) -> Response:
        body = await body_of(request)
        thread = await _thread_for_run(request, body)
        run = await registry.start(thread, body)
        _tag_span(run)
        cancel_on_disconnect = body.get("on_disconnect", "continue") == "cancel"
        return _sse(run, thread, "-1", cancel_on_disconnect, registry)

    async def run_create(request: Request) -> Response:
        body = await body_of(request)
        thread = await _thread_for_run(request, body)
        run = await registry.start(thread, body)
        _tag_span(run)
        return JSONResponse(run.as_json(), headers={"Content-Location": _run_path(run, thread)})

    async def run_wait(request: Request) -> Response:
        body = await body_of(request)
        thread = await _thread_for_run(request, body)
        run = await registry.start(thread, body)
        _tag_span(run)
        await _wait_done(run)
        return JSONResponse(jsonable(_final(run)), headers={"Content-Location": _run_path(run, thread)})

    async def get_run(request: Request) -> Response:
        run = await registry.run(request.path_params["run_id"], request.path_params.get("thread_id"))
        return JSONResponse(run.as_json())

    async def list_runs(request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        await registry.thread(thread_id)
        return JSONResponse(jsonable(await registry.runs_of(thread_id)))

    async def join_run(request: Request) -> Response:
        run = await registry.run(request.path_params["run_id"], request.path_params.get("thread_id"))
        await _wait_done(run)
        return JSONResponse(jsonable(_final(run)))

    async def join_stream(request: Request) -> Response:
        run = await registry.run(request.path_params["run_id"], request.path_params.get("thread_id"))
        thread = registry.threads.get(run.thread_id) or Thread(run.thread_id)
        after = request.headers.get("last-event-id")
        if after is None:  # no id: the live tail only
            after = await run.log.tail_position()
        run.log.check_id(after)
        cancel = request.query_params.get("cancel_on_disconnect") in ("true", "1", "True")
        return _sse(run, thread, after, cancel, registry)

    async def cancel_run(request: Request) -> Response:
        run = await registry.run(request.path_params["run_id"], request.path_params.get("thread_id"))
        action = request.query_params.get("action", "interrupt")
        if action not in ("interrupt", "rollback"):
            raise RunError(422, f"Unknown cancel action {action!r} (interrupt or rollback)")
        await registry.cancel(run, action)
        if request.query_params.get("wait") in ("true", "1", "True"):
            await _wait_done(run)
            return JSONResponse(run.as_json())
        return Response(status_code=202)

    routes = [
        Route("/", index),
        Route("/static/{name:path}", static),
        Route("/ok", ok),
        Route("/info", info),
        Route("/assistants/search", handle(search_assistants), methods=["POST"]),
        Route("/assistants/{assistant_id}", handle(get_assistant)),
        Route("/assistants/{assistant_id}/graph", handle(assistant_graph)),
        Route("/threads", handle(create_thread), methods=["POST"]),
        Route("/threads/search", handle(search_threads), methods=["POST"]),
        Route("/threads/{thread_id}", handle(get_thread)),
        Route("/threads/{thread_id}", handle(patch_thread), methods=["PATCH"]),
        Route("/threads/{thread_id}", handle(delete_thread), methods=["DELETE"]),
        Route("/threads/{thread_id}/state", handle(get_state)),
        Route("/threads/{thread_id}/state", handle(update_state), methods=["POST"]),
        Route("/threads/{thread_id}/state/{checkpoint_id}", handle(get_state)),
        Route("/threads/{thread_id}/history", handle(history), methods=["GET", "POST"]),
        Route("/threads/{thread_id}/runs", handle(list_runs)),
        Route("/threads/{thread_id}/runs", handle(run_create), methods=["POST"]),
        Route("/threads/{thread_id}/runs/stream", handle(run_stream), methods=["POST"]),
        Route("/threads/{thread_id}/runs/wait", handle(run_wait), methods=["POST"]),
        Route("/threads/{thread_id}/runs/{run_id}", handle(get_run)),
        Route("/threads/{thread_id}/runs/{run_id}/join", handle(join_run)),
        Route("/threads/{thread_id}/runs/{run_id}/stream", handle(join_stream)),
        Route("/threads/{thread_id}/runs/{run_id}/cancel", handle(cancel_run), methods=["POST"]),
        Route("/runs", handle(run_create), methods=["POST"]),
        Route("/runs/stream", handle(run_stream), methods=["POST"]),
        Route("/runs/wait", handle(run_wait), methods=["POST"]),
        Route("/runs/{run_id}", handle(get_run)),
        Route("/runs/{run_id}/stream", handle(join_stream)),
    ]
    middleware = [Middleware(_Limits, api_key=api_key, max_body=max_body)]
    if tracing:  # an HTTP server span per request (W3C traceparent honoured); runs nest under it
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        middleware.insert(
            0,
            Middleware(
                OpenTelemetryMiddleware, exclude_spans=["receive", "send"], tracer_provider=tracer_provider
            ),
        )
    if cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=cors_origins,
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=["Content-Location", "Location"],
            )
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for run in list(registry.runs.values()):
            if run.task is not None and not run.done:
                run.task.cancel()
        if registry.records is not None:
            await registry.records.flush()
        if on_shutdown is not None:
            await on_shutdown()

    async def no_route(request: Request, exc: Exception) -> Response:
        """A route of the Agent Server this server does not have: a JSON error naming it."""
        what = _missing_feature(request.url.path)
        status = 404 if what else getattr(exc, "status_code", 404)
        detail = f"lgtrace serve has no {request.method} {request.url.path}"
        detail += f": {what} is not supported yet" if what else (" route" if status == 404 else " (method)")
        return JSONResponse({"detail": detail}, status)

    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={404: no_route, 405: no_route},
    )
    app.state.registry = registry
    return app


_MISSING = (
    (re.compile(r"^/store(/|$)"), "the store API"),
    (re.compile(r"(^|/)crons(/|$)"), "crons"),
    (re.compile(r"^/threads/[^/]+/stream$"), "a thread's join_stream"),
    (re.compile(r"^/threads/count$"), "counting threads"),
    (re.compile(r"^/assistants(/[^/]+/(schemas|subgraphs|versions|latest)|/count)?$"), "managing assistants"),
    (re.compile(r"^/runs/batch$"), "batches of runs"),
)


def _missing_feature(path: str) -> str | None:
    """The Agent Server feature a path belongs to, when lgtrace serve does not have it."""
    return next((name for pattern, name in _MISSING if pattern.search(path)), None)


def _tag_span(run: Run) -> None:
    """The request's server span names the thread and run it started."""
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({"langgraph.thread_id": run.thread_id, "langgraph.run_id": run.run_id})


def _run_path(run: Run, thread: Thread) -> str:
    return f"/runs/{run.run_id}" if thread.temporary else f"/threads/{thread.thread_id}/runs/{run.run_id}"


def _sse(run: Run, thread: Thread, after: str, cancel_on_disconnect: bool, registry: Registry) -> Response:
    path = _run_path(run, thread)
    resumable = bool(run.body.get("stream_resumable"))

    async def frames() -> AsyncIterator[bytes]:
        position = after  # the id of the last event this client has
        finished = False
        try:
            while True:
                try:
                    pending, lagged, done = await run.log.read(position, HEARTBEAT_SECONDS)
                except Exception as exc:  # the event store went away: say so, end the stream
                    yield _frame("error", dumps(error_of(exc)), None)
                    finished = True
                    return
                if lagged:
                    lost = {"error": "StreamLagged", "message": "events were dropped: the client fell behind"}
                    yield _frame("error", dumps(lost), None)
                    finished = True
                    return
                for event_id, event, data in pending:
                    yield _frame(event, data, event_id if resumable else None)
                    position = event_id
                if done:
                    finished = True
                    return
                if not pending:
                    yield b": heartbeat\r\n\r\n"
        finally:
            if not finished and cancel_on_disconnect and not run.done:
                await registry.cancel(run, "interrupt")

    headers = {**SSE_HEADERS, "Location": f"{path}/stream", "Content-Location": path}
    return StreamingResponse(frames(), media_type="text/event-stream; charset=utf-8", headers=headers)


def _frame(event: str, data: str, event_id: str | None) -> bytes:
    head = f"event: {event}\r\ndata: {data}\r\n"
    if event_id is not None:
        head += f"id: {event_id}\r\n"
    return (head + "\r\n").encode()


async def _wait_done(run: Run) -> None:
    await run.log.wait_done()


def _final(run: Run) -> Any:
    if run.error is not None:
        return {"__error__": run.error}
    output = run.output
    return output


def _empty_state() -> dict[str, Any]:
    return {
        "values": {},
        "next": [],
        "tasks": [],
        "metadata": {},
        "created_at": None,
        "checkpoint": None,
        "parent_checkpoint": None,
        "interrupts": [],
        "checkpoint_id": None,
        "parent_checkpoint_id": None,
    }


def _ref(config: Any) -> dict[str, Any] | None:
    if not config:
        return None
    conf = config["configurable"]
    return {
        "checkpoint_id": conf.get("checkpoint_id"),
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
    }


def _thread_state(snapshot: Any) -> dict[str, Any]:
    """A ``StateSnapshot`` as the Agent Server's ThreadState."""
    checkpoint, parent = _ref(snapshot.config), _ref(snapshot.parent_config)
    return {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "tasks": [
            {
                "id": t.id,
                "name": t.name,
                "path": list(t.path),
                "error": None if t.error is None else str(t.error),
                "interrupts": [{"id": i.id, "value": i.value} for i in t.interrupts],
                "checkpoint": None,
                "state": t.state if isinstance(t.state, dict) else None,
                "result": t.result,
            }
            for t in snapshot.tasks
        ],
        "metadata": snapshot.metadata,
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "interrupts": [{"id": i.id, "value": i.value} for i in snapshot.interrupts],
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def cors_from_env() -> list[str]:
    return [o.strip() for o in os.environ.get("LGTRACE_CORS_ORIGINS", "").split(",") if o.strip()]

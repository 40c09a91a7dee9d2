"""A real Arize Phoenix collector, run as a subprocess on loopback (test and demo utility).

Not for production: it exists so the end-to-end OTel test and the tracing example can start
Phoenix themselves. Nothing here imports ``phoenix`` in this process.

:func:`start_phoenix` launches ``phoenix serve`` (the ``arize-phoenix`` package) with a private
temporary working directory and SQLite database, telemetry and every outbound fetch switched off,
the HTTP server (UI, REST, GraphQL and OTLP/HTTP at ``/v1/traces``) on a free ``127.0.0.1`` port
and the OTLP/gRPC server on another free loopback port. It returns a :class:`PhoenixServer`
whose :meth:`PhoenixServer.spans` reads spans back through Phoenix's own REST API
(``GET /v1/projects/{project}/spans``).

Span dicts returned by :meth:`PhoenixServer.spans` (plain ``dict``, sorted by ``start_time``)::

    {
        "name": str,
        "span_id": str,          # 16 lowercase hex digits
        "parent_id": str | None, # span_id of the parent, None for a root
        "trace_id": str,         # 32 lowercase hex digits
        "span_kind": str,        # the ``openinference.span.kind`` value, "UNKNOWN" if absent
        "status_code": str,      # "UNSET" | "OK" | "ERROR"
        "status_message": str,
        "start_time": str,       # ISO 8601, UTC
        "end_time": str,
        "attributes": dict,      # FLATTENED: dotted keys, e.g. "llm.token_count.prompt"
        "events": list[dict],    # {"name", "timestamp", "attributes"}
    }

What Phoenix does to spans on the way in (all observed with arize-phoenix 20.26):

* ``openinference.span.kind`` is moved out of ``attributes`` into ``span_kind``.
* The OTel ``SpanKind`` (CLIENT, INTERNAL, ...) is **not stored**: Phoenix's OTLP-shaped endpoint
  reports every span as ``SPAN_KIND_INTERNAL``. Assert OTel kinds in-process
  (``InMemorySpanExporter``), not through Phoenix.
* Resource attributes (``service.name``...) are not returned; ``openinference.project.name``
  only selects the project (absent -> project ``"default"``).
* OpenInference attributes are synthesized from ``gen_ai.*`` ones when absent (never overriding
  ones the span carries): ``gen_ai.operation.name=chat`` -> kind ``LLM``, ``execute_tool`` ->
  ``TOOL``, ``invoke_agent`` -> ``AGENT``; ``gen_ai.usage.input_tokens``/``output_tokens`` ->
  ``llm.token_count.prompt``/``completion``/``total``; ``gen_ai.request.model`` ->
  ``llm.model_name``. To prove the exporter itself wrote an OpenInference attribute, check
  the in-process span.
* JSON-string values of ``metadata``, ``tool.parameters``, ``document.metadata`` and
  ``llm.prompt_template.variables`` are parsed and flattened (``metadata='{"a": 1}'`` comes back
  as ``"metadata.a": 1``); ``llm.token_count.*`` values are coerced to ``int``.
* A project exists only once its first span is stored: until then the REST API answers 404,
  which :meth:`PhoenixServer.spans` treats as "nothing yet".
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "PhoenixServer",
    "PhoenixStartupError",
    "children_of",
    "only",
    "otlp_tracer_provider",
    "phoenix_installed",
    "start_phoenix",
]

_HOST = "127.0.0.1"
_LOG_TAIL_CHARS = 12_000

# Run in the child as ``python -c``. Phoenix's gRPC server binds "[::]:PORT" (all interfaces)
# and has no setting for the host, and disabling it is only possible in read-only mode (which
# also refuses OTLP/HTTP). So rebind it to loopback by wrapping grpc.aio's add_insecure_port.
# A watchdog thread ends the server if the process that started it (pytest) goes away, so
# a killed test run leaves no orphan behind.
_LAUNCHER = r"""
import os, signal, sys, threading, time
import grpc.aio._server as _grpc_server

_add_insecure_port = _grpc_server.Server.add_insecure_port

def _loopback_only(self, address):
    return _add_insecure_port(self, "127.0.0.1:" + address.rpartition(":")[2])

_grpc_server.Server.add_insecure_port = _loopback_only

_parent = int(os.environ["LGTRACE_PHOENIX_PARENT_PID"])

def _watch_parent():
    while True:
        time.sleep(1.0)
        if os.getppid() != _parent:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10.0)
            os._exit(1)

threading.Thread(target=_watch_parent, name="parent-watchdog", daemon=True).start()
sys.argv = ["phoenix", "serve", *sys.argv[1:]]
from phoenix.server.main import main
main()
"""


class PhoenixStartupError(RuntimeError):
    """Phoenix did not become ready; the message ends with the tail of its log."""


def phoenix_installed() -> bool:
    """Whether ``arize-phoenix`` (the server) is installed, without importing it.

    Importing ``phoenix`` (or ``find_spec("phoenix.server")``, which imports the parent) loads
    the whole server stack: ~20-30 s here. The server only ever runs in the subprocess.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("arize-phoenix")
    except PackageNotFoundError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    # Never route loopback requests through an HTTP(S)_PROXY from the environment.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


_OPENER = _no_proxy_opener()


def _server_env(working_dir: Path, port: int, grpc_port: int) -> dict[str, str]:
    # Drop the caller's PHOENIX_* / OTEL_* settings: a PHOENIX_COLLECTOR_ENDPOINT, auth setting
    # or OTEL exporter variable must not change (or instrument) the server under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHOENIX_", "OTEL_"))}
    env.update(
        {
            "PHOENIX_WORKING_DIR": str(working_dir),
            "PHOENIX_SQL_DATABASE_URL": f"sqlite:///{working_dir}/phoenix.db",
            "PHOENIX_HOST": _HOST,
            "PHOENIX_PORT": str(port),
            "PHOENIX_GRPC_PORT": str(grpc_port),
            # no FullStory / Scarf pixels, no web fonts, no WASM sandbox download
            "PHOENIX_TELEMETRY_ENABLED": "false",
            "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
            # features the tests do not need (and that would talk to the outside if used)
            "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
            "PHOENIX_ENABLE_MCP_SERVER": "false",
            "PHOENIX_ENABLE_AUTH": "false",
            "PHOENIX_ENABLE_PROMETHEUS": "false",
            # keep the log readable: migrations otherwise echo every CREATE TABLE (~360 kB)
            "PHOENIX_LOG_MIGRATIONS": "false",
            "PHOENIX_DB_LOGGING_LEVEL": "warning",
            "LGTRACE_PHOENIX_PARENT_PID": str(os.getpid()),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@dataclass
class PhoenixServer:
    """A running ``phoenix serve``; use :func:`start_phoenix` to make one."""

    process: subprocess.Popen[bytes]
    port: int
    grpc_port: int
    working_dir: Path
    log_path: Path
    startup_seconds: float = 0.0

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: UI, REST (``/v1``), GraphQL (``/graphql``), OTLP/HTTP."""
        return f"http://{_HOST}:{self.port}"

    @property
    def otlp_traces_endpoint(self) -> str:
        """Full OTLP/HTTP (protobuf) traces URL, for ``OTLPSpanExporter(endpoint=...)``."""
        return f"{self.base_url}/v1/traces"

    @property
    def otlp_grpc_endpoint(self) -> str:
        """OTLP/gRPC endpoint (bound to loopback only), for the gRPC exporter if ever needed."""
        return f"http://{_HOST}:{self.grpc_port}"

    # ----------------------------------------------------------------- REST helpers

    def get_json(self, path: str, params: Mapping[str, Any] | None = None, timeout: float = 10.0) -> Any:
        """GET ``base_url + path`` (query values may be lists) and decode the JSON body."""
        url = self.base_url + path
        if params:
            url += "?" + urllib.parse.urlencode(
                [(k, v) for k, vs in params.items() if vs is not None for v in _as_list(vs)]
            )
        with _OPENER.open(url, timeout=timeout) as response:
            return json.load(response)

    def projects(self) -> list[str]:
        """Names of the projects Phoenix knows (``default`` always exists)."""
        body = self.get_json("/v1/projects", {"limit": 1000})
        return [p["name"] for p in body["data"]]

    def fetch_spans(self, project_name: str = "default", **filters: Any) -> list[dict[str, Any]]:
        """All spans of a project right now (no waiting); [] if the project does not exist yet.

        ``filters`` are passed to ``GET /v1/projects/{project}/spans``: ``trace_id``, ``span_id``,
        ``parent_id`` (``"null"`` = roots), ``name``, ``span_kind``, ``status_code`` (lists allowed).
        """
        path = f"/v1/projects/{urllib.parse.quote(project_name, safe='')}/spans"
        spans: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"limit": 1000, "sort": "start_time", "order": "asc", "cursor": cursor, **filters}
            try:
                body = self.get_json(path, params)
            except urllib.error.HTTPError as error:
                if error.code == 404:  # project not created yet: no span of it stored so far
                    return []
                raise
            spans.extend(_plain_span(s) for s in body["data"])
            cursor = body.get("next_cursor")
            if not cursor:
                return sorted(spans, key=lambda s: (s["start_time"], s["span_id"]))

    def spans(
        self,
        project_name: str = "default",
        min_count: int = 1,
        timeout: float = 20.0,
        poll_interval: float = 0.25,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Poll until the project holds at least ``min_count`` spans (matching ``filters``).

        Phoenix inserts spans asynchronously, shortly after the OTLP request returns, so flush
        the exporter (``provider.force_flush()`` / ``shutdown()``) first, then call this.
        Raises ``AssertionError`` (with what did arrive) after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        found: list[dict[str, Any]] = []
        while True:
            self.check_alive()
            found = self.fetch_spans(project_name, **filters)
            if len(found) >= min_count:
                return found
            if time.monotonic() >= deadline:
                names = [s["name"] for s in found]
                raise AssertionError(
                    f"Phoenix project {project_name!r} has {len(found)} span(s) {names}, "
                    f"expected at least {min_count} within {timeout}s (filters={filters})"
                )
            time.sleep(poll_interval)

    # ----------------------------------------------------------------- lifecycle

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise PhoenixStartupError(
                f"Phoenix exited with code {self.process.returncode}\n{self.log_tail()}"
            )

    def log_tail(self, chars: int = _LOG_TAIL_CHARS) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"(no log: {error})"
        return f"--- Phoenix log {self.log_path} (last {chars} chars) ---\n{text[-chars:]}"

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the server's process group, SIGKILL after ``timeout``; remove its directory."""
        _terminate(self.process, timeout)
        shutil.rmtree(self.working_dir.parent, ignore_errors=True)

    def __enter__(self) -> PhoenixServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return [value]


def _plain_span(span: Mapping[str, Any]) -> dict[str, Any]:
    context = span.get("context") or {}
    return {
        "name": span["name"],
        "span_id": context.get("span_id"),
        "parent_id": span.get("parent_id"),
        "trace_id": context.get("trace_id"),
        "span_kind": span.get("span_kind", "UNKNOWN"),
        "status_code": span.get("status_code"),
        "status_message": span.get("status_message", ""),
        "start_time": span.get("start_time"),
        "end_time": span.get("end_time"),
        "attributes": dict(span.get("attributes") or {}),
        "events": list(span.get("events") or []),
    }


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is not None:
        return
    # The child leads its own session (start_new_session=True): signal exactly that group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def _http_ready(url: str) -> bool:
    try:
        with _OPENER.open(url, timeout=2.0) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def start_phoenix(startup_timeout: float = 120.0, attempts: int = 2) -> PhoenixServer:
    """Start ``phoenix serve`` on free loopback ports and wait until ``/readyz`` answers 200.

    Retries once with new ports if the process dies during startup (e.g. a port grabbed in the
    window between choosing it and binding it). Raises :class:`PhoenixStartupError` with the
    log tail; nothing is left running in that case.
    """
    last_error: PhoenixStartupError | None = None
    for _ in range(attempts):
        root = Path(tempfile.mkdtemp(prefix="lgtrace-phoenix-"))
        working_dir = root / "phoenix"
        working_dir.mkdir()
        log_path = root / "phoenix.log"
        port, grpc_port = _free_port(), _free_port()
        while grpc_port == port:
            grpc_port = _free_port()
        started = time.monotonic()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER],
                cwd=working_dir,
                env=_server_env(working_dir, port, grpc_port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = PhoenixServer(process, port, grpc_port, working_dir, log_path)
        deadline = started + startup_timeout
        try:
            while True:
                if process.poll() is not None:
                    raise PhoenixStartupError(
                        f"Phoenix exited during startup with code {process.returncode}\n{server.log_tail()}"
                    )
                if _http_ready(f"{server.base_url}/readyz"):
                    server.startup_seconds = time.monotonic() - started
                    return server
                if time.monotonic() > deadline:
                    raise PhoenixStartupError(
                        f"Phoenix not ready after {startup_timeout:.0f}s on {server.base_url}\n"
                        + server.log_tail()
                    )
                time.sleep(0.25)
        except PhoenixStartupError as error:
            last_error = error
            timed_out = process.poll() is None
            _terminate(process, 10.0)
            shutil.rmtree(working_dir, ignore_errors=True)  # keep the log the message points to
            if timed_out:  # slow, not a port race: a second try would only be slow too
                break
        except BaseException:
            _terminate(process, 10.0)
            shutil.rmtree(root, ignore_errors=True)
            raise
    assert last_error is not None
    raise last_error


def otlp_tracer_provider(
    server: PhoenixServer, project_name: str, service_name: str = "lgtrace-e2e", batch: bool = True
) -> Any:
    """A fresh SDK ``TracerProvider`` exporting OTLP/HTTP (protobuf) to ``server``.

    The resource carries ``service.name`` and ``openinference.project.name`` (Phoenix's project
    selector). Not installed globally. Call ``force_flush()`` (or ``shutdown()``) before querying.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create({"service.name": service_name, "openinference.project.name": project_name})
    provider = TracerProvider(resource=resource)
    exporter = OTLPSpanExporter(endpoint=server.otlp_traces_endpoint, timeout=10)
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    return provider


# --------------------------------------------------------------------- span-tree helpers


def only(spans: Iterable[Mapping[str, Any]], name: str) -> dict[str, Any]:
    """The single span called ``name`` (AssertionError listing all names otherwise)."""
    spans = list(spans)
    matches = [s for s in spans if s["name"] == name]
    assert len(matches) == 1, (
        f"expected exactly one span {name!r}, got {len(matches)} among {[s['name'] for s in spans]}"
    )
    return dict(matches[0])


def children_of(spans: Iterable[Mapping[str, Any]], parent: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Spans whose ``parent_id`` is ``parent``'s ``span_id``, in start order."""
    return [dict(s) for s in spans if s["parent_id"] == parent["span_id"]]

"""A tiny, deterministic OpenAI-compatible chat-completions server.

.. warning::
   **Test / offline-demo utility only.** This is not a production server and not a
   faithful OpenAI emulator: it answers with scripted or echoed text, never calls a model,
   binds only to ``127.0.0.1`` and performs no authentication (any API key is accepted).

It lets real clients (``openai.OpenAI`` / ``AsyncOpenAI``, ``langchain_openai.ChatOpenAI``,
plain ``httpx``) talk to a local endpoint over real HTTP, so streaming, tool calling, usage
accounting, pacing, cancellation and error paths can be exercised without network access.

Example::

    from lgtrace.testing import FakeOpenAIServer, Reply, ToolCall

    replies = [Reply("Hello there!"), Reply(tool_calls=[ToolCall("search", {"q": "x"})])]
    with FakeOpenAIServer(replies=replies, token_delay=0.01) as server:
        llm = ChatOpenAI(base_url=server.base_url, api_key="test", model="gpt-4o-mini")
        llm.invoke("hi")           # -> AIMessage(content="Hello there!")
        llm.invoke("search x")     # -> AIMessage(tool_calls=[{"name": "search", ...}])
        server.requests            # the two parsed request bodies

Endpoints (the ``/v1`` prefix is optional):

* ``POST /v1/chat/completions`` - streaming (SSE, chunked transfer) and non-streaming.
* ``GET /v1/models`` and ``GET /v1/models/{id}``.

Determinism:

* Content is split into tokens by :func:`tokenize` (each token is a run of whitespace followed
  by a run of non-whitespace, i.e. a word with its leading whitespace; trailing whitespace is
  glued onto the last token), so ``"".join(tokenize(s)) == s``. A stream carries one content
  delta per token.
* Tool-call arguments (JSON text) are split with the same :func:`tokenize` into argument
  fragments, one fragment per delta.
* ``usage.prompt_tokens`` is :func:`count_prompt_tokens` of the request messages (number of
  whitespace-separated words of every message's text content); ``usage.completion_tokens`` is
  :meth:`Reply.completion_tokens` (content tokens plus argument fragments).
* Response ids are ``chatcmpl-fake{request_index:08d}`` and default tool-call ids are
  ``call_{request_index}_{tool_call_position}``.

Only the standard library is imported.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import select
import socket
import socketserver
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self, TypeAlias
from urllib.parse import urlsplit

__all__ = [
    "Disconnect",
    "FakeOpenAIServer",
    "Reply",
    "ReplySource",
    "ToolCall",
    "count_prompt_tokens",
    "echo_reply",
    "message_text",
    "tokenize",
]

_log = logging.getLogger(__name__)

_HOST = "127.0.0.1"
_THREAD_PREFIX = "FakeOpenAIServer"
_POLL_SLICE = 0.02  # seconds; granularity of disconnect / shutdown checks while pacing

# A word with its leading whitespace (plus trailing whitespace if it ends the text), or a
# whitespace-only text.
_TOKEN_RE = re.compile(r"\s*\S+(?:\s+\Z)?|\s+\Z")


# --------------------------------------------------------------------------------------
# Tokenization / accounting helpers
# --------------------------------------------------------------------------------------


def tokenize(text: str) -> list[str]:
    """Split *text* into the tokens the server streams, one delta per token.

    Each token is a word together with its leading whitespace; trailing whitespace is
    appended to the last token. Joining the tokens gives back *text* exactly::

        >>> tokenize("Hello big  world")
        ['Hello', ' big', '  world']
        >>> tokenize("")
        []
    """
    return _TOKEN_RE.findall(text)


def message_text(content: Any) -> str:
    """Text of an OpenAI message ``content`` (a string, or a list of content parts).

    Only ``text`` parts are kept (joined with a single space); ``None`` gives ``""``.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        ]
        return " ".join(texts)
    return str(content)


def count_prompt_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """Deterministic ``prompt_tokens``: whitespace-separated words over all message texts."""
    return sum(len(message_text(m.get("content")).split()) for m in messages)


# --------------------------------------------------------------------------------------
# Scripted replies
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ToolCall:
    """A tool call the fake model should make.

    ``args`` is a mapping (serialised with :func:`json.dumps`) or a raw JSON string (sent
    verbatim, which allows malformed arguments to exercise client error paths). ``id``
    defaults to ``call_{request_index}_{position}``.
    """

    name: str
    args: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        """The ``function.arguments`` string sent to the client."""
        return self.args if isinstance(self.args, str) else json.dumps(dict(self.args))

    def argument_fragments(self) -> list[str]:
        """The argument fragments streamed after the name delta (``tokenize`` of the JSON)."""
        return tokenize(self.arguments_json())


@dataclass(frozen=True)
class Reply:
    """One scripted response.

    * ``content`` / ``tool_calls``: the assistant message.
    * ``finish_reason``: defaults to ``"tool_calls"`` if there are tool calls, else ``"stop"``.
    * ``token_delay``: per-reply override of the server's ``token_delay``.
    * ``error_status``: if set, respond with this HTTP status and an OpenAI-style error body
      (``error_message``, ``error_type`` - default ``"server_error"`` for 5xx and
      ``"invalid_request_error"`` otherwise - and ``error_code``) instead of a completion.
      ``should_retry`` is sent as the ``x-should-retry`` header, which the ``openai`` SDK
      honours; it defaults to ``False`` so one scripted error is consumed by exactly one
      request. ``None`` omits the header (SDK default retry policy applies).
    """

    content: str = ""
    tool_calls: Sequence[ToolCall] = ()
    finish_reason: str | None = None
    token_delay: float | None = None
    error_status: int | None = None
    error_message: str = "scripted error from FakeOpenAIServer"
    error_type: str | None = None
    error_code: str | None = None
    should_retry: bool | None = False

    def content_tokens(self) -> list[str]:
        """Content deltas a stream of this reply carries (``tokenize(content)``)."""
        return tokenize(self.content)

    def completion_tokens(self) -> int:
        """``usage.completion_tokens``: content tokens plus all tool-argument fragments."""
        return len(self.content_tokens()) + sum(len(tc.argument_fragments()) for tc in self.tool_calls)

    def resolved_finish_reason(self) -> str:
        """The ``finish_reason`` reported for this reply."""
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"


ReplySource: TypeAlias = Sequence[Reply | str] | Callable[[dict[str, Any]], Reply | str | None] | None
"""``replies=`` argument: a sequence consumed in order, a callable ``(request) -> reply``
(returning ``None`` falls back to echo), or ``None`` for echo mode. Strings are shorthand for
``Reply(content=...)``."""


def echo_reply(request: Mapping[str, Any]) -> Reply:
    """The default reply: ``"echo: <text of the last user message>"``."""
    messages = request.get("messages") or []
    last = ""
    for message in reversed(messages):
        if isinstance(message, Mapping) and message.get("role") == "user":
            last = message_text(message.get("content"))
            break
    return Reply(content=f"echo: {last}")


@dataclass(frozen=True)
class Disconnect:
    """A streaming client that went away before the stream finished."""

    request_index: int
    chunks_sent: int  # SSE events fully written before the disconnect was noticed
    chunks_total: int  # SSE events the complete stream would have had (incl. ``[DONE]``)


class _ClientGone(Exception):
    pass


class _ServerStopping(Exception):
    pass


# --------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks its handler threads and connections for a clean close."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: FakeOpenAIServer) -> None:
        self.owner = owner
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self.handler_threads: set[threading.Thread] = set()
        self._conn_counter = 0
        super().__init__((_HOST, 0), _Handler)

    def server_bind(self) -> None:
        # Skip HTTPServer.server_bind's socket.getfqdn() (a potentially slow DNS lookup).
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            self._conn_counter += 1
            thread = threading.Thread(
                target=self._serve_connection,
                args=(request, client_address),
                name=f"{_THREAD_PREFIX}-conn-{self._conn_counter}",
                daemon=True,
            )
            self._connections.add(request)
            self.handler_threads.add(thread)
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            with self._lock:
                self._connections.discard(request)
                self.shutdown_request(request)
                self.handler_threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.owner.closing:
            return
        _log.debug("FakeOpenAIServer: error while serving %s", client_address, exc_info=True)

    def snapshot_threads(self) -> list[threading.Thread]:
        with self._lock:
            return list(self.handler_threads)

    def abort_connections(self) -> None:
        """Shut down every open connection so blocked handler threads wake up and exit."""
        with self._lock:
            for conn in self._connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


def _chunk_frame(payload: bytes) -> bytes:
    return b"%X\r\n%s\r\n" % (len(payload), payload)


def _sse(obj: Mapping[str, Any] | str) -> bytes:
    data = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAIServer/1.0"

    # -- infrastructure -------------------------------------------------------------

    @property
    def owner(self) -> FakeOpenAIServer:
        assert isinstance(self.server, _HTTPServer)
        return self.server.owner

    def setup(self) -> None:
        super().setup()
        # Flush tiny SSE writes immediately instead of waiting for ACKs (Nagle).
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("FakeOpenAIServer: " + format, *args)

    def _route(self) -> str:
        path = urlsplit(self.path).path.rstrip("/")
        return path.removeprefix("/v1")

    def _send_json(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def _send_error_json(
        self,
        status: int,
        message: str,
        *,
        error_type: str | None = None,
        code: str | None = None,
        should_retry: bool | None = False,
    ) -> None:
        if error_type is None:
            error_type = "server_error" if status >= 500 else "invalid_request_error"
        body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
        headers = {} if should_retry is None else {"x-should-retry": str(should_retry).lower()}
        self._send_json(status, body, headers)

    # -- routes ---------------------------------------------------------------------

    def do_GET(self) -> None:
        route = self._route()
        owner = self.owner
        if route == "/models":
            self._send_json(200, {"object": "list", "data": [owner.model_card(m) for m in owner.models]})
        elif route.startswith("/models/"):
            model = route.removeprefix("/models/")
            if model in owner.models:
                self._send_json(200, owner.model_card(model))
            else:
                self._send_error_json(404, f"The model '{model}' does not exist", code="model_not_found")
        else:
            self._send_error_json(404, f"Unknown path: GET {self.path}", code="not_found")

    def do_POST(self) -> None:
        route = self._route()
        raw = self._read_body()
        if raw is None:
            return
        if route != "/chat/completions":
            self._send_error_json(404, f"Unknown path: POST {self.path}", code="not_found")
            return
        try:
            request = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._send_error_json(400, f"Invalid JSON body: {exc}")
            return
        if not isinstance(request, dict):
            self._send_error_json(400, "Request body must be a JSON object")
            return
        if not isinstance(request.get("model"), str):
            self._send_error_json(400, "'model' is a required string property", code="missing")
            return
        messages = request.get("messages")
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            self._send_error_json(400, "'messages' must be a list of message objects")
            return

        owner = self.owner
        index, reply = owner._next_reply(request)
        if isinstance(reply, str):  # internal failure message
            self._send_error_json(500, reply)
            return
        if reply.error_status is not None:
            self._send_error_json(
                reply.error_status,
                reply.error_message,
                error_type=reply.error_type,
                code=reply.error_code,
                should_retry=reply.should_retry,
            )
            return
        if request.get("stream"):
            self._stream(index, request, reply)
        else:
            self._send_json(200, owner._completion(index, request, reply))

    def _read_body(self) -> bytes | None:
        length_header = self.headers.get("Content-Length")
        try:
            length = int(length_header) if length_header is not None else 0
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self.close_connection = True
            self._send_error_json(400, f"Invalid Content-Length: {length_header!r}")
            return None
        return self.rfile.read(length) if length else b""

    # -- streaming ------------------------------------------------------------------

    def _check_client(self) -> None:
        """Raise ``_ClientGone`` if the peer closed/reset the connection (non-blocking)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                raise _ClientGone
        except (OSError, ValueError) as exc:
            raise _ClientGone from exc

    def _pause(self, delay: float) -> None:
        """Sleep *delay* seconds while watching for client disconnects and server shutdown."""
        owner = self.owner
        deadline = time.monotonic() + delay
        while True:
            if owner.closing:
                raise _ServerStopping
            self._check_client()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                readable, _, _ = select.select([self.connection], [], [], min(remaining, _POLL_SLICE))
            except (OSError, ValueError) as exc:
                raise _ClientGone from exc
            if readable:
                self._check_client()
                # Pipelined data from a live client: nothing to watch; just wait it out.
                time.sleep(min(max(0.0, deadline - time.monotonic()), _POLL_SLICE))

    def _stream(self, index: int, request: Mapping[str, Any], reply: Reply) -> None:
        owner = self.owner
        events = list(owner._stream_events(index, request, reply))
        delay = owner.token_delay if reply.token_delay is None else reply.token_delay
        sent = 0
        owner._stream_started()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("x-request-id", f"req_fake{index:08d}")
            self.end_headers()
            self.wfile.flush()
            for paced, payload in events:
                if paced and delay > 0:
                    self._pause(delay)
                elif owner.closing:
                    raise _ServerStopping
                else:
                    self._check_client()
                try:
                    self.wfile.write(_chunk_frame(payload))
                    self.wfile.flush()
                except OSError as exc:
                    raise _ClientGone from exc
                sent += 1
            try:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                self.close_connection = True
        except _ClientGone:
            self.close_connection = True
            owner._record_disconnect(Disconnect(index, sent, len(events)))
        except _ServerStopping:
            self.close_connection = True
        except OSError:  # failure while sending headers
            self.close_connection = True
            owner._record_disconnect(Disconnect(index, sent, len(events)))
        finally:
            owner._stream_finished()


# --------------------------------------------------------------------------------------
# Public server
# --------------------------------------------------------------------------------------


class FakeOpenAIServer:
    """Deterministic OpenAI-compatible chat-completions server on ``127.0.0.1`` (tests only).

    Args:
        replies: scripted replies (see :data:`ReplySource`); ``None`` = echo mode. A sequence
            is consumed one reply per completion request; once exhausted, requests get a 500
            error (with ``x-should-retry: false``) explaining so.
        token_delay: seconds to wait before each streamed token (content token or
            tool-argument fragment). Ignored by non-streaming requests.
        models: model ids listed by ``GET /v1/models``. Completions accept any model name and
            echo it back.
        created: fixed ``created`` timestamp; defaults to the current time per response.

    Observability (all thread-safe to read; lists are appended to, never mutated otherwise):
        ``requests`` (parsed JSON bodies of valid completion requests, in arrival order; the
        position is the ``request_index``), ``disconnects`` (:class:`Disconnect` records),
        ``active_streams``, and the ``wait_for_*`` helpers.

    Use as a context manager, or call :meth:`start` / :meth:`close` explicitly.
    """

    def __init__(
        self,
        replies: ReplySource = None,
        *,
        token_delay: float = 0.0,
        models: Sequence[str] = ("gpt-4o-mini",),
        created: int | None = None,
    ) -> None:
        if token_delay < 0:
            raise ValueError("token_delay must be >= 0")
        self.token_delay = token_delay
        self.models: tuple[str, ...] = tuple(models)
        self.created = created
        self.requests: list[dict[str, Any]] = []
        self.disconnects: list[Disconnect] = []
        self._reply_fn: Callable[[dict[str, Any]], Reply | str | None] | None = None
        self._reply_queue: deque[Reply | str] | None = None
        if callable(replies):
            self._reply_fn = replies
        elif replies is not None:
            self._reply_queue = deque(replies)
        self._cond = threading.Condition()
        self._active_streams = 0
        self._closing = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._httpd = _HTTPServer(self)
        self.host: str = _HOST
        self.port: int = self._httpd.server_port

    # -- lifecycle ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` - pass as ``base_url`` to OpenAI clients."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def thread(self) -> threading.Thread | None:
        """The accept-loop thread (``None`` before :meth:`start`)."""
        return self._thread

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    def start(self) -> Self:
        """Start serving in a background thread (idempotent). Returns ``self``."""
        if self._closed:
            raise RuntimeError("FakeOpenAIServer is closed")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{_THREAD_PREFIX}-serve-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, abort in-flight streams and connections, join all threads.

        Idempotent. In-flight streams stop at their next token without ``[DONE]``.
        """
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        if self._thread is not None:
            self._httpd.shutdown()  # returns once serve_forever has exited
        self._httpd.server_close()
        self._httpd.abort_connections()
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        for thread in self._httpd.snapshot_threads():
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            self._cond.notify_all()

    def alive_threads(self) -> list[threading.Thread]:
        """Server threads (accept loop and connection handlers) that are still running."""
        threads = self._httpd.snapshot_threads()
        if self._thread is not None:
            threads.append(self._thread)
        return [t for t in threads if t.is_alive()]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("running" if self._thread else "created")
        return f"<FakeOpenAIServer {self.base_url} {state}>"

    # -- observability --------------------------------------------------------------

    @property
    def active_streams(self) -> int:
        """Number of streaming responses currently being written."""
        with self._cond:
            return self._active_streams

    def wait_for_requests(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until at least *count* completion requests arrived; ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.requests) >= count, timeout)

    def wait_for_disconnect(self, timeout: float = 5.0, count: int = 1) -> bool:
        """Block until at least *count* client disconnects were recorded; ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.disconnects) >= count, timeout)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until no stream is being written; ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._active_streams == 0, timeout)

    def model_card(self, model: str) -> dict[str, Any]:
        return {
            "id": model,
            "object": "model",
            "created": self._created(),
            "owned_by": "lgtrace-fake",
        }

    # -- internals used by the handler ----------------------------------------------

    def _created(self) -> int:
        return self.created if self.created is not None else int(time.time())

    def _next_reply(self, request: dict[str, Any]) -> tuple[int, Reply | str]:
        """Record *request*; return its index and the Reply (or an error message string)."""
        with self._cond:
            index = len(self.requests)
            self.requests.append(request)
            queued: Reply | str | None = None
            exhausted = False
            if self._reply_queue is not None:
                if self._reply_queue:
                    queued = self._reply_queue.popleft()
                else:
                    exhausted = True
            self._cond.notify_all()
        if exhausted:
            return index, f"FakeOpenAIServer: no scripted replies left (request #{index})"
        reply: Reply | str | None = queued
        if self._reply_fn is not None:
            try:
                reply = self._reply_fn(request)
            except Exception as exc:
                _log.exception("FakeOpenAIServer: reply callable failed")
                return index, f"FakeOpenAIServer: reply callable raised {exc!r}"
        if reply is None:
            return index, echo_reply(request)
        if isinstance(reply, str):
            return index, Reply(content=reply)
        if not isinstance(reply, Reply):
            return index, f"FakeOpenAIServer: invalid reply object {reply!r}"
        return index, reply

    def _stream_started(self) -> None:
        with self._cond:
            self._active_streams += 1
            self._cond.notify_all()

    def _stream_finished(self) -> None:
        with self._cond:
            self._active_streams -= 1
            self._cond.notify_all()

    def _record_disconnect(self, disconnect: Disconnect) -> None:
        with self._cond:
            self.disconnects.append(disconnect)
            self._cond.notify_all()

    @staticmethod
    def _tool_call_id(index: int, position: int, call: ToolCall) -> str:
        return call.id if call.id is not None else f"call_{index}_{position}"

    @staticmethod
    def _usage(request: Mapping[str, Any], reply: Reply) -> dict[str, int]:
        prompt = count_prompt_tokens(request.get("messages") or [])
        completion = reply.completion_tokens()
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _completion(self, index: int, request: Mapping[str, Any], reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if (reply.tool_calls and not reply.content) else reply.content,
            "refusal": None,
        }
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": self._tool_call_id(index, i, tc),
                    "type": "function",
                    "function": {"name": tc.name, "arguments": tc.arguments_json()},
                }
                for i, tc in enumerate(reply.tool_calls)
            ]
        return {
            "id": f"chatcmpl-fake{index:08d}",
            "object": "chat.completion",
            "created": self._created(),
            "model": request["model"],
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": reply.resolved_finish_reason(),
                }
            ],
            "usage": self._usage(request, reply),
        }

    def _stream_events(
        self, index: int, request: Mapping[str, Any], reply: Reply
    ) -> Iterator[tuple[bool, bytes]]:
        """Yield ``(paced, sse_bytes)`` for the whole stream; paced events are tokens."""
        stream_options = request.get("stream_options") or {}
        include_usage = isinstance(stream_options, Mapping) and bool(stream_options.get("include_usage"))
        created = self._created()
        base: dict[str, Any] = {
            "id": f"chatcmpl-fake{index:08d}",
            "object": "chat.completion.chunk",
            "created": created,
            "model": request["model"],
        }

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            body = {
                **base,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if include_usage:
                body["usage"] = None
            return _sse(body)

        yield False, chunk({"role": "assistant", "content": "", "refusal": None})
        for token in reply.content_tokens():
            yield True, chunk({"content": token})
        for i, tc in enumerate(reply.tool_calls):
            head = {
                "index": i,
                "id": self._tool_call_id(index, i, tc),
                "type": "function",
                "function": {"name": tc.name, "arguments": ""},
            }
            yield False, chunk({"tool_calls": [head]})
            for fragment in tc.argument_fragments():
                yield (
                    True,
                    chunk({"tool_calls": [{"index": i, "function": {"arguments": fragment}}]}),
                )
        yield False, chunk({}, reply.resolved_finish_reason())
        if include_usage:
            yield False, _sse({**base, "choices": [], "usage": self._usage(request, reply)})
        yield False, _sse("[DONE]")

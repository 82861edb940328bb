"""What the fake Anthropic and OpenAI servers share: a real HTTP/1.1 server on
127.0.0.1, request recording, a script of replies, and the SSE writer.

Why real servers: the provider layer talks to the APIs only through the official
SDKs, so the honest test double is one that speaks the wire format; the SDKs reach
it through ``base_url`` (or ANTHROPIC_BASE_URL / OPENAI_BASE_URL in subprocesses)
and every real code path runs: JSON and SSE parsing, status-code exception
classes, headers such as ``retry-after`` and request ids, chunked streams that end
early.

Scripting. ``enqueue(...)`` queues entries consumed in order by the next requests
to a path (by default the generation endpoint):

* ``Turn(text=..., tool_calls=[...], server_tools=[ServerToolSpec(...)], ...)`` - a model
  reply (``server_tools``: the provider's own web search / fetch, used before the text), rendered as JSON or as
  an SSE stream depending on the request's ``stream`` flag; a turn can also break
  its stream (``error_after=N`` sends an SSE error event after N events,
  ``cut_after=N`` drops the connection after N events) or be slow (``delay``,
  ``chunk_delay``).
* Each recorded request carries ``started_at`` / ``ended_at`` (``time.monotonic()``), so a
  test can tell whether calls overlapped without timing anything itself; ``slow_turns(s)``
  makes every unscripted reply stream over ``s`` seconds.
* ``Fault(status, body, headers)`` - an HTTP error answer (sent after the key is
  checked, before the request body is validated).

With nothing queued, a valid request gets a deterministic reply,
``"[<model>] <first 40 chars of the last user text>"`` (replace ``default_turn`` to
change that, e.g. for long streams in benchmarks).
"""

from __future__ import annotations

import json
import math
import secrets
import socket
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .llm_media import media_in

__all__ = [
    "Fault",
    "FakeLLMServer",
    "HTTPReply",
    "RecordedRequest",
    "SSEReply",
    "ServerToolSpec",
    "ToolCallSpec",
    "Turn",
    "estimate_tokens",
]


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    json: Any
    status: int = 0  # filled in once answered
    client_port: int = 0  # the client's TCP port: equal ports mean a reused keep-alive connection
    started_at: float = 0.0  # time.monotonic() when the request arrived
    ended_at: float = 0.0  # time.monotonic() when its answer was fully written (0: not yet)
    received: float = field(default_factory=time.time)  # wall clock, when the request was read
    sent: list[tuple[float, bytes]] = field(default_factory=list)  # (time.time(), event) per SSE event written

    def sent_at(self, needle: str) -> float | None:
        """When the first SSE event holding ``needle`` went out (wall clock), or None."""
        raw = needle.encode()
        return next((t for t, ev in self.sent if raw in ev), None)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def images(self) -> list[tuple[str, bytes]]:
        """The request's images in order, ``(media_type, decoded bytes)``, whichever API
        it was for (Anthropic image blocks, OpenAI input_image data URLs)."""
        return media_in(self.json)[0]

    def documents(self) -> list[tuple[str, bytes]]:
        """The request's documents (PDFs) in order, ``(media_type, decoded bytes)``."""
        return media_in(self.json)[1]


@dataclass
class ToolCallSpec:
    """A tool call the fake model makes. ``arguments`` may be a raw string (e.g.
    malformed JSON, for OpenAI whose wire format carries arguments as a string)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None


@dataclass
class ServerToolSpec:
    """A use of the provider's own server tool that the fake model makes, with its result.

    ``name``: ``web_search`` (both fakes) or ``web_fetch`` (Anthropic). ``input``: what the
    model asked (``{"query": ...}``, ``{"url": ...}``). ``results``: the pages found, as
    ``(title, url)``; for a fetch the first is the page, ``page_text`` its text.
    ``error_code``: the tool failed (Anthropic ``web_search_tool_result_error`` /
    ``web_fetch_tool_result_error``; OpenAI a ``failed`` call). ``before``: words the model
    says before this use (Anthropic: a text block of its own). ``answered=False``: the turn
    paused before the result (Anthropic ``pause_turn``). A request that did not offer the
    tool is a script error (the fake answers 500)."""

    name: str = "web_search"
    input: dict[str, Any] = field(default_factory=lambda: {"query": "pipebot"})
    results: list[tuple[str, str]] = field(default_factory=lambda: [("Pipebot", "https://example.com/pipebot")])
    page_text: str = "Pipebot chains agents into pipelines."
    error_code: str | None = None
    before: str = ""
    answered: bool = True
    id: str | None = None


@dataclass
class Turn:
    text: str = ""
    tool_calls: list[ToolCallSpec] = field(default_factory=list)
    thinking: str | None = None  # Anthropic: a signed thinking block first (default for always-thinking models)
    stop_reason: str | None = None  # default: tool_use (calls) / end_turn
    usage: dict[str, Any] | None = None  # wire-format usage replacing the estimated one
    model: str | None = None  # model id to report (default: the requested one, dated if known)
    deltas: list[str] | None = None  # explicit text chunks for a stream (default: word by word)
    delay: float = 0.0  # seconds before answering
    chunk_delay: float = 0.0  # seconds between SSE events
    error_after: int | None = None  # stream: an SSE error event after this many events
    error_type: str | None = None  # provider-specific error type / code for that event
    error_message: str = "Overloaded"
    error_style: str = "error"  # OpenAI: "error" event or "failed" (response.failed)
    cut_after: int | None = None  # stream: drop the connection after this many events
    cut_mode: str = "abrupt"  # "abrupt": no end of the chunked body; "clean": body ended early
    headers: dict[str, str] = field(default_factory=dict)
    refusal: str | None = None  # OpenAI: a refusal content part with this text (after any text)
    stop_details: dict[str, Any] | None = (
        None  # Anthropic: e.g. {"type": "refusal", "category": ..., "explanation": ...}
    )
    server_tools: list[ServerToolSpec] = field(default_factory=list)  # provider-side uses, before the text


@dataclass
class Fault:
    status: int
    body: Any = None  # dict → JSON; str/bytes sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class HTTPReply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class SSEReply:
    events: list[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunk_delay: float = 0.0
    cut_after: int | None = None
    cut_mode: str = "abrupt"
    status: int = 200


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def estimate_tokens(text: str) -> int:
    """About four characters per token; good enough for usage arithmetic in tests."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def words(text: str) -> list[str]:
    """Split text into stream chunks, one word (with its trailing space) each."""
    out: list[str] = []
    start = 0
    n = len(text)
    i = 0
    while i < n:
        while i < n and text[i] != " ":
            i += 1
        while i < n and text[i] == " ":
            i += 1
        out.append(text[start:i])
        start = i
    return out or ([text] if text else [])


def new_id(prefix: str, n: int = 24) -> str:
    return prefix + secrets.token_hex(n // 2)


_REASONS = {529: "Overloaded"}


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return _REASONS.get(status, "Unknown")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a handler sleeping in a scripted delay
    fake: FakeLLMServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in one write, and small SSE chunks go out at once.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        parsed = urllib.parse.urlsplit(self.path)
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        req = RecordedRequest(
            method=self.command,
            path=parsed.path,
            query=urllib.parse.parse_qs(parsed.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            json=payload,
            client_port=self.client_address[1],
            started_at=time.monotonic(),
        )
        fake = self.server.fake
        fake._record(req)
        try:
            reply = fake.handle(req)
        except Exception as exc:  # a bug in the fake: answer 500 and keep the trace visible
            fake.errors.append(exc)
            reply = HTTPReply(500, json.dumps({"error": f"fake server bug: {exc!r}"}).encode())
        req.status = reply.status
        try:
            if isinstance(reply, SSEReply):
                self._write_sse(reply, req)
            else:
                self._write(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout fired)
        finally:
            req.ended_at = time.monotonic()

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_reason(status)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _write(self, reply: HTTPReply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        headers = {"Content-Type": "application/json", **reply.headers, "Content-Length": str(len(reply.body))}
        self.wfile.write(self._head(reply.status, headers) + reply.body)

    def _write_sse(self, reply: SSEReply, req: RecordedRequest) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        headers = {
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            **reply.headers,
            "Transfer-Encoding": "chunked",
        }
        head = self._head(reply.status, headers)
        events = reply.events
        if reply.cut_after is None and not reply.chunk_delay:
            body = b"".join(events)
            self.wfile.write(head + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
            now = time.time()
            req.sent.extend((now, ev) for ev in events)
            return
        self.wfile.write(head)
        for i, event in enumerate(events):
            if reply.cut_after is not None and i >= reply.cut_after:
                self._cut(reply.cut_mode)
                return
            self.wfile.write(b"%x\r\n" % len(event) + event + b"\r\n")
            req.sent.append((time.time(), event))
            if reply.chunk_delay:
                time.sleep(reply.chunk_delay)
        if reply.cut_after is not None and reply.cut_after <= len(events):
            self._cut(reply.cut_mode)
            return
        self.wfile.write(b"0\r\n\r\n")

    def _cut(self, mode: str) -> None:
        self.close_connection = True
        if mode == "clean":
            self.wfile.write(b"0\r\n\r\n")  # the body ends properly, just too early
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class FakeLLMServer:
    """Base class; subclasses implement ``handle`` for their API."""

    #: path that ``enqueue`` targets by default
    generation_path = "/"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._script: deque[tuple[str, Turn | Fault]] = deque()
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []  # exceptions raised inside handle()
        self.on_request: Callable[[RecordedRequest], None] | None = None
        #: the reply when nothing is queued: (request, model id, last user text) -> Turn
        self.default_turn: Callable[[RecordedRequest, str, str], Turn] = self.echo_turn

    # ---- lifecycle -------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake server is not started; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ---- script ----------------------------------------------------------------

    def enqueue(self, *entries: Turn | Fault, path: str | None = None) -> None:
        """Queue replies for the next requests to ``path`` (default: the generation endpoint)."""
        with self._lock:
            for entry in entries:
                self._script.append((path or self.generation_path, entry))

    def reply(self, text: str = "", **turn: Any) -> None:
        self.enqueue(Turn(text=text, **turn))

    def reply_tool_calls(self, calls: list[ToolCallSpec | tuple[str, Any]], text: str = "", **turn: Any) -> None:
        specs = [c if isinstance(c, ToolCallSpec) else ToolCallSpec(c[0], c[1]) for c in calls]
        self.enqueue(Turn(text=text, tool_calls=specs, **turn))

    def fail(self, status: int, *, headers: dict[str, str] | None = None, path: str | None = None, **body: Any) -> None:
        """Queue an HTTP error in the provider's error format (see subclasses)."""
        self.enqueue(Fault(status, self.error_body(status, **body), dict(headers or {})), path=path)

    def error_body(self, status: int, **kw: Any) -> Any:
        raise NotImplementedError

    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    def _next_scripted(self, path: str) -> Turn | Fault | None:
        with self._lock:
            for i, (p, entry) in enumerate(self._script):
                if p == path:
                    del self._script[i]
                    return entry
        return None

    def _peek_scripted(self, path: str) -> Turn | Fault | None:
        with self._lock:
            for p, entry in self._script:
                if p == path:
                    return entry
        return None

    def slow_turns(self, seconds: float, chunks: int = 20) -> None:
        """Every unscripted reply streams its words over about ``seconds`` (a model that takes
        its time), until ``reset()``."""

        def turn(req: RecordedRequest, model_id: str, last_user: str) -> Turn:
            text = f"[{model_id}] {last_user[:40]}"
            deltas = [text] + [" ."] * (chunks - 1)
            return Turn(text=text + " ." * (chunks - 1), deltas=deltas, chunk_delay=seconds / (chunks + 4))

        self.default_turn = turn

    @staticmethod
    def echo_turn(req: RecordedRequest, model_id: str, last_user: str) -> Turn:
        """The default reply: deterministic, and recognisable in end-to-end tests."""
        return Turn(text=f"[{model_id}] {last_user[:40]}")

    # ---- records ---------------------------------------------------------------

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)
        if self.on_request is not None:
            self.on_request(req)

    def count(self, path: str | None = None, method: str | None = None) -> int:
        with self._lock:
            return sum(
                1 for r in self.requests if (path is None or r.path == path) and (method is None or r.method == method)
            )

    @property
    def last(self) -> RecordedRequest:
        with self._lock:
            if not self.requests:
                raise AssertionError("the fake server received no request")
            return self.requests[-1]

    def calls(self, path: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def reset(self) -> None:
        """Forget requests, the script and a replaced default reply (not the configuration)."""
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self.errors.clear()
        self.default_turn = self.echo_turn

    def handle(self, req: RecordedRequest) -> HTTPReply | SSEReply:
        raise NotImplementedError

    # ---- helpers for subclasses -----------------------------------------------

    @staticmethod
    def json_reply(status: int, payload: Any, headers: dict[str, str] | None = None, delay: float = 0.0) -> HTTPReply:
        return HTTPReply(status, json.dumps(payload, separators=(",", ":")).encode(), dict(headers or {}), delay)

    def fault_reply(self, fault: Fault, headers: dict[str, str]) -> HTTPReply:
        body = fault.body
        if isinstance(body, (dict, list)):
            raw = json.dumps(body).encode()
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = body or b""
        return HTTPReply(fault.status, raw, {**headers, **fault.headers}, fault.delay)

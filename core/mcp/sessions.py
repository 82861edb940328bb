"""One MCP session per server for the length of one step, so a step's calls to a server
after the first cost one HTTP request each instead of a whole handshake.

Why not core/mcp/client.call_tool's connection per call for a step: each call there opens a
connection, initializes a session and closes it, about a dozen HTTP requests; a step that
makes five calls to one server paid that five times (measured in bench/bench_tools.py).

Why a thread with its own event loop, and a task per session: the `mcp` SDK is anyio, and
its client's task group must be entered and left by the same task, while a step is plain
synchronous code in a worker thread. Each session lives in one task that serves the step's
calls from a queue; the step waits on a concurrent future. Closing the step's sessions
ends those tasks (the SDK sends its DELETE) and the loop.

A call that fails in a way that may have broken the session (a timeout, a dropped
connection) closes that session; the next call opens a new one. A failed call is never
sent again: a tool call may have done its work before the failure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from core.mcp.client import CallResult, Endpoint, McpLimits, _capped_text, _explain, _pieces
from core.mcp.transport import Seen, http_client
from core.mcp.urls import UrlRefused, check_url

log = logging.getLogger(__name__)

#: How long closing may wait for the servers to take their sessions' DELETE.
CLOSE_WAIT_S = 5.0


@dataclass
class _Ask:
    tool: str
    arguments: dict[str, Any]
    answer: concurrent.futures.Future[CallResult] = field(default_factory=concurrent.futures.Future)


class StepSessions:
    """The sessions of one step: ``call`` from the step's thread, ``close`` when it ends
    (also as a context manager). Nothing starts until the first call."""

    def __init__(self, limits: McpLimits) -> None:
        self._limits = limits
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._queues: dict[Endpoint, asyncio.Queue[_Ask | None]] = {}
        self._tasks: list[concurrent.futures.Future[None]] = []

    def __enter__(self) -> StepSessions:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, endpoint: Endpoint, tool: str, arguments: dict[str, Any]) -> CallResult:
        """``tool`` on ``endpoint``'s session (opened on first use); an error value on any
        failure, as core/mcp/client.call_tool answers."""
        started = time.monotonic()
        try:
            check_url(endpoint.url, endpoint.allowed_hosts, endpoint.resolve)
        except UrlRefused as exc:
            return CallResult(str(exc), True, 0)
        loop = self._started()
        ask = _Ask(tool, arguments)
        loop.call_soon_threadsafe(self._send, endpoint, ask)
        try:
            result = ask.answer.result(timeout=self._limits.timeout_s + CLOSE_WAIT_S)
        except concurrent.futures.TimeoutError:
            result = CallResult(_explain(TimeoutError(), Seen(), endpoint.name, self._limits), True, 0)
        elapsed = int((time.monotonic() - started) * 1000)
        return CallResult(result.text, result.is_error, elapsed, result.total_chars, result.truncated)

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        for queue in self._queues.values():
            loop.call_soon_threadsafe(queue.put_nowait, None)
        concurrent.futures.wait(self._tasks, timeout=CLOSE_WAIT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(CLOSE_WAIT_S)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = None

    def _started(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-sessions", daemon=True)
            self._thread.start()
        return self._loop

    def _send(self, endpoint: Endpoint, ask: _Ask) -> None:
        """On the loop: hand the call to the endpoint's session task, starting one if none runs."""
        queue = self._queues.get(endpoint)
        if queue is None:
            queue = self._queues[endpoint] = asyncio.Queue()
            assert self._loop is not None
            self._tasks.append(asyncio.run_coroutine_threadsafe(self._serve(endpoint, queue), self._loop))
        queue.put_nowait(ask)

    async def _serve(self, endpoint: Endpoint, queue: asyncio.Queue[_Ask | None]) -> None:
        """One session's life: open it, answer calls until told to stop or until it breaks
        (then the calls still queued get a fresh session from a new task)."""
        limits, seen = self._limits, Seen()
        ask: _Ask | None = await queue.get()
        if ask is None:
            return
        try:
            checked = check_url(endpoint.url, endpoint.allowed_hosts, endpoint.resolve)
            async with AsyncExitStack() as stack:
                async with asyncio.timeout(limits.timeout_s):
                    hc = await stack.enter_async_context(
                        http_client(
                            checked,
                            endpoint.token,
                            timeout_s=limits.timeout_s,
                            max_bytes=limits.max_answer_bytes,
                            seen=seen,
                        )
                    )
                    client = await stack.enter_async_context(
                        Client(streamable_http_client(checked.url, http_client=hc, max_sse_event_size=None))
                    )
                while ask is not None:
                    async with asyncio.timeout(limits.timeout_s):
                        result = await client.call_tool(ask.tool, ask.arguments)
                    text, total = _capped_text(_pieces(result), limits.result_chars)
                    ask.answer.set_result(
                        CallResult(text, bool(result.is_error), 0, total, total > limits.result_chars)
                    )
                    ask = await queue.get()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence, none reaches the run
            said = _explain(exc, seen, endpoint.name, limits)
            log.warning("MCP server %s: %s (%s)", endpoint.name, said, type(exc).__name__)
            if ask is not None and not ask.answer.done():
                ask.answer.set_result(CallResult(said, True, 0))
            self._queues.pop(endpoint, None)
            while not queue.empty():  # calls sent meanwhile go to a new session
                waiting = queue.get_nowait()
                if waiting is not None:
                    self._send(endpoint, waiting)

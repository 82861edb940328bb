"""pipebot as an MCP client: list a server's tools and call one, from synchronous worker code.

Why each operation is its own ``asyncio.run`` with a fresh connection (NOTES §7): the `mcp`
SDK is async (anyio) and a session may not cross event loops, while a worker runs each job
in a plain thread. An operation is short (one tool call), so a connection per operation
costs a handshake and buys isolation: nothing is shared between runs or threads.

Every failure comes back as a value with a sentence for the model and for people (wrong
token, a web page instead of MCP, a timeout, an answer too large, a server error), never as
an exception escaping into the run. The URL rule (core/mcp/urls.py) runs again before every
operation, and the connection goes to the address it approved (core/mcp/transport.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2
import mcp_types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from core.mcp import texts
from core.mcp.transport import Seen, http_client
from core.mcp.urls import Resolver, UrlRefused, check_url, system_resolver
from core.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Reading any one answer stops past this many bytes: the memory one answer may take before
#: it is cut to the result cap. SDK servers often send a result twice (as text and as
#: structured content), so this holds a 5 MB result whole enough to cut.
MAX_ANSWER_BYTES = 16_000_000
#: Listing stops after this many tools (pages are followed until then).
MAX_LISTED_TOOLS = 1000


@dataclass(frozen=True)
class McpLimits:
    """How long an operation may take and how much of an answer is kept."""

    timeout_s: float = 30.0
    result_chars: int = 20_000
    max_answer_bytes: int = MAX_ANSWER_BYTES
    max_listed_tools: int = MAX_LISTED_TOOLS

    @classmethod
    def from_settings(cls, settings: Settings) -> McpLimits:
        return cls(timeout_s=settings.PIPEBOT_MCP_TIMEOUT_SECONDS, result_chars=settings.PIPEBOT_MCP_RESULT_MAX_CHARS)


@dataclass(frozen=True)
class Endpoint:
    """A server to talk to: the name people know it by, its URL and token, and the hosts the
    deployment allows (the URL rule is applied to it before each operation)."""

    name: str
    url: str
    token: str | None
    allowed_hosts: frozenset[str] = frozenset()
    resolve: Resolver = field(default=system_resolver, compare=False)

    def __repr__(self) -> str:  # never the token, in a log or a traceback
        return f"Endpoint(name={self.name!r}, url={self.url!r})"


@dataclass(frozen=True)
class RemoteTool:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class ToolListing:
    """A server's tools, or why they could not be listed (``error``)."""

    tools: tuple[RemoteTool, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class CallResult:
    """One tool call's outcome: ``text`` is what the model reads (cut to the result cap, said
    so), ``is_error`` whether it is a failure (the tool's own or the connection's)."""

    text: str
    is_error: bool
    duration_ms: int
    total_chars: int = 0
    truncated: bool = False


def list_tools(endpoint: Endpoint, limits: McpLimits) -> ToolListing:
    """The server's tools (at most ``limits.max_listed_tools``), or an error value."""

    async def op(client: Client) -> ToolListing:
        found: list[RemoteTool] = []
        cursor: str | None = None
        while len(found) < limits.max_listed_tools:
            page = await client.list_tools(cursor=cursor)
            found += [
                RemoteTool(t.name, t.description or "", dict(t.input_schema or {"type": "object"})) for t in page.tools
            ]
            cursor = page.next_cursor
            if not cursor:
                break
        return ToolListing(tuple(found[: limits.max_listed_tools]))

    outcome = _run(endpoint, limits, op)
    return outcome if isinstance(outcome, ToolListing) else ToolListing(error=outcome)


def call_tool(endpoint: Endpoint, tool: str, arguments: dict[str, Any], limits: McpLimits) -> CallResult:
    """Call ``tool`` with ``arguments``; the result cut to ``limits.result_chars``."""
    started = time.monotonic()

    async def op(client: Client) -> CallResult:
        result = await client.call_tool(tool, arguments)
        text, total = _capped_text(_pieces(result), limits.result_chars)
        return CallResult(text, bool(result.is_error), 0, total, total > limits.result_chars)

    outcome = _run(endpoint, limits, op)
    elapsed = int((time.monotonic() - started) * 1000)
    if isinstance(outcome, CallResult):
        return CallResult(outcome.text, outcome.is_error, elapsed, outcome.total_chars, outcome.truncated)
    return CallResult(outcome, True, elapsed)


def _run(endpoint: Endpoint, limits: McpLimits, op: Callable[[Client], Awaitable[T]]) -> T | str:
    """``op`` on a fresh connection in an event loop of its own; a sentence on any failure."""
    try:
        checked = check_url(endpoint.url, endpoint.allowed_hosts, endpoint.resolve)
    except UrlRefused as exc:
        return str(exc)
    seen = Seen()

    async def session() -> T:
        async with asyncio.timeout(limits.timeout_s):
            hc = http_client(
                checked, endpoint.token, timeout_s=limits.timeout_s, max_bytes=limits.max_answer_bytes, seen=seen
            )
            async with hc, Client(streamable_http_client(checked.url, http_client=hc, max_sse_event_size=None)) as c:
                return await op(c)

    try:
        return asyncio.run(session())
    except Exception as exc:  # noqa: BLE001 - every failure becomes a sentence, none reaches the run
        said = _explain(exc, seen, endpoint.name, limits)
        log.warning("MCP server %s: %s (%s)", endpoint.name, said, type(exc).__name__)
        return said


def _explain(exc: BaseException, seen: Seen, server: str, limits: McpLimits) -> str:
    """The sentence for a failed operation: what the HTTP layer saw first (it is more
    specific than the SDK's wrapping of it), then the exception itself."""
    if seen.too_large:
        return texts.answer_too_large(server, limits.max_answer_bytes)
    if seen.bad_status in (401, 403):
        return texts.unauthorized(server, seen.bad_status)
    if seen.html:
        return texts.answered_html(server)
    leaves = list(_leaves(exc))
    if any(isinstance(e, TimeoutError | httpx2.TimeoutException) for e in leaves):
        return texts.timed_out(server, limits.timeout_s)
    if any(isinstance(e, httpx2.ConnectError) for e in leaves):
        return texts.unreachable(server)
    if seen.bad_status is not None:
        return texts.http_error(server, seen.bad_status)
    for e in leaves:
        if isinstance(e, MCPError):
            return texts.protocol_error(server, e.error.message[:300])
    return texts.failed(server, type(leaves[0]).__name__ if leaves else type(exc).__name__)


def _leaves(exc: BaseException) -> Iterable[BaseException]:
    """The exceptions inside task-group wrappers (ExceptionGroup), and their causes."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from _leaves(inner)
        return
    yield exc
    if exc.__cause__ is not None:
        yield from _leaves(exc.__cause__)


def _pieces(result: mcp_types.CallToolResult) -> Iterable[str]:
    """The result as text pieces: text as is, other content named, structured content as
    JSON when there is no text."""
    any_text = False
    for item in result.content:
        if isinstance(item, mcp_types.TextContent):
            any_text = True
            yield item.text
        elif isinstance(item, mcp_types.EmbeddedResource) and isinstance(item.resource, mcp_types.TextResourceContents):
            any_text = True
            yield item.resource.text
        elif isinstance(item, mcp_types.ResourceLink):
            yield f"[resource {item.uri}]"
        else:
            yield f"[{getattr(item, 'type', 'content')} omitted]"
    if not any_text and result.structured_content is not None:
        yield json.dumps(result.structured_content, default=str)


def _capped_text(pieces: Iterable[str], cap: int) -> tuple[str, int]:
    """The pieces joined by newlines, cut at ``cap`` characters with a note saying so, and the
    full length; only the first ``cap`` characters are ever copied."""
    kept: list[str] = []
    size = total = 0
    for i, piece in enumerate(pieces):
        for part in ("\n", piece) if i else (piece,):
            total += len(part)
            if size < cap:
                kept.append(part[: cap - size])  # a slice: never more than the room left is copied
                size += len(kept[-1])
    text = "".join(kept)
    if total > cap:
        text = f"{text}\n{texts.truncated(size, total)}"
    return text, total

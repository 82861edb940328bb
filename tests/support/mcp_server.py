"""A REAL MCP server for the tests: the `mcp` SDK's ``MCPServer`` served over streamable HTTP by
uvicorn on 127.0.0.1, behind a bearer-token check, so pipebot's MCP client is tested against
the SDK's own server code rather than against a mock of it.

Its tools cover what can go wrong with a tool server: ``lookup_ticket`` (the ordinary case),
``slow`` (sleeps, for timeouts), ``huge`` (a result of N characters), ``broken`` (raises).
``many_tools`` adds that many more tools, and ``html`` answers every request with a web page
instead of MCP (a URL that points at a website)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN = "mcp-test-token-5f3a9c"
PATH = "/mcp"
HTML_PAGE = "<!doctype html><html><head><title>Acme</title></head><body><h1>Welcome to Acme</h1></body></html>"

TICKETS = {
    "T-1": {"id": "T-1", "title": "Printer on fire", "status": "open"},
    "T-2": {"id": "T-2", "title": "VPN slow", "status": "closed"},
}


@dataclass
class Seen:
    """What the server saw, for assertions: the Authorization header of every request."""

    authorizations: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)


def build_server(seen: Seen, many_tools: int = 0) -> MCPServer:
    srv = MCPServer("tickets-test")

    @srv.tool(description="Look up a support ticket by its id, like T-1.")
    def lookup_ticket(ticket_id: str) -> dict[str, Any]:
        seen.calls.append(f"lookup_ticket:{ticket_id}")
        if ticket_id not in TICKETS:
            raise ValueError(f"no ticket {ticket_id}")
        return TICKETS[ticket_id]

    @srv.tool(description="Wait this many seconds, then answer.")
    async def slow(seconds: float) -> str:
        seen.calls.append("slow")
        await anyio.sleep(seconds)
        return "done"

    @srv.tool(description="Answer with this many characters.")
    def huge(size: int) -> str:
        seen.calls.append("huge")
        return "x" * size

    @srv.tool(description="Always fails.")
    def broken() -> str:
        seen.calls.append("broken")
        raise RuntimeError("the ticket database is down")

    for i in range(many_tools):
        srv.add_tool(_extra(i), name=f"extra_{i:03d}", description=f"Extra tool number {i}.")
    return srv


def _extra(i: int) -> Any:
    def extra(n: int) -> str:
        return f"tool {i}: {n}"

    return extra


class _BearerCheck:
    """Every request must carry ``Authorization: Bearer <token>`` (401 otherwise), as a
    private MCP server behind a token would answer."""

    def __init__(self, app: ASGIApp, token: str, seen: Seen) -> None:
        self.app, self.token, self.seen = app, token, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            auth = headers.get(b"authorization", b"").decode()
            self.seen.authorizations.append(auth)
            if auth != f"Bearer {self.token}":
                await JSONResponse({"error": "invalid_token"}, status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _html(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        message = await receive()
        while message["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await HTMLResponse(HTML_PAGE)(scope, receive, send)


@dataclass
class RunningServer:
    url: str
    host_port: str
    seen: Seen
    token: str


@contextmanager
def serve_mcp(*, token: str = TOKEN, many_tools: int = 0, html: bool = False) -> Iterator[RunningServer]:
    """A real MCP server on a free loopback port until the block ends; its URL ends in /mcp."""
    seen = Seen()
    if html:
        app: ASGIApp = _html
    else:
        srv = build_server(seen, many_tools)
        inner = srv.streamable_http_app(
            streamable_http_path=PATH,
            # the tests reach it under names of their own too (a pinned address): no Host check
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        app = _BearerCheck(inner, token, seen)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="mcp-test-server")
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the MCP test server did not start")
            time.sleep(0.01)
        yield RunningServer(f"http://127.0.0.1:{port}{PATH}", f"127.0.0.1:{port}", seen, token)
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()

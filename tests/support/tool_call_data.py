"""Tool call records in the shape a step stores them (core/tool_calls.ToolCallRecord), for the
tests of their readers: the artifact, its page, compare and the run's thread."""

from __future__ import annotations

from typing import Any

SCRIPT = "<script>window.__pwned=1</script>"


def web_search(query: str = "pizza near me", *, fee: str | None = "0.01") -> dict[str, Any]:
    return {
        "kind": "web",
        "name": "web_search",
        "label": "Web search",
        "server": None,
        "tool": "web_search",
        "arguments": {"query": query},
        "result_excerpt": "Luigi's: 4.8 stars",
        "duration_ms": None,
        "error": None,
        "fee_usd": fee,
        "approval": None,
    }


def mcp_call(
    tool: str = "lookup_ticket",
    arguments: Any = None,
    *,
    result: str = "TICKET-7: open",
    error: str | None = None,
    server: str = "Tickets",
    approval: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "kind": "mcp",
        "name": f"{server.lower()}__{tool}",
        "label": f"{server} · {tool}",
        "server": server,
        "tool": tool,
        "arguments": {"id": "TICKET-7"} if arguments is None else arguments,
        "result_excerpt": result,
        "duration_ms": 1234,
        "error": error,
        "fee_usd": None,
        "approval": approval,
    }

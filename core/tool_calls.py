"""The record of one tool call, as a step stores it (``run_steps.tool_calls``, a JSON list)
and as the artifact, its page and compare read it (DESIGN §12). One shape for the three
kinds of tool, so every reader needs one renderer:

* ``builtin``: core/tools.py (Current time, Read an earlier artifact), run in the worker;
* ``mcp``: a tool of a registered MCP server (core/mcp/tools.py), run in the worker;
* ``web``: a provider's server tool (web search, web fetch), run by the provider within
  the model call; only these carry a fee.

Every text in a record is untrusted (arguments the model wrote, what a server or a web
page answered): a surface escapes it where it shows it.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

BUILTIN, MCP, WEB = "builtin", "mcp", "web"
#: How much of a call's arguments and of its result (or error) a record keeps.
RECORD_ARGUMENTS_CHARS = 2000
RECORD_RESULT_CHARS = 500


class ToolCallRecord(TypedDict, total=False):
    kind: str  # builtin | mcp | web
    name: str  # the tool's name as the model saw it
    label: str  # what a person reads: "Current time", "Tickets · lookup_ticket", "Web search"
    server: str | None  # the MCP server's name (mcp only)
    tool: str  # the tool's own name (on its server, or the provider's)
    arguments: Any  # a JSON value, cut to an excerpt when long
    result_excerpt: str
    duration_ms: int | None  # None when the provider does not say (web)
    error: str | None
    fee_usd: str | None  # a Decimal as a string; None: no fee, or unpriced
    approval: dict[str, Any] | None  # an every-call server's Allow / Deny: {"verdict", "by"}


def excerpt(value: Any, limit: int) -> Any:
    """``value`` as it is when its JSON (or text) fits in ``limit`` characters, else its first
    ``limit`` characters with "…": a record keeps the start of long arguments, not all of them."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return value if len(text) <= limit else text[:limit] + "…"


def summary(record: dict[str, Any]) -> str:
    """A record in a few words for a person ("Web search: pizza near me"), plain text."""
    label = str(record.get("label") or record.get("name") or "tool")
    args = record.get("arguments")
    detail = ""
    if isinstance(args, dict):
        for key in ("query", "url"):
            if isinstance(args.get(key), str) and args[key]:
                detail = args[key]
                break
    return f"{label}: {detail}" if detail else label

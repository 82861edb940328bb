"""Anthropic's server tools: the tool definitions we send and the blocks that come back.

Web search and web fetch run inside Anthropic's side of one Messages call. The model's use
of one arrives as a ``server_tool_use`` block (``id``, ``name``, ``input``: the query or
URL), its result as a ``web_search_tool_result`` / ``web_fetch_tool_result`` block whose
``tool_use_id`` names the use; an error is a result whose content is an error object
(``web_search_tool_result_error`` / ``web_fetch_tool_result_error`` with an
``error_code``): the model saw it and answered anyway, so it is reported, never raised.
All three block types go back unchanged in the next request of a tool loop (search results
carry ``encrypted_content`` the model needs to cite them), so they travel as OpaquePart in
the turn's order. ``usage.server_tool_use`` counts the requests (``web_search_requests``
are billed; see providers/pricing.py).

The tool types are the newest the installed SDK's ``ToolUnionParam`` has
(tests/providers/test_server_tools.py checks that no newer one has appeared).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .server_tools import MAX_USES, WEB_FETCH, WEB_SEARCH, excerpt
from .types import ServerToolCall

WEB_SEARCH_TYPE = "web_search_20260318"
WEB_FETCH_TYPE = "web_fetch_20260318"
#: A fetched page enters the context as input tokens: this bounds one page's share (the
#: API's ``max_content_tokens``; PDFs are not cut), so one fetch cannot cost a fortune.
FETCH_MAX_CONTENT_TOKENS = 25_000

USE_BLOCK = "server_tool_use"
RESULT_BLOCKS = {"web_search_tool_result": WEB_SEARCH, "web_fetch_tool_result": WEB_FETCH}
#: Every block of a server tool's use: kept opaque, in order, and sent back unchanged.
SERVER_BLOCKS = frozenset({USE_BLOCK, *RESULT_BLOCKS})


def definitions(names: Iterable[str]) -> list[dict[str, Any]]:
    """The ``tools`` entries for the server tools asked for (names already checked)."""
    out: list[dict[str, Any]] = []
    for name in names:
        if name == WEB_SEARCH:
            out.append({"type": WEB_SEARCH_TYPE, "name": WEB_SEARCH, "max_uses": MAX_USES})
        elif name == WEB_FETCH:
            out.append(
                {
                    "type": WEB_FETCH_TYPE,
                    "name": WEB_FETCH,
                    "max_uses": MAX_USES,
                    "max_content_tokens": FETCH_MAX_CONTENT_TOKENS,
                }
            )
    return out


def _search_lines(content: list[Any]) -> list[str]:
    lines = []
    for result in content:
        if isinstance(result, dict):
            title, url = result.get("title") or "", result.get("url") or ""
            lines.append(f"{title} — {url}" if title else url)
    return lines


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _fetch_lines(content: dict[str, Any]) -> list[str]:
    document = _dict(content.get("content"))
    source = _dict(document.get("source"))
    lines = [str(content.get("url") or ""), str(document.get("title") or "")]
    if source.get("type") == "text" and isinstance(source.get("data"), str):
        lines.append(source["data"])
    return lines


def result_call(block: dict[str, Any]) -> ServerToolCall:
    """A result block read as the (completed or failed) use it answers."""
    name = RESULT_BLOCKS[block["type"]]
    content = block.get("content")
    call_id = str(block.get("tool_use_id") or "")
    if isinstance(content, dict) and str(content.get("type", "")).endswith("_error"):
        code = str(content.get("error_code") or "unknown error")
        return ServerToolCall(call_id, name, {}, status="error", error=code)
    if isinstance(content, list):
        lines = _search_lines(content)
    elif isinstance(content, dict):
        lines = _fetch_lines(content)
    else:
        lines = []
    return ServerToolCall(call_id, name, {}, status="completed", result_excerpt=excerpt(lines))


class ServerCalls:
    """The uses of one response, in order: a use opens a call (``running``), its result
    completes it. A result whose use came in an earlier round (a paused turn) stands alone
    here and is joined to its use when the rounds are merged (providers/continuation.py)."""

    def __init__(self) -> None:
        self.calls: list[ServerToolCall] = []
        self._by_id: dict[str, int] = {}

    def add(self, block: dict[str, Any]) -> ServerToolCall | None:
        """Read one server block; the call as it now stands (None for another block)."""
        btype = block.get("type")
        if btype == USE_BLOCK:
            raw_input = block.get("input")
            call = ServerToolCall(
                str(block.get("id") or ""),
                str(block.get("name") or ""),
                raw_input if isinstance(raw_input, dict) else {},
                status="running",
            )
            self._by_id[call.id] = len(self.calls)
            self.calls.append(call)
            return call
        if btype not in RESULT_BLOCKS:
            return None
        result = result_call(block)
        i = self._by_id.get(result.id)
        if i is None:
            self._by_id[result.id] = len(self.calls)
            self.calls.append(result)
            return result
        use = self.calls[i]
        use.status, use.error, use.result_excerpt = result.status, result.error, result.result_excerpt
        return use


def request_counts(raw_usage: dict[str, Any]) -> tuple[int, int]:
    """``(web_search_requests, web_fetch_requests)`` from a usage dict (0 when absent)."""
    counts = raw_usage.get("server_tool_use")
    if not isinstance(counts, dict):
        return 0, 0
    return int(counts.get("web_search_requests") or 0), int(counts.get("web_fetch_requests") or 0)

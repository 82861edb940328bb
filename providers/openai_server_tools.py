"""OpenAI's server tool: web search on the Responses API, the tool we send and the items
that come back.

The tool is ``{"type": "web_search"}`` (the SDK's ``WebSearchToolParam``). Its
``user_location`` is left unset, which OpenAI documents as "defaults to the United
States": results lean American. A deployment that needs otherwise would pass
``{"type": "approximate"}`` (no location at all) or its own country; pipebot has no such
setting yet, and says so here rather than hiding it. OpenAI has no fetch tool.

Each search is a ``web_search_call`` output item (``id``, ``status``: in_progress,
searching, completed, failed or incomplete; ``action``: ``search`` with ``query`` /
``queries``, ``open_page`` with ``url``, or ``find_in_page`` with ``pattern`` and
``url``). Its sources come only when asked for, with
``include=["web_search_call.action.sources"]``. The item is kept as an OpaquePart in
output order and sent back in the next request of a tool loop (``store=False``: nothing
lives on OpenAI's side, and a reasoning item that led to a search needs its following
item). Fees: $10 per 1,000 calls (genai-prices); every call that completed is counted as
one (whether ``open_page`` and ``find_in_page`` actions are billed as calls is not
documented; counting them errs towards a higher cost, never a lower one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .server_tools import WEB_SEARCH, excerpt
from .types import OpaquePart, Part, ServerToolCall

PROVIDER_ID = "openai"
ITEM_TYPE = "web_search_call"
#: ``include`` value that brings each search's sources (the URLs it read).
SEARCH_SOURCES = "web_search_call.action.sources"
#: The fields an input ``web_search_call`` item has (SDK ``ResponseFunctionWebSearchParam``).
_ITEM_KEYS = ("id", "type", "status", "action")
_RUNNING = frozenset({"in_progress", "searching"})


def definitions(names: Iterable[str]) -> list[dict[str, Any]]:
    """The ``tools`` entries for the server tools asked for (names already checked)."""
    return [{"type": "web_search"} for name in names if name == WEB_SEARCH]


def call_of_item(item: dict[str, Any]) -> ServerToolCall:
    """A ``web_search_call`` item as the use it reports."""
    raw_action = item.get("action")
    action: dict[str, Any] = raw_action if isinstance(raw_action, dict) else {}
    raw_sources = action.get("sources")
    sources: list[Any] = raw_sources if isinstance(raw_sources, list) else []
    shown = {k: v for k, v in action.items() if k != "sources" and v is not None}
    status = str(item.get("status") or "")
    if status == "completed":
        state, error = "completed", None
    elif status in _RUNNING:
        state, error = "running", None
    else:
        state, error = "error", f"the search ended {status or 'without a status'}"
    urls = [s.get("url", "") for s in sources if isinstance(s, dict)]
    if not urls and isinstance(shown.get("url"), str):
        urls = [shown["url"]]
    return ServerToolCall(
        str(item.get("id") or ""), WEB_SEARCH, shown, status=state, error=error, result_excerpt=excerpt(urls)
    )


def search_part(item: dict[str, Any]) -> OpaquePart:
    """The item as the opaque part that carries it back, its input fields only."""
    return OpaquePart(PROVIDER_ID, {k: item[k] for k in _ITEM_KEYS if k in item})


def is_search_part(part: Part) -> bool:
    """A web search item of ours, well formed enough to send back."""
    if type(part) is not OpaquePart or part.provider != PROVIDER_ID:
        return False
    data = part.data
    return (
        isinstance(data, dict)
        and data.get("type") == ITEM_TYPE
        and isinstance(data.get("id"), str)
        and isinstance(data.get("action"), dict)
        and isinstance(data.get("status"), str)
    )

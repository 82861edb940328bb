"""The fake OpenAI's web search: the tool definition it accepts, the ``web_search_call``
items its model writes, and the checks on such an item sent back in ``input``.

As the Responses API (SDK 3.63 ``WebSearchToolParam``, ``ResponseFunctionWebSearch``;
NOTES-integrations §6):

* ``{"type": "web_search" | "web_search_2025_08_26", "filters"?: {"allowed_domains"},
  "search_context_size"?: low|medium|high, "user_location"?: {"type": "approximate", ...},
  "external_web_access"?: bool}``; another field is 400 ``unknown_parameter``; a tool type
  the API does not know is 400 ``invalid_value`` on ``tools[i].type``.
* an item is ``{"id": "ws_…", "type": "web_search_call", "status", "action"}``, the action
  ``search`` (``query``, ``queries``, and ``sources`` only when ``include`` has
  ``web_search_call.action.sources``), ``open_page`` (``url``) or ``find_in_page``.
* sent back in ``input``: ``id``, ``status`` and ``action`` are required, the status and
  the action's type one of the API's.
"""

from __future__ import annotations

from typing import Any

from .llm_base import ServerToolSpec, new_id

SEARCH_TYPES = frozenset({"web_search", "web_search_2025_08_26"})
SOURCES = "web_search_call.action.sources"
#: Tool types the API knows besides these (accepted, never run by this fake).
OTHER_TOOL_TYPES = (
    "function",
    "file_search",
    "computer_use_preview",
    "mcp",
    "code_interpreter",
    "image_generation",
    "local_shell",
    "shell",
    "custom",
    "web_search_preview",
    "apply_patch",
)
_TOOL_FIELDS = frozenset({"type", "filters", "search_context_size", "user_location", "external_web_access"})
_STATUSES = ("in_progress", "searching", "completed", "failed", "incomplete")
_ACTIONS = ("search", "open_page", "find_in_page")
_ITEM_FIELDS = frozenset({"id", "type", "status", "action"})


class SearchRefused(Exception):
    def __init__(self, message: str, param: str, code: str) -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


def check_tool(i: int, tool: dict[str, Any]) -> bool:
    """Validate a non-function tool; True when it is web search."""
    ttype = tool["type"]
    if ttype not in SEARCH_TYPES:
        if ttype in OTHER_TOOL_TYPES:
            return False
        supported = ", ".join(f"'{t}'" for t in (*OTHER_TOOL_TYPES, *sorted(SEARCH_TYPES)))
        raise SearchRefused(
            f"Invalid value: '{ttype}'. Supported values are: {supported}.", f"tools[{i}].type", "invalid_value"
        )
    for key in tool:
        if key not in _TOOL_FIELDS:
            raise SearchRefused(f"Unknown parameter: 'tools[{i}].{key}'.", f"tools[{i}].{key}", "unknown_parameter")
    size = tool.get("search_context_size")
    if size is not None and size not in ("low", "medium", "high"):
        raise SearchRefused(
            f"Invalid value: '{size}'. Supported values are: 'low', 'medium', and 'high'.",
            f"tools[{i}].search_context_size",
            "invalid_value",
        )
    location = tool.get("user_location")
    if location is not None and (not isinstance(location, dict) or location.get("type") != "approximate"):
        raise SearchRefused(
            f"Invalid value for 'tools[{i}].user_location.type': expected 'approximate'.",
            f"tools[{i}].user_location.type",
            "invalid_value",
        )
    return True


def search_item(spec: ServerToolSpec, with_sources: bool) -> dict[str, Any]:
    """The ``web_search_call`` output item for one scripted use."""
    url = spec.input.get("url")
    if isinstance(url, str):
        action: dict[str, Any] = {"type": "open_page", "url": url}
    else:
        action = {"type": "search", "query": str(spec.input.get("query", ""))}
        if with_sources and not spec.error_code:
            action["sources"] = [{"type": "url", "url": u} for _, u in spec.results]
    return {
        "id": spec.id or new_id("ws_", 48),
        "type": "web_search_call",
        "status": "failed" if spec.error_code else "completed",
        "action": action,
    }


def check_input_item(i: int, item: dict[str, Any]) -> None:
    """A ``web_search_call`` sent back in ``input``."""
    for key in item:
        if key not in _ITEM_FIELDS:
            raise SearchRefused(f"Unknown parameter: 'input[{i}].{key}'.", f"input[{i}].{key}", "unknown_parameter")
    for key in ("id", "status", "action"):
        if key not in item:
            raise SearchRefused(
                f"Missing required parameter: 'input[{i}].{key}'.", f"input[{i}].{key}", "missing_required_parameter"
            )
    if item["status"] not in _STATUSES:
        raise SearchRefused(f"Invalid value: '{item['status']}'.", f"input[{i}].status", "invalid_value")
    action = item["action"]
    if not isinstance(action, dict) or action.get("type") not in _ACTIONS:
        raise SearchRefused(f"Invalid value for 'input[{i}].action.type'.", f"input[{i}].action.type", "invalid_value")

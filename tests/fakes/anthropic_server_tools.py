"""The fake Anthropic's server tools: the tool definitions it accepts, the blocks its model
writes, and the checks on those blocks when a client sends them back.

As the real Messages API (SDK 2.17 ``ToolUnionParam``; NOTES-integrations §5):

* a ``tools`` entry with a ``type`` other than ``custom`` must be a known versioned type
  (else 400 "Input tag '<type>' found using 'type' does not match any of the expected
  tags"); ``name`` must be the type's own (``web_search`` / ``web_fetch``); only that
  version's fields are allowed ("Extra inputs are not permitted"); ``max_uses`` is a
  positive integer; ``allowed_domains`` and ``blocked_domains`` exclude each other.
* a use is a ``server_tool_use`` block, its result a ``web_search_tool_result`` (a list
  of ``web_search_result`` with ``encrypted_content``) or ``web_fetch_tool_result`` (a
  ``web_fetch_result`` with a text ``document``), or the tool's error object with an
  ``error_code``. ``usage.server_tool_use`` counts the requests that ran (errors are not
  billed).
* sent back, both may only be in assistant turns; a result must answer a use earlier in
  the conversation, and a result this fake issued must come back exactly as issued (its
  ``encrypted_content`` cannot be altered).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from .llm_base import ServerToolSpec, new_id

_COMMON = frozenset(
    {"type", "name", "allowed_callers", "allowed_domains", "blocked_domains", "cache_control", "defer_loading"}
)
_SEARCH = _COMMON | {"max_uses", "strict", "user_location"}
_FETCH = _COMMON | {"max_uses", "strict", "citations", "max_content_tokens", "url_sources"}
#: Each known server tool type: (its name, its fields).
SERVER_TOOL_TYPES: dict[str, tuple[str, frozenset[str]]] = {
    "web_search_20250305": ("web_search", _SEARCH),
    "web_search_20260209": ("web_search", _SEARCH),
    "web_search_20260318": ("web_search", _SEARCH | {"response_inclusion"}),
    "web_fetch_20250910": ("web_fetch", _FETCH),
    "web_fetch_20260209": ("web_fetch", _FETCH),
    "web_fetch_20260309": ("web_fetch", _FETCH | {"use_cache"}),
    "web_fetch_20260318": ("web_fetch", _FETCH | {"use_cache", "response_inclusion"}),
}
#: Other tool tags the API knows (accepted in the error message's list; never run here).
_OTHER_TAGS = ("custom", "bash_20250124", "code_execution_20260521", "memory_20250818", "text_editor_20250728")
RESULT_TYPES = {"web_search": "web_search_tool_result", "web_fetch": "web_fetch_tool_result"}

_KEY = b"fake-anthropic-web-results"


def encrypted(url: str) -> str:
    """The ``encrypted_content`` this fake gives a search result (opaque to clients)."""
    return base64.b64encode(hmac.new(_KEY, url.encode(), hashlib.sha256).digest()).decode()


class ToolRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_server_tool(i: int, tool: dict[str, Any]) -> str:
    """Validate one non-custom tool definition; its name (``web_search`` / ``web_fetch``)."""
    ttype = tool["type"]
    known = SERVER_TOOL_TYPES.get(ttype)
    if known is None:
        tags = ", ".join(f"'{t}'" for t in (*_OTHER_TAGS, *SERVER_TOOL_TYPES))
        raise ToolRefused(
            f"tools.{i}: Input tag '{ttype}' found using 'type' does not match any of the expected tags: {tags}"
        )
    name, fields = known
    for key in tool:
        if key not in fields:
            raise ToolRefused(f"tools.{i}.{ttype}.{key}: Extra inputs are not permitted")
    if tool.get("name") != name:
        raise ToolRefused(f"tools.{i}.{ttype}.name: Input should be '{name}'")
    uses = tool.get("max_uses")
    if uses is not None and (not isinstance(uses, int) or isinstance(uses, bool) or uses < 1):
        raise ToolRefused(f"tools.{i}.{ttype}.max_uses: Input should be greater than 0")
    if tool.get("allowed_domains") is not None and tool.get("blocked_domains") is not None:
        raise ToolRefused(f"tools.{i}.{ttype}: allowed_domains and blocked_domains cannot be used together")
    tokens = tool.get("max_content_tokens")
    if tokens is not None and (not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 1):
        raise ToolRefused(f"tools.{i}.{ttype}.max_content_tokens: Input should be greater than 0")
    return name


def _result_content(spec: ServerToolSpec) -> Any:
    if spec.error_code:
        return {"type": f"{RESULT_TYPES[spec.name]}_error", "error_code": spec.error_code}
    if spec.name == "web_search":
        return [
            {
                "type": "web_search_result",
                "url": url,
                "title": title,
                "encrypted_content": encrypted(url),
                "page_age": None,
            }
            for title, url in spec.results
        ]
    title, url = spec.results[0] if spec.results else ("", str(spec.input.get("url", "")))
    return {
        "type": "web_fetch_result",
        "url": url,
        "retrieved_at": "2026-12-01T10:00:00Z",
        "content": {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": spec.page_text},
            "title": title,
        },
    }


def server_blocks(spec: ServerToolSpec) -> list[dict[str, Any]]:
    """The blocks of one use: its words before (if any), the use, its result (if answered)."""
    use_id = spec.id or new_id("srvtoolu_01")
    blocks: list[dict[str, Any]] = []
    if spec.before:
        blocks.append({"type": "text", "text": spec.before})
    blocks.append({"type": "server_tool_use", "id": use_id, "name": spec.name, "input": dict(spec.input)})
    if spec.answered:
        blocks.append({"type": RESULT_TYPES[spec.name], "tool_use_id": use_id, "content": _result_content(spec)})
    return blocks


def request_counts(specs: list[ServerToolSpec]) -> dict[str, int]:
    """``usage.server_tool_use``: the uses that ran (an error or an unanswered use is not billed)."""
    ran = [s for s in specs if s.answered and not s.error_code]
    return {
        "web_search_requests": sum(1 for s in ran if s.name == "web_search"),
        "web_fetch_requests": sum(1 for s in ran if s.name == "web_fetch"),
    }


def check_sent_back(
    where: str, role: str, block: dict[str, Any], uses: set[str], issued: dict[str, dict[str, Any]]
) -> None:
    """A server block in a request: in an assistant turn, a use with its fields, a result
    answering an earlier use and (if this fake issued it) unchanged. ``uses`` collects the
    use ids seen so far in the conversation."""
    btype = block["type"]
    if role != "assistant":
        raise ToolRefused(f"{where}: {btype} blocks can only be in assistant messages")
    if btype == "server_tool_use":
        for name in ("id", "name", "input"):
            if name not in block:
                raise ToolRefused(f"{where}.server_tool_use.{name}: Field required")
        if not isinstance(block["input"], dict):
            raise ToolRefused(f"{where}.server_tool_use.input: Input should be a valid dictionary")
        uses.add(block["id"])
        return
    use_id = block.get("tool_use_id")
    if not isinstance(use_id, str):
        raise ToolRefused(f"{where}.{btype}.tool_use_id: Field required")
    if use_id not in uses:
        raise ToolRefused(
            f"{where}: `{btype}` block with tool_use_id {use_id} has no corresponding `server_tool_use` block before it"
        )
    sent = issued.get(use_id)
    if sent is not None and block != sent:
        raise ToolRefused(
            f"{where}: the content of `{btype}` {use_id} was altered (encrypted content cannot be verified)"
        )

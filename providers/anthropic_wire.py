"""Anthropic's Messages API wire format, both ways: messages out, stop reasons, usage and
errors in. The provider (anthropic_provider.py) and the stream assembler
(anthropic_stream.py) share these, so each mapping is written once."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2

from .anthropic_server_tools import SERVER_BLOCKS, request_counts
from .errors import (
    ErrorKind,
    ProviderError,
    kind_for_status,
    looks_like_context_overflow,
    parse_retry_after,
    should_retry_header,
)
from .types import (
    DocumentPart,
    ImagePart,
    Message,
    OpaquePart,
    StopReason,
    TextPart,
    ToolCall,
    ToolResult,
    Usage,
)

PROVIDER_ID = "anthropic"

STOP_REASONS: dict[str | None, StopReason] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "refusal": "refusal",
    "pause_turn": "pause_turn",
    "model_context_window_exceeded": "context_window",
}

_KIND_BY_TYPE = {
    "authentication_error": ErrorKind.AUTH,
    "permission_error": ErrorKind.PERMISSION,
    "billing_error": ErrorKind.PERMISSION,
    "not_found_error": ErrorKind.NOT_FOUND,
    "rate_limit_error": ErrorKind.RATE_LIMIT,
    "overloaded_error": ErrorKind.OVERLOADED,
    "timeout_error": ErrorKind.TIMEOUT,
    "api_error": ErrorKind.SERVER,
    "invalid_request_error": ErrorKind.BAD_REQUEST,
    "request_too_large": ErrorKind.BAD_REQUEST,
}

# Blocks the API wants back unchanged in the next request: thinking (with signatures) and
# the server tools' uses and results (providers/anthropic_server_tools.py).
OPAQUE_BLOCKS = frozenset({"thinking", "redacted_thinking", *SERVER_BLOCKS})

# 429s that waiting a minute will not fix: the organisation's spend cap.
_NOT_TRANSIENT_CODES = frozenset({"enforced_spend_limit_reached", "contract_spend_limit_reached"})


def map_error(exc: BaseException) -> ProviderError | None:
    """An SDK or transport exception as a ProviderError; None if it is neither."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        err_type = exc.type
        code = exc.error_code
        message = exc.api_message or str(exc)
        kind = _KIND_BY_TYPE.get(err_type or "") if err_type else None
        if kind is None:
            kind = kind_for_status(status) if status >= 400 else ErrorKind.SERVER
        if kind is ErrorKind.BAD_REQUEST and looks_like_context_overflow(message, code):
            kind = ErrorKind.CONTEXT_TOO_LONG
        headers = exc.response.headers if status >= 400 else None
        retryable = None
        if code in _NOT_TRANSIENT_CODES:
            retryable = False
        override = should_retry_header(headers)
        if override is not None:
            retryable = override
        request_id = exc.request_id
        if request_id is None and isinstance(exc.body, dict):
            request_id = exc.body.get("request_id")
        return ProviderError(
            kind,
            message,
            retryable=retryable,
            retry_after=parse_retry_after(headers),
            status=status if status >= 400 else None,
            provider=PROVIDER_ID,
            request_id=request_id,
            code=code or err_type,
        )
    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderError(ErrorKind.TIMEOUT, "request timed out", provider=PROVIDER_ID)
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderError(ErrorKind.CONNECTION, f"connection failed: {exc.__cause__ or exc}", provider=PROVIDER_ID)
    if isinstance(exc, httpx2.TimeoutException):
        return ProviderError(ErrorKind.TIMEOUT, f"timed out reading the response: {exc}", provider=PROVIDER_ID)
    if isinstance(exc, httpx2.TransportError):
        # e.g. RemoteProtocolError when the connection drops in the middle of a stream
        return ProviderError(ErrorKind.CONNECTION, f"connection lost: {exc}", provider=PROVIDER_ID)
    return None


#: A document block's ``title`` may hold 1-500 characters; a longer file name is cut.
TITLE_MAX = 500


def image_block(part: ImagePart) -> dict[str, Any]:
    """An image as a base64 ``image`` block. The base64 goes in as one string object (read
    now when the part holds a loader): a 5 MB file's base64 is ~7 MB, and the SDK's own
    JSON encoding is the one copy it needs."""
    return {"type": "image", "source": {"type": "base64", "media_type": part.media_type, "data": part.b64()}}


def document_block(part: DocumentPart) -> dict[str, Any]:
    """A PDF as a base64 ``document`` block, titled with its file name when it has one
    (the model can then name the file it read)."""
    block: dict[str, Any] = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": part.b64()},
    }
    if part.name:
        block["title"] = part.name[:TITLE_MAX]
    return block


def to_wire_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Our messages as Messages API turns, parts kept in order (text, images and
    documents interleave as given). Images and documents are sent in user turns only:
    the API refuses a document in an assistant turn, and an assistant never says one."""
    out: list[dict[str, Any]] = []
    for m in messages:
        parts = m.parts
        if len(parts) == 1 and type(parts[0]) is TextPart:  # the common case: plain text turn
            if parts[0].text:
                out.append({"role": m.role, "content": parts[0].text})
            continue
        results: list[dict[str, Any]] = []
        blocks: list[dict[str, Any]] = []
        for part in parts:
            if type(part) is TextPart:
                if part.text:  # the API rejects empty text blocks
                    blocks.append({"type": "text", "text": part.text})
            elif type(part) is ToolCall:
                blocks.append({"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments})
            elif type(part) is ToolResult:
                block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.call_id, "content": part.content}
                if part.is_error:
                    block["is_error"] = True
                results.append(block)
            elif type(part) is ImagePart:
                if m.role == "user":
                    blocks.append(image_block(part))
            elif type(part) is DocumentPart:
                if m.role == "user":
                    blocks.append(document_block(part))
            elif type(part) is OpaquePart and part.provider == PROVIDER_ID:
                blocks.append(part.data)  # e.g. a signed thinking block, exactly as received
        content = results + blocks if results else blocks
        if content:
            out.append({"role": m.role, "content": content})
    return out


def stop_detail(details: Any) -> str | None:
    """A refusal's ``stop_details`` (category, explanation) in words, if any."""
    if details is None:
        return None
    category = getattr(details, "category", None)
    explanation = getattr(details, "explanation", None)
    if category and explanation:
        return f"{explanation} (category: {category})"
    return explanation or (f"category: {category}" if category else None)


def tool_call_of(block_id: str, name: str, value: Any, raw: str | None = None) -> ToolCall:
    if isinstance(value, dict):
        return ToolCall(block_id, name, value)
    return ToolCall(block_id, name, {}, f"arguments must be a JSON object, got {type(value).__name__}", raw)


def usage_of(u: Any) -> Usage:
    cache_read = u.cache_read_input_tokens or 0
    cache_write = u.cache_creation_input_tokens or 0
    server = getattr(u, "server_tool_use", None)
    searches = (server.web_search_requests or 0) if server is not None else 0
    fetches = (server.web_fetch_requests or 0) if server is not None else 0
    return Usage(
        (u.input_tokens or 0) + cache_read + cache_write,
        u.output_tokens or 0,
        cache_read,
        cache_write,
        searches,
        fetches,
    )


def usage_from_raw(d: dict[str, Any]) -> Usage:
    cache_read = d.get("cache_read_input_tokens") or 0
    cache_write = d.get("cache_creation_input_tokens") or 0
    searches, fetches = request_counts(d)
    return Usage(
        (d.get("input_tokens") or 0) + cache_read + cache_write,
        d.get("output_tokens") or 0,
        cache_read,
        cache_write,
        searches,
        fetches,
    )

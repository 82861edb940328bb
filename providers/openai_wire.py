"""OpenAI's wire format and our types, both ways: input items from messages, tool calls,
reasoning items, usage and stop reasons from the Responses API's output, and its error
codes as ProviderErrors. Pure functions over SDK objects and dicts; the calls themselves
are in providers/openai_provider.py, whose docstring holds the mapping notes."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx2
import openai

from .catalog import ModelInfo
from .errors import (
    ErrorKind,
    ProviderError,
    kind_for_status,
    looks_like_context_overflow,
    parse_retry_after,
    should_retry_header,
)
from .openai_server_tools import is_search_part
from .types import (
    DocumentPart,
    ImagePart,
    Message,
    OpaquePart,
    Part,
    StopReason,
    TextPart,
    ToolCall,
    ToolResult,
    Usage,
    parse_tool_arguments,
)

PROVIDER_ID = "openai"

# Error codes carried in a body (HTTP errors) or in a stream's error / response.failed.
_KIND_BY_CODE = {
    "invalid_api_key": ErrorKind.AUTH,
    "rate_limit_exceeded": ErrorKind.RATE_LIMIT,
    "insufficient_quota": ErrorKind.RATE_LIMIT,
    "server_error": ErrorKind.SERVER,
    "server_is_overloaded": ErrorKind.OVERLOADED,
    "overloaded": ErrorKind.OVERLOADED,
    "context_length_exceeded": ErrorKind.CONTEXT_TOO_LONG,
    "model_not_found": ErrorKind.NOT_FOUND,
    "vector_store_timeout": ErrorKind.TIMEOUT,
}
# Codes precise enough to override the HTTP status's default kind.
_CODE_DECIDES = frozenset({ErrorKind.NOT_FOUND, ErrorKind.CONTEXT_TOO_LONG, ErrorKind.AUTH})
# Not cured by waiting: the account has no credit left.
_NOT_TRANSIENT_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})

# Model-list ids that are not chat models usable with the Responses API.
_NOT_CHAT = (
    "embedding",
    "tts",
    "whisper",
    "transcribe",
    "realtime",
    "audio",
    "image",
    "dall-e",
    "moderation",
    "search",
    "instruct",
    "davinci",
    "babbage",
    "live",
)
_CHAT_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt-")

#: Ask for reasoning items' encrypted content (store=False: the only way to send them back).
ENCRYPTED_REASONING = "reasoning.encrypted_content"
# Ids of reasoning models, for ids the catalog does not know: GPT-5 onwards and the
# o-series, but not the ``-chat`` variants (gpt-5-chat-latest refuses encrypted content).
_REASONING_ID = re.compile(r"^(gpt-([5-9]|\d{2,})|o\d)")


def is_chat_model_id(model_id: str) -> bool:
    return model_id.startswith(_CHAT_PREFIXES) and not any(word in model_id for word in _NOT_CHAT)


def is_reasoning_model(info: ModelInfo) -> bool:
    """Whether the model reasons (and so accepts ``include=[ENCRYPTED_REASONING]``).

    The catalog marks OpenAI's reasoning models by their refusing ``temperature``
    (GPT-5 and GPT-6 families); an id the catalog does not know is judged by its name.
    """
    if info.known:
        return not info.supports_temperature
    return bool(_REASONING_ID.match(info.id)) and "-chat" not in info.id


def reasoning_part(item: Any) -> OpaquePart | None:
    """A reasoning output item as the opaque part that carries it to the next request;
    None when it has no encrypted content (with store=False it cannot be sent back)."""
    encrypted = getattr(item, "encrypted_content", None)
    if not encrypted or not getattr(item, "id", None):
        return None
    summary = [{"type": "summary_text", "text": s.text} for s in (getattr(item, "summary", None) or ())]
    return OpaquePart(
        PROVIDER_ID, {"type": "reasoning", "id": item.id, "summary": summary, "encrypted_content": encrypted}
    )


def _is_reasoning_part(part: Part) -> bool:
    """An OpenAI reasoning item we can send back: ours, well formed. Anything else
    opaque (another provider's block, a malformed item) never reaches OpenAI."""
    if type(part) is not OpaquePart or part.provider != PROVIDER_ID:
        return False
    data = part.data
    return (
        isinstance(data, dict)
        and data.get("type") == "reasoning"
        and isinstance(data.get("id"), str)
        and isinstance(data.get("encrypted_content"), str)
        and isinstance(data.get("summary"), list)
    )


def error_from_code(code: str | None, message: str, *, request_id: str | None = None) -> ProviderError:
    """An error reported inside a stream (``error`` event or ``response.failed``)."""
    kind = _KIND_BY_CODE.get(code or "")
    if kind is None:
        if looks_like_context_overflow(message, code):
            kind = ErrorKind.CONTEXT_TOO_LONG
        elif code is None or code.startswith("server") or code == "internal_error":
            kind = ErrorKind.SERVER  # no code, or the server's own failure: transient
        else:
            kind = ErrorKind.BAD_REQUEST  # e.g. invalid_prompt: the request, not the server
    retryable = False if code in _NOT_TRANSIENT_CODES else None
    return ProviderError(kind, message, retryable=retryable, provider=PROVIDER_ID, request_id=request_id, code=code)


def map_error(exc: BaseException) -> ProviderError | None:
    """An SDK or transport exception as a ProviderError; None if it is neither."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        code = exc.code
        body = exc.body if isinstance(exc.body, dict) else {}
        message = body.get("message") or exc.message
        kind = kind_for_status(status)
        if status < 500 and _KIND_BY_CODE.get(code or "") in _CODE_DECIDES:
            kind = _KIND_BY_CODE[code or ""]  # e.g. a 400 whose code says model_not_found
        elif kind is ErrorKind.BAD_REQUEST and looks_like_context_overflow(message, code):
            kind = ErrorKind.CONTEXT_TOO_LONG
        retryable = False if code in _NOT_TRANSIENT_CODES else None
        headers = exc.response.headers
        override = should_retry_header(headers)
        if override is not None:
            retryable = override
        return ProviderError(
            kind,
            message,
            retryable=retryable,
            retry_after=parse_retry_after(headers),
            status=status,
            provider=PROVIDER_ID,
            request_id=exc.request_id,
            code=code or exc.type,
        )
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(ErrorKind.TIMEOUT, "request timed out", provider=PROVIDER_ID)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(ErrorKind.CONNECTION, f"connection failed: {exc.__cause__ or exc}", provider=PROVIDER_ID)
    if isinstance(exc, openai.APIError):  # an error object inside a stream
        return error_from_code(exc.code or exc.type, exc.message)
    if isinstance(exc, httpx2.TimeoutException):
        return ProviderError(ErrorKind.TIMEOUT, f"timed out reading the response: {exc}", provider=PROVIDER_ID)
    if isinstance(exc, httpx2.TransportError):
        return ProviderError(ErrorKind.CONNECTION, f"connection lost: {exc}", provider=PROVIDER_ID)
    return None


def _text_message(role: str, texts: list[str]) -> dict[str, Any]:
    if len(texts) == 1:
        return {"role": role, "content": texts[0]}
    if role == "user":
        return {"role": role, "content": [{"type": "input_text", "text": t} for t in texts]}
    return {"role": role, "content": "\n\n".join(texts)}


def input_image(part: ImagePart) -> dict[str, Any]:
    """An image as an ``input_image`` content item with a data URL. ``detail`` is
    required by the SDK's TypedDict and OpenAI's published spec; "auto" lets the API
    choose. The data URL is the one copy of the base64 the wire format forces on us."""
    return {"type": "input_image", "detail": "auto", "image_url": f"data:{part.media_type};base64,{part.b64()}"}


def input_file(part: DocumentPart) -> dict[str, Any]:
    """A PDF as an ``input_file`` content item: the API wants a ``filename`` beside
    ``file_data``, so a nameless part gets a neutral one."""
    return {
        "type": "input_file",
        "filename": part.name or "document.pdf",
        "file_data": f"data:application/pdf;base64,{part.b64()}",
    }


def _user_content(parts: list[Part]) -> list[dict[str, Any]]:
    """A user turn's words, images and documents as one message's content list, in
    the parts' order (so "this image:" stays next to its image)."""
    content: list[dict[str, Any]] = []
    for part in parts:
        if type(part) is TextPart:
            if part.text:
                content.append({"type": "input_text", "text": part.text})
        elif type(part) is ImagePart:
            content.append(input_image(part))
        elif type(part) is DocumentPart:
            content.append(input_file(part))
    return content


def _function_call(call: ToolCall) -> dict[str, Any]:
    # No "id" (the fc_ item id): with one, the API requires the call's reasoning item.
    return {"type": "function_call", "call_id": call.id, "name": call.name, "arguments": json.dumps(call.arguments)}


def _assistant_items(parts: list[Part], items: list[dict[str, Any]], reasoning: bool) -> None:
    """An assistant turn in its parts' order: words as messages, tool calls as
    function_call items, and (for a reasoning model) each reasoning item right before
    the item it led to. A reasoning item with nothing after it in the turn (a turn
    cut off while reasoning) is dropped: the API refuses a reasoning item "without its
    required following item"."""
    texts: list[str] = []
    held: list[dict[str, Any]] = []  # reasoning items waiting for the item they precede

    def emit(item: dict[str, Any]) -> None:  # an item, after the reasoning items that led to it
        items.extend(held)
        held.clear()
        items.append(item)

    def flush_text() -> None:
        if texts:
            emit(_text_message("assistant", texts))
            texts.clear()

    for part in parts:
        if type(part) is TextPart:
            if part.text:
                texts.append(part.text)
        elif type(part) is ToolCall:
            flush_text()
            emit(_function_call(part))
        elif type(part) is OpaquePart:
            if reasoning and _is_reasoning_part(part):
                flush_text()
                held.append(dict(part.data))
            elif is_search_part(part):  # a web search, back where it was (a reasoning item may lead to it)
                flush_text()
                emit(dict(part.data))
        elif type(part) is ToolResult:  # not expected in an assistant turn; keep it answerable
            flush_text()
            items.append(_function_call_output(part))
    flush_text()


def _function_call_output(result: ToolResult) -> dict[str, Any]:
    output = f"Error: {result.content}" if result.is_error else result.content
    return {"type": "function_call_output", "call_id": result.call_id, "output": output}


def to_input_items(messages: list[Message], *, reasoning: bool = True) -> list[dict[str, Any]]:
    """Our messages as Responses ``input`` items. ``reasoning``: the target model
    reasons, so OpenAI reasoning items are sent back (never to other models)."""
    items: list[dict[str, Any]] = []
    for m in messages:
        parts = m.parts
        if len(parts) == 1 and type(parts[0]) is TextPart:  # the common case: plain text turn
            if parts[0].text:
                items.append({"role": m.role, "content": parts[0].text})
            continue
        if m.role == "assistant":
            _assistant_items(parts, items, reasoning)
            continue
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        media = False
        for part in parts:
            if type(part) is TextPart:
                if part.text:
                    texts.append(part.text)
            elif type(part) is ImagePart or type(part) is DocumentPart:
                media = True
            elif type(part) is ToolCall:
                calls.append(_function_call(part))
            elif type(part) is ToolResult:
                results.append(_function_call_output(part))
        # A user turn: the results answering the calls first (they must follow the
        # calls), then any new words. Opaque parts never belong to a user turn.
        items.extend(results)
        if media:
            items.append({"role": m.role, "content": _user_content(parts)})
        elif texts:
            items.append(_text_message(m.role, texts))
        items.extend(calls)
    return items


def usage_from(u: Any) -> Usage:
    if u is None:
        return Usage()
    details = getattr(u, "input_tokens_details", None)
    cached = (getattr(details, "cached_tokens", 0) or 0) if details is not None else 0
    written = (getattr(details, "cache_write_tokens", 0) or 0) if details is not None else 0
    return Usage(u.input_tokens or 0, u.output_tokens or 0, cached, written)


def stop_reason(resp: Any, has_calls: bool, refused: bool) -> tuple[StopReason, str | None]:
    status = resp.status
    if status == "incomplete":
        details = resp.incomplete_details
        reason = getattr(details, "reason", None) if details is not None else None
        if reason == "max_output_tokens":
            return "max_tokens", reason
        if reason == "content_filter":
            return "refusal", reason
        return "other", reason or status
    if refused:
        return "refusal", "refusal"
    if has_calls:
        return "tool_use", status
    return ("end_turn" if status in (None, "completed") else "other"), status


def call_from_item(item: Any) -> ToolCall:
    raw = item.arguments
    arguments, error = parse_tool_arguments(raw)
    return ToolCall(item.call_id, item.name, arguments, error, raw if error else None)

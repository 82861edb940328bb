"""Anthropic, through the official SDK's Messages API.

Mapping, both ways:

* system prompt → the top-level ``system`` parameter; when it is long enough to be
  cached (about 1,024 tokens, the API's minimum) and the model supports prompt
  caching, it is sent as a text block with ``cache_control: ephemeral`` so every
  later step and tool round trip reads it at the cache rate.
* ``max_tokens`` is always sent (the API requires it); ``temperature`` never is:
  API version 2026-10-21, the one this SDK sends, has no such parameter.
* ``ToolCall`` ↔ ``tool_use`` blocks, ``ToolResult`` → ``tool_result`` blocks (put
  first in their user turn, as the API requires).
* stream: ``text_delta`` → TextDelta; ``input_json_delta`` fragments are joined per
  content block and emitted as one ToolCallEvent at ``content_block_stop``; an
  ``error`` event after HTTP 200 (e.g. ``overloaded_error``) becomes a retryable
  ProviderError; a stream that ends without ``message_stop`` is a connection error.
* usage: Anthropic's ``input_tokens`` excludes cache tokens; ours includes them.

The SDK's own retries are off (``max_retries=0``): providers/retry.py is the one loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2

from . import catalog
from .base import BaseProvider, StreamState, usage_dict
from .catalog import ModelInfo
from .errors import (
    ErrorKind,
    ProviderError,
    kind_for_status,
    looks_like_context_overflow,
    parse_retry_after,
    should_retry_header,
)
from .http import shared_ssl_context
from .params import Prepared
from .types import (
    ChatRequest,
    Message,
    OpaquePart,
    Response,
    StopReason,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallEvent,
    ToolResult,
    Usage,
    parse_tool_arguments,
)

PROVIDER_ID = "anthropic"

_STOP: dict[str | None, StopReason] = {
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

# Blocks the API wants back unchanged in the next request (thinking, with signatures).
_OPAQUE_BLOCKS = frozenset({"thinking", "redacted_thinking"})

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


def to_wire_messages(messages: list[Message]) -> list[dict[str, Any]]:
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
            elif type(part) is OpaquePart and part.provider == PROVIDER_ID:
                blocks.append(part.data)  # e.g. a signed thinking block, exactly as received
        content = results + blocks if results else blocks
        if content:
            out.append({"role": m.role, "content": content})
    return out


def _stop_detail(details: Any) -> str | None:
    """A refusal's ``stop_details`` (category, explanation) in words, if any."""
    if details is None:
        return None
    category = getattr(details, "category", None)
    explanation = getattr(details, "explanation", None)
    if category and explanation:
        return f"{explanation} (category: {category})"
    return explanation or (f"category: {category}" if category else None)


def _tool_call(block_id: str, name: str, value: Any, raw: str | None = None) -> ToolCall:
    if isinstance(value, dict):
        return ToolCall(block_id, name, value)
    return ToolCall(block_id, name, {}, f"arguments must be a JSON object, got {type(value).__name__}", raw)


def _usage(u: Any) -> Usage:
    cache_read = u.cache_read_input_tokens or 0
    cache_write = u.cache_creation_input_tokens or 0
    return Usage((u.input_tokens or 0) + cache_read + cache_write, u.output_tokens or 0, cache_read, cache_write)


def _usage_from_raw(d: dict[str, Any]) -> Usage:
    cache_read = d.get("cache_read_input_tokens") or 0
    cache_write = d.get("cache_creation_input_tokens") or 0
    return Usage(
        (d.get("input_tokens") or 0) + cache_read + cache_write, d.get("output_tokens") or 0, cache_read, cache_write
    )


class AnthropicProvider(BaseProvider):
    id = PROVIDER_ID
    requires_max_tokens = True

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        cache_min_chars: int = 4_000,
        http_client: httpx2.Client | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.cache_min_chars = cache_min_chars
        timeout = httpx2.Timeout(self.timeout, connect=self.connect_timeout)
        self._client = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,  # None: the SDK reads ANTHROPIC_BASE_URL itself
            timeout=timeout,
            max_retries=0,  # the one retry loop is ours
            http_client=http_client or anthropic.DefaultHttpxClient(verify=shared_ssl_context(), timeout=timeout),
        )

    # ---- request -------------------------------------------------------------

    def _params(self, req: ChatRequest, info: ModelInfo, p: Prepared) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": req.model,
            "max_tokens": p.max_output_tokens,
            "messages": to_wire_messages(req.messages),
        }
        system = req.system
        if system:
            if info.supports_prompt_cache and len(system) >= self.cache_min_chars:
                params["system"] = [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
            else:
                params["system"] = system
        if p.tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in p.tools
            ]
        # p.temperature is always None here: no Claude model accepts one under this
        # API version (catalog), and unknown models default to no temperature.
        return params

    # ---- complete ------------------------------------------------------------

    def _complete_once(self, req: ChatRequest, info: ModelInfo, p: Prepared) -> Response:
        try:
            msg = self._client.messages.create(**self._params(req, info, p))
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        texts: list[str] = []
        calls: list[ToolCall] = []
        opaque: list[OpaquePart] = []
        for block in msg.content:
            btype = block.type
            if btype == "text":
                texts.append(block.text)
            elif btype == "tool_use":
                calls.append(_tool_call(block.id, block.name, block.input))
            elif btype in _OPAQUE_BLOCKS:
                opaque.append(OpaquePart(PROVIDER_ID, block.to_dict()))
        return Response(
            text="".join(texts),
            tool_calls=calls,
            stop_reason=_STOP.get(msg.stop_reason, "other"),
            usage=_usage(msg.usage),
            model=msg.model,
            request_id=getattr(msg, "_request_id", None),
            raw_usage=usage_dict(msg.usage),
            cost_usd=None,
            price_version=None,
            provider=PROVIDER_ID,
            raw_stop_reason=msg.stop_reason,
            opaque=opaque,
            stop_detail=_stop_detail(getattr(msg, "stop_details", None)),
        )

    # ---- stream --------------------------------------------------------------

    def _stream_once(self, req: ChatRequest, info: ModelInfo, p: Prepared, state: StreamState) -> Iterator[StreamEvent]:
        texts = state.texts  # append before yielding: the retry loop reads these
        calls = state.calls
        add_text = texts.append
        pending: dict[int, tuple[str, str, list[str]]] = {}  # block index → (id, name, json fragments)
        thinking: dict[int, tuple[dict[str, Any], list[str]]] = {}  # block index → (block, thinking fragments)
        opaque: list[OpaquePart] = []
        raw_usage: dict[str, Any] = {}
        model = req.model
        request_id: str | None = None
        stop_reason: str | None = None
        stop_detail: str | None = None
        finished = False
        stream = None

        def partial() -> Response:
            return Response(
                "".join(texts),
                list(calls),
                "other",
                _usage_from_raw(raw_usage),
                model,
                request_id,
                raw_usage,
                None,
                None,
                PROVIDER_ID,
            )

        try:
            stream = self._client.messages.create(**self._params(req, info, p), stream=True)
            request_id = stream.response.headers.get("request-id")
            for event in stream:
                etype = event.type
                if etype == "content_block_delta":
                    delta = event.delta
                    dtype = delta.type
                    if dtype == "text_delta":
                        text = delta.text
                        add_text(text)
                        yield TextDelta(text)
                    elif dtype == "input_json_delta":
                        entry = pending.get(event.index)
                        if entry is not None:
                            entry[2].append(delta.partial_json)
                    elif dtype == "thinking_delta":
                        thought = thinking.get(event.index)
                        if thought is not None:
                            thought[1].append(delta.thinking)
                    elif dtype == "signature_delta":
                        thought = thinking.get(event.index)
                        if thought is not None:
                            thought[0]["signature"] = delta.signature
                elif etype == "content_block_start":
                    block = event.content_block
                    btype = block.type
                    if btype == "tool_use":
                        pending[event.index] = (block.id, block.name, [])
                    elif btype == "text":
                        if block.text:
                            texts.append(block.text)
                            yield TextDelta(block.text)
                    elif btype == "thinking":
                        thinking[event.index] = (block.to_dict(), [block.thinking] if block.thinking else [])
                    elif btype == "redacted_thinking":
                        opaque.append(OpaquePart(PROVIDER_ID, block.to_dict()))
                elif etype == "content_block_stop":
                    index = event.index
                    entry = pending.pop(index, None)
                    if entry is not None:
                        call_id, name, fragments = entry
                        raw = "".join(fragments)
                        arguments, error = parse_tool_arguments(raw)
                        call = ToolCall(call_id, name, arguments, error, raw if error else None)
                        calls.append(call)
                        yield ToolCallEvent(call)
                    elif index in thinking:
                        data, fragments = thinking.pop(index)
                        data["thinking"] = "".join(fragments)
                        opaque.append(OpaquePart(PROVIDER_ID, data))
                elif etype == "message_delta":
                    stop_reason = event.delta.stop_reason
                    stop_detail = _stop_detail(getattr(event.delta, "stop_details", None)) or stop_detail
                    raw_usage.update(usage_dict(event.usage))  # cumulative counts; absent ones keep their start value
                elif etype == "message_start":
                    message = event.message
                    model = message.model or model
                    raw_usage = usage_dict(message.usage)
                elif etype == "message_stop":
                    finished = True
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            mapped.partial = partial()
            raise mapped from exc
        finally:
            if stream is not None:
                stream.close()
        if not finished:
            raise ProviderError(
                ErrorKind.CONNECTION,
                "the stream ended before message_stop (connection cut?)",
                provider=PROVIDER_ID,
                request_id=request_id,
                partial=partial(),
            )
        state.response = Response(
            text="".join(texts),
            tool_calls=calls,
            stop_reason=_STOP.get(stop_reason, "other"),
            usage=_usage_from_raw(raw_usage),
            model=model,
            request_id=request_id,
            raw_usage=raw_usage,
            cost_usd=None,
            price_version=None,
            provider=PROVIDER_ID,
            raw_stop_reason=stop_reason,
            opaque=opaque,
            stop_detail=stop_detail,
        )

    # ---- models and keys -----------------------------------------------------

    def _list_models_once(self) -> list[ModelInfo]:
        try:
            listed = [
                catalog.from_listing(
                    PROVIDER_ID,
                    m.id,
                    display_name=m.display_name,
                    context_window=m.max_input_tokens,
                    max_output_tokens=m.max_tokens,
                )
                for m in self._client.models.list(limit=100)  # iterating follows the after_id cursor
                if getattr(m, "lifecycle", "active") != "retired"
            ]
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        return catalog.dedupe(listed)

    def _validate_key_once(self) -> None:
        try:
            self._client.models.list(limit=1)  # one page, no tokens spent
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def close(self) -> None:
        self._client.close()

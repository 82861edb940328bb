"""OpenAI, through the official SDK's Responses API.

Why Responses and not Chat Completions: OpenAI documents Responses as its primary
API and documents the GPT-6 family against it (GPT-6 Sol refuses tool calls on
Chat Completions unless reasoning is switched off). It also maps more cleanly onto
our types: the system prompt has its own ``instructions`` field; tool calls are
whole ``function_call`` items with a ``call_id`` and results go back as
``function_call_output`` items; a stream reports each call as its own output item
(so parallel calls never interleave their argument fragments the way Chat
Completions' ``index``-keyed deltas can), and usage always arrives in
``response.completed`` without opting in. Requests are sent with ``store=False``:
we resend the whole conversation each time, so nothing needs to live on OpenAI's
side.

Mapping notes:

* tool specs → ``{"type": "function", name, description, parameters, strict: false}``;
  ``strict`` stays off because strict mode rewrites what a schema may contain
  (every property required, no free-form objects), and our schemas pass through whole.
* arguments arrive as a JSON string: empty → ``{}``, malformed → ``{}`` with
  ``ToolCall.arguments_error`` set, never an exception.
* ``ToolResult.is_error`` has no wire field; the output is prefixed with ``Error:``.
* usage: OpenAI's ``input_tokens`` already includes ``cached_tokens`` (and cache
  writes), which is our convention too.
* ``max_output_tokens`` below 16 is rejected by the API, so it is raised to 16.
* reasoning items: with ``store=False`` nothing lives on OpenAI's side, so a reasoning
  model's reasoning survives a tool loop only if we ask for it encrypted
  (``include=["reasoning.encrypted_content"]``, reasoning models only: the others
  answer 400 "Encrypted content is not supported with this model") and send each
  reasoning item (``id``, ``summary``, ``encrypted_content``) back in ``input`` right
  before the item it led to. They travel as ``OpaquePart("openai", item)`` on the
  assistant message, in output order (``Response.parts``). A reasoning item without
  its encrypted content is dropped: sent back by id alone, it would be a 404 ("Items
  are not persisted when `store` is set to false"). In a stream the finished item is
  the one in ``response.output_item.done`` (``output_item.added`` may carry an
  incomplete ``encrypted_content``); ``response.completed`` repeats it.
* ``function_call`` items go back without their ``fc_`` item ``id``: with an id, the
  API insists on finding the reasoning item that preceded the call.

The SDK's own retries are off (``max_retries=0``): providers/retry.py is the one loop.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx2
import openai

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
    Part,
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


def _reasoning_part(item: Any) -> OpaquePart | None:
    """A reasoning output item as the opaque part that carries it to the next request;
    None when it has no encrypted content (with store=False it cannot be sent back)."""
    encrypted = getattr(item, "encrypted_content", None)
    if not encrypted or not getattr(item, "id", None):
        return None
    summary = [{"type": "summary_text", "text": s.text} for s in (getattr(item, "summary", None) or ())]
    return OpaquePart(PROVIDER_ID, {"type": "reasoning", "id": item.id, "summary": summary, "encrypted_content": encrypted})


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


def _error_from_code(code: str | None, message: str, *, request_id: str | None = None) -> ProviderError:
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
        return _error_from_code(exc.code or exc.type, exc.message)
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
        for part in parts:
            if type(part) is TextPart:
                if part.text:
                    texts.append(part.text)
            elif type(part) is ToolCall:
                calls.append(_function_call(part))
            elif type(part) is ToolResult:
                results.append(_function_call_output(part))
        # A user turn: the results answering the calls first (they must follow the
        # calls), then any new words. Opaque parts never belong to a user turn.
        items.extend(results)
        if texts:
            items.append(_text_message(m.role, texts))
        items.extend(calls)
    return items


def _usage(u: Any) -> Usage:
    if u is None:
        return Usage()
    details = getattr(u, "input_tokens_details", None)
    cached = (getattr(details, "cached_tokens", 0) or 0) if details is not None else 0
    written = (getattr(details, "cache_write_tokens", 0) or 0) if details is not None else 0
    return Usage(u.input_tokens or 0, u.output_tokens or 0, cached, written)


def _stop_reason(resp: Any, has_calls: bool, refused: bool) -> tuple[StopReason, str | None]:
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


def _call_from_item(item: Any) -> ToolCall:
    raw = item.arguments
    arguments, error = parse_tool_arguments(raw)
    return ToolCall(item.call_id, item.name, arguments, error, raw if error else None)


class OpenAIProvider(BaseProvider):
    id = PROVIDER_ID
    requires_max_tokens = False
    min_output_tokens = 16

    def __init__(self, api_key: str, *, base_url: str | None = None, http_client: httpx2.Client | None = None,
                 **options: Any) -> None:
        super().__init__(**options)
        timeout = httpx2.Timeout(self.timeout, connect=self.connect_timeout)
        self._client = openai.OpenAI(
            api_key=api_key,
            base_url=base_url,  # None: the SDK reads OPENAI_BASE_URL itself
            timeout=timeout,
            max_retries=0,  # the one retry loop is ours
            http_client=http_client or openai.DefaultHttpxClient(verify=shared_ssl_context(), timeout=timeout),
        )

    # ---- request -------------------------------------------------------------

    def _params(self, req: ChatRequest, info: ModelInfo, p: Prepared) -> dict[str, Any]:
        reasoning = is_reasoning_model(info)
        params: dict[str, Any] = {
            "model": req.model,
            "input": to_input_items(req.messages, reasoning=reasoning),
            "store": False,
        }
        if reasoning:
            params["include"] = [ENCRYPTED_REASONING]
        if req.system:
            params["instructions"] = req.system
        if p.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.input_schema,
                    "strict": False,
                }
                for t in p.tools
            ]
        if p.temperature is not None:
            params["temperature"] = p.temperature
        if p.max_output_tokens is not None:
            params["max_output_tokens"] = p.max_output_tokens
        return params

    def _response(
        self,
        resp: Any,
        request_id: str | None,
        texts: list[str] | None = None,
        streamed_calls: list[ToolCall] | None = None,
        streamed_reasoning: dict[int, Any] | None = None,
    ) -> Response:
        """The Response for a finished ``resp``. From a stream: ``texts`` and
        ``streamed_calls`` as streamed, and the reasoning items of the
        ``output_item.done`` events by output index (they win over ``resp.output``'s)."""
        calls: list[ToolCall] = []
        refused = False
        collected: list[str] = []
        opaque: list[OpaquePart] = []
        parts: list[Part] = []  # the assistant turn in output order
        output = resp.output or ()
        for index, item in enumerate(output):
            itype = item.type
            if itype == "message":
                start = len(collected)
                for content in item.content:
                    ctype = content.type
                    if ctype == "output_text":
                        collected.append(content.text)
                    elif ctype == "refusal":
                        collected.append(content.refusal)
                        refused = True
                if len(collected) > start:
                    parts.append(TextPart("".join(collected[start:])))
            elif itype == "function_call":
                call = _call_from_item(item)
                calls.append(call)
                parts.append(call)
            elif itype == "reasoning":
                if streamed_reasoning is not None and index in streamed_reasoning:
                    item = streamed_reasoning.pop(index)
                part = _reasoning_part(item)
                if part is not None:
                    opaque.append(part)
                    parts.append(part)
        if streamed_reasoning:  # finished in the stream, missing from response.completed
            opaque.extend(p for p in map(_reasoning_part, streamed_reasoning.values()) if p is not None)
            parts = []
        if resp.status == "failed":
            error = resp.error
            raise _error_from_code(
                getattr(error, "code", None), getattr(error, "message", None) or "the response failed", request_id=request_id
            )
        text = "".join(collected if texts is None else texts)
        if streamed_calls:
            calls = streamed_calls  # same content as the output's, already built
        stop, raw_stop = _stop_reason(resp, bool(calls), refused)
        ordered: list[Part] | None = None
        if opaque and parts:
            # Keep the output order only if it is the whole turn (a stream's text and
            # calls as streamed); otherwise to_message's order: reasoning, text, calls.
            in_order = [p for p in parts if type(p) is ToolCall]
            if in_order == calls and "".join(p.text for p in parts if type(p) is TextPart) == text:
                swap = iter(calls)
                ordered = [next(swap) if type(p) is ToolCall else p for p in parts]
        return Response(
            text=text,
            tool_calls=calls,
            stop_reason=stop,
            usage=_usage(resp.usage),
            model=resp.model,
            request_id=request_id,
            raw_usage=usage_dict(resp.usage),
            cost_usd=None,
            price_version=None,
            provider=PROVIDER_ID,
            raw_stop_reason=raw_stop,
            opaque=opaque,
            parts=ordered,
        )

    # ---- complete ------------------------------------------------------------

    def _complete_once(self, req: ChatRequest, info: ModelInfo, p: Prepared) -> Response:
        try:
            resp = self._client.responses.create(**self._params(req, info, p))
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        return self._response(resp, getattr(resp, "_request_id", None))

    # ---- stream --------------------------------------------------------------

    def _stream_once(self, req: ChatRequest, info: ModelInfo, p: Prepared, state: StreamState) -> Iterator[StreamEvent]:
        texts = state.texts  # append before yielding: the retry loop reads these
        calls = state.calls
        add_text = texts.append
        pending: dict[int, tuple[str, str, list[str]]] = {}  # output_index → (call_id, name, fragments)
        reasoning: dict[int, Any] = {}  # output_index → finished reasoning item (output_item.done)
        model = req.model
        request_id: str | None = None
        final: Any = None
        stream = None

        def partial() -> Response:
            return Response("".join(texts), list(calls), "other", Usage(), model, request_id, {}, None, None, PROVIDER_ID)

        try:
            stream = self._client.responses.create(**self._params(req, info, p), stream=True)
            request_id = stream.response.headers.get("x-request-id")
            for event in stream:
                etype = event.type
                if etype == "response.output_text.delta":
                    text = event.delta
                    add_text(text)
                    yield TextDelta(text)
                elif etype == "response.function_call_arguments.delta":
                    entry = pending.get(event.output_index)
                    if entry is not None:
                        entry[2].append(event.delta)
                elif etype == "response.output_item.added":
                    item = event.item
                    if item.type == "function_call":
                        pending[event.output_index] = (item.call_id, item.name, [])
                elif etype == "response.output_item.done":
                    item = event.item
                    if item.type == "function_call":
                        entry = pending.pop(event.output_index, None)
                        if item.arguments is None and entry is not None:  # done item without arguments: use the deltas
                            item.arguments = "".join(entry[2])
                        call = _call_from_item(item)
                        calls.append(call)
                        yield ToolCallEvent(call)
                    elif item.type == "reasoning":
                        # the finished item: output_item.added's encrypted_content may be incomplete
                        reasoning[event.output_index] = item
                elif etype == "response.refusal.delta":
                    texts.append(event.delta)
                    yield TextDelta(event.delta)
                elif etype in ("response.completed", "response.incomplete"):
                    final = event.response
                    model = final.model or model
                elif etype == "response.failed":
                    error = event.response.error
                    raise _error_from_code(
                        getattr(error, "code", None),
                        getattr(error, "message", None) or "the response failed",
                        request_id=request_id,
                    )
                elif etype == "error":
                    raise _error_from_code(event.code, event.message, request_id=request_id)
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            if mapped.request_id is None:
                mapped.request_id = request_id
            mapped.partial = partial()
            if mapped is exc:
                raise
            raise mapped from exc
        finally:
            if stream is not None:
                stream.close()
        if final is None:
            raise ProviderError(
                ErrorKind.CONNECTION,
                "the stream ended before response.completed (connection cut?); usage unknown",
                provider=PROVIDER_ID,
                request_id=request_id,
                partial=partial(),
            )
        state.response = self._response(final, request_id, texts, calls, reasoning)

    # ---- models and keys -----------------------------------------------------

    def _list_models_once(self) -> list[ModelInfo]:
        try:
            ids = [m.id for m in self._client.models.list()]
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        return catalog.dedupe(catalog.from_listing(PROVIDER_ID, i) for i in ids if is_chat_model_id(i))

    def _validate_key_once(self) -> None:
        try:
            self._client.models.list()
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc

    def close(self) -> None:
        self._client.close()

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
)
from .http import shared_ssl_context
from .openai_wire import (
    ENCRYPTED_REASONING,
    PROVIDER_ID,
    call_from_item,
    error_from_code,
    is_chat_model_id,
    is_reasoning_model,
    map_error,
    reasoning_part,
    stop_reason,
    to_input_items,
    usage_from,
)
from .params import Prepared
from .types import (
    ChatRequest,
    OpaquePart,
    Part,
    Response,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallEvent,
    Usage,
)


class OpenAIProvider(BaseProvider):
    id = PROVIDER_ID
    requires_max_tokens = False
    min_output_tokens = 16

    def __init__(
        self, api_key: str, *, base_url: str | None = None, http_client: httpx2.Client | None = None, **options: Any
    ) -> None:
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
        ``output_item.done`` events by output index (they win over ``resp.output``'s).

        Over 60 lines on purpose: one walk of the output items in order builds the text,
        the calls, the reasoning and the turn's part order together; split, each piece
        would walk the items again and the order rule would be spread over functions."""
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
                call = call_from_item(item)
                calls.append(call)
                parts.append(call)
            elif itype == "reasoning":
                if streamed_reasoning is not None and index in streamed_reasoning:
                    item = streamed_reasoning.pop(index)
                part = reasoning_part(item)
                if part is not None:
                    opaque.append(part)
                    parts.append(part)
        if streamed_reasoning:  # finished in the stream, missing from response.completed
            opaque.extend(p for p in map(reasoning_part, streamed_reasoning.values()) if p is not None)
            parts = []
        if resp.status == "failed":
            error = resp.error
            raise error_from_code(
                getattr(error, "code", None),
                getattr(error, "message", None) or "the response failed",
                request_id=request_id,
            )
        text = "".join(collected if texts is None else texts)
        if streamed_calls:
            calls = streamed_calls  # same content as the output's, already built
        stop, raw_stop = stop_reason(resp, bool(calls), refused)
        # A refusal content part is the model's own words of refusal: they are the reason
        # (Anthropic's stop_details in its terms), not an answer that goes down a pipeline.
        detail, text = (text, "") if raw_stop == "refusal" and text else (None, text)
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
            usage=usage_from(resp.usage),
            model=resp.model,
            request_id=request_id,
            raw_usage=usage_dict(resp.usage),
            cost_usd=None,
            price_version=None,
            provider=PROVIDER_ID,
            raw_stop_reason=raw_stop,
            stop_detail=detail,
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
            return Response(
                "".join(texts), list(calls), "other", Usage(), model, request_id, {}, None, None, PROVIDER_ID
            )

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
                        call = call_from_item(item)
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
                    raise error_from_code(
                        getattr(error, "code", None),
                        getattr(error, "message", None) or "the response failed",
                        request_id=request_id,
                    )
                elif etype == "error":
                    raise error_from_code(event.code, event.message, request_id=request_id)
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

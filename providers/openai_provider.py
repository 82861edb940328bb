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
* ``ImagePart`` → ``input_image`` with a base64 data URL and ``detail: "auto"`` (the
  SDK's TypedDict and OpenAI's spec require ``detail``); ``DocumentPart`` →
  ``input_file`` with ``filename`` and a ``file_data`` data URL. They go inline, never
  through the Files API, in one user message with the turn's words, in order. Image and
  PDF tokens are inside ``input_tokens`` and priced as input.
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
* server tools (``ChatRequest.server_tools``): ``web_search`` only, as
  ``{"type": "web_search"}`` with ``include=["web_search_call.action.sources"]``; each
  ``web_search_call`` item is read into ``Response.server_tool_calls`` and kept as an
  OpaquePart in output order, sent back in the next round (providers/openai_server_tools.py,
  which also says why ``user_location`` stays unset).
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
from .base import BaseProvider, StreamState
from .catalog import ModelInfo
from .errors import mapped_errors
from .openai_response import response_from
from .openai_server_tools import SEARCH_SOURCES, definitions
from .openai_stream import StreamAssembler
from .openai_wire import (
    ENCRYPTED_REASONING,
    PROVIDER_ID,
    is_chat_model_id,
    is_reasoning_model,
    map_error,
    to_input_items,
)
from .params import Prepared
from .types import ChatRequest, Response, StreamEvent


class OpenAIProvider(BaseProvider):
    id = PROVIDER_ID
    requires_max_tokens = False
    min_output_tokens = 16

    def __init__(
        self, api_key: str, *, base_url: str | None = None, http_client: httpx2.Client | None = None, **options: Any
    ) -> None:
        super().__init__(**options)
        self._client = openai.OpenAI(
            api_key=api_key,
            base_url=base_url,  # None: the SDK reads OPENAI_BASE_URL itself
            **self.sdk_options(http_client, openai.DefaultHttpxClient),
        )

    # ---- request -------------------------------------------------------------

    def _params(self, req: ChatRequest, info: ModelInfo, p: Prepared) -> dict[str, Any]:
        reasoning = is_reasoning_model(info)
        params: dict[str, Any] = {
            "model": req.model,
            "input": to_input_items(req.messages, reasoning=reasoning),
            "store": False,
        }
        include = [ENCRYPTED_REASONING] if reasoning else []
        server_tools = definitions(p.server_tools)
        if server_tools:
            include.append(SEARCH_SOURCES)
        if include:
            params["include"] = include
        if req.system:
            params["instructions"] = req.system
        tools: list[dict[str, Any]] = [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.input_schema,
                "strict": False,
            }
            for t in p.tools
        ]
        tools += server_tools
        if tools:
            params["tools"] = tools
            if req.tool_choice == "none":
                params["tool_choice"] = "none"
        if p.temperature is not None:
            params["temperature"] = p.temperature
        if p.max_output_tokens is not None:
            params["max_output_tokens"] = p.max_output_tokens
        return params

    # ---- complete ------------------------------------------------------------

    def _complete_once(self, req: ChatRequest, info: ModelInfo, p: Prepared) -> Response:
        with mapped_errors(map_error):
            resp = self._client.responses.create(**self._params(req, info, p))
        return response_from(resp, getattr(resp, "_request_id", None))

    # ---- stream --------------------------------------------------------------

    def _stream_once(self, req: ChatRequest, info: ModelInfo, p: Prepared, state: StreamState) -> Iterator[StreamEvent]:
        assembler = StreamAssembler(req.model, state)
        stream = None
        try:
            stream = self._client.responses.create(**self._params(req, info, p), stream=True)
            assembler.request_id = stream.response.headers.get("x-request-id")
            for event in stream:
                yield from assembler.feed(event)
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            if mapped.request_id is None:
                mapped.request_id = assembler.request_id
            mapped.partial = assembler.partial()
            if mapped is exc:
                raise
            raise mapped from exc
        finally:
            if stream is not None:
                stream.close()
        state.response = assembler.finish()

    # ---- models and keys -----------------------------------------------------

    def _list_models_once(self) -> list[ModelInfo]:
        with mapped_errors(map_error):
            ids = [m.id for m in self._client.models.list()]
        return catalog.dedupe(catalog.from_listing(PROVIDER_ID, i) for i in ids if is_chat_model_id(i))

    def _validate_key_once(self) -> None:
        with mapped_errors(map_error):
            self._client.models.list()

    def close(self) -> None:
        self._client.close()

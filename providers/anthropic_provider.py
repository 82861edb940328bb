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
* ``ImagePart`` → ``image`` block, ``DocumentPart`` → ``document`` block (titled with
  the file name), both with a base64 source, inline, in user turns only (a document in
  an assistant turn is a 400). A body over 32 MB is a 413 ``request_too_large``: a
  bad request, not retried. Image and PDF tokens are in ``input_tokens``.
* usage: Anthropic's ``input_tokens`` excludes cache tokens; ours includes them.
* server tools (``ChatRequest.server_tools``): ``web_search`` / ``web_fetch`` tool
  definitions beside the custom tools; their ``server_tool_use`` and result blocks are
  kept as OpaquePart in the turn's order (``Response.parts``) and read into
  ``Response.server_tool_calls``; ``usage.server_tool_use`` counts the requests. A
  ``pause_turn`` is continued by providers/base.py (providers/continuation.py).

The SDK's own retries are off (``max_retries=0``): providers/retry.py is the one loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2

from . import catalog
from .anthropic_server_tools import SERVER_BLOCKS, ServerCalls, definitions
from .anthropic_stream import StreamAssembler
from .anthropic_wire import (
    OPAQUE_BLOCKS,
    PROVIDER_ID,
    STOP_REASONS,
    map_error,
    stop_detail,
    to_wire_messages,
    tool_call_of,
    usage_of,
)
from .base import BaseProvider, StreamState, usage_dict
from .catalog import ModelInfo
from .errors import mapped_errors
from .params import Prepared
from .types import ChatRequest, OpaquePart, Part, Response, StreamEvent, TextPart, ToolCall


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
        self._client = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,  # None: the SDK reads ANTHROPIC_BASE_URL itself
            **self.sdk_options(http_client, anthropic.DefaultHttpxClient),
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
        tools: list[dict[str, Any]] = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in p.tools
        ]
        tools += definitions(p.server_tools)
        if tools:
            params["tools"] = tools
            if req.tool_choice == "none":
                params["tool_choice"] = {"type": "none"}
        # p.temperature is always None here: no Claude model accepts one under this
        # API version (catalog), and unknown models default to no temperature.
        return params

    # ---- complete ------------------------------------------------------------

    def _complete_once(self, req: ChatRequest, info: ModelInfo, p: Prepared) -> Response:
        with mapped_errors(map_error):
            msg = self._client.messages.create(**self._params(req, info, p))
        texts: list[str] = []
        calls: list[ToolCall] = []
        opaque: list[OpaquePart] = []
        parts: list[Part] = []  # the turn in order: server tool blocks sit between texts
        server = ServerCalls()
        for block in msg.content:
            btype = block.type
            if btype == "text":
                texts.append(block.text)
                parts.append(TextPart(block.text))
            elif btype == "tool_use":
                call = tool_call_of(block.id, block.name, block.input)
                calls.append(call)
                parts.append(call)
            elif btype in OPAQUE_BLOCKS:
                part = OpaquePart(PROVIDER_ID, block.to_dict())
                opaque.append(part)
                parts.append(part)
                if btype in SERVER_BLOCKS:
                    server.add(part.data)
        return Response(
            text="".join(texts),
            tool_calls=calls,
            stop_reason=STOP_REASONS.get(msg.stop_reason, "other"),
            usage=usage_of(msg.usage),
            model=msg.model,
            request_id=getattr(msg, "_request_id", None),
            raw_usage=usage_dict(msg.usage),
            cost_usd=None,
            price_version=None,
            provider=PROVIDER_ID,
            raw_stop_reason=msg.stop_reason,
            opaque=opaque,
            parts=parts if server.calls else None,
            stop_detail=stop_detail(getattr(msg, "stop_details", None)),
            server_tool_calls=server.calls,
        )

    # ---- stream --------------------------------------------------------------

    def _stream_once(self, req: ChatRequest, info: ModelInfo, p: Prepared, state: StreamState) -> Iterator[StreamEvent]:
        assembler = StreamAssembler(req.model, state)
        stream = None
        try:
            stream = self._client.messages.create(**self._params(req, info, p), stream=True)
            assembler.request_id = stream.response.headers.get("request-id")
            for event in stream:
                yield from assembler.feed(event)
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            mapped.partial = assembler.partial()
            raise mapped from exc
        finally:
            if stream is not None:
                stream.close()
        state.response = assembler.finish()

    # ---- models and keys -----------------------------------------------------

    def _list_models_once(self) -> list[ModelInfo]:
        with mapped_errors(map_error):
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
        return catalog.dedupe(listed)

    def _validate_key_once(self) -> None:
        with mapped_errors(map_error):
            self._client.models.list(limit=1)  # one page, no tokens spent

    def close(self) -> None:
        self._client.close()

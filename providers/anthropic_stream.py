"""One Anthropic Messages stream assembled into our stream events and a final Response.

Each server-sent event updates the assembler and yields what a reader sees at once:
``text_delta`` → TextDelta; ``input_json_delta`` fragments are joined per content block and
emitted as one ToolCallEvent at ``content_block_stop``; thinking blocks (with their
signatures) and redacted thinking are kept as opaque parts, which the API wants back
unchanged; ``message_start``/``message_delta`` carry the model, stop reason and cumulative
usage. A stream that ends without ``message_stop`` was cut, and ``finish`` says so.

Server tools: a ``server_tool_use`` block's input arrives as ``input_json_delta`` fragments
like a tool call's and is a ServerToolEvent (``running``) at its stop; a result block
(``web_search_tool_result`` / ``web_fetch_tool_result``) arrives whole in its
``content_block_start`` and is a ServerToolEvent (``completed`` or ``error``). Both are
kept as opaque parts, and the turn's parts are kept in block order (``Response.parts``)
whenever a server tool was used, so the blocks go back where they were.

Kept apart from the provider so that each event type is a small method.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from .anthropic_server_tools import RESULT_BLOCKS, USE_BLOCK, ServerCalls
from .anthropic_wire import PROVIDER_ID, STOP_REASONS, stop_detail, usage_from_raw
from .base import StreamState, usage_dict
from .errors import ErrorKind, ProviderError
from .types import (
    OpaquePart,
    Part,
    Response,
    ServerToolEvent,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallEvent,
    parse_tool_arguments,
)


class StreamAssembler:
    """The state of one streaming attempt; ``state`` is shared with the retry loop, which
    reads the texts and calls yielded so far (they are appended before being yielded)."""

    def __init__(self, model: str, state: StreamState) -> None:
        self.state = state
        self.model = model
        self.request_id: str | None = None
        self.stop_reason: str | None = None
        self.stop_detail: str | None = None
        self.finished = False
        self.raw_usage: dict[str, Any] = {}
        self.opaque: list[OpaquePart] = []
        self.parts: list[Part] = []  # the turn in block order, each added at its block's stop
        self.server = ServerCalls()
        self._tools: dict[int, tuple[str, str, list[str]]] = {}  # block index → (id, name, json fragments)
        self._thinking: dict[int, tuple[dict[str, Any], list[str]]] = {}  # block index → (block, fragments)
        self._texts: dict[int, list[str]] = {}  # block index → text fragments
        self._server_uses: dict[int, tuple[dict[str, Any], list[str]]] = {}  # block index → (block, fragments)

    def feed(self, event: Any) -> Iterator[StreamEvent]:
        """What this event shows a reader (usually nothing, or one text delta)."""
        etype = event.type
        if etype == "content_block_delta":
            return self._delta(event)
        if etype == "content_block_start":
            return self._block_start(event)
        if etype == "content_block_stop":
            return self._block_stop(event.index)
        if etype == "message_delta":
            self.stop_reason = event.delta.stop_reason
            self.stop_detail = stop_detail(getattr(event.delta, "stop_details", None)) or self.stop_detail
            self.raw_usage.update(usage_dict(event.usage))  # cumulative; absent counts keep their start value
        elif etype == "message_start":
            self.model = event.message.model or self.model
            self.raw_usage = usage_dict(event.message.usage)
        elif etype == "message_stop":
            self.finished = True
        return iter(())

    def _delta(self, event: Any) -> Iterator[StreamEvent]:
        delta = event.delta
        dtype = delta.type
        if dtype == "text_delta":
            self.state.texts.append(delta.text)
            block = self._texts.get(event.index)
            if block is not None:
                block.append(delta.text)
            yield TextDelta(delta.text)
        elif dtype == "input_json_delta":
            tool = self._tools.get(event.index)
            if tool is not None:
                tool[2].append(delta.partial_json)
            else:
                use = self._server_uses.get(event.index)
                if use is not None:
                    use[1].append(delta.partial_json)
        elif dtype == "thinking_delta":
            thought = self._thinking.get(event.index)
            if thought is not None:
                thought[1].append(delta.thinking)
        elif dtype == "signature_delta":
            thought = self._thinking.get(event.index)
            if thought is not None:
                thought[0]["signature"] = delta.signature

    def _block_start(self, event: Any) -> Iterator[StreamEvent]:
        block = event.content_block
        btype = block.type
        if btype == "tool_use":
            self._tools[event.index] = (block.id, block.name, [])
        elif btype == "text":
            self._texts[event.index] = [block.text] if block.text else []
            if block.text:
                self.state.texts.append(block.text)
                yield TextDelta(block.text)
        elif btype == "thinking":
            self._thinking[event.index] = (block.to_dict(), [block.thinking] if block.thinking else [])
        elif btype == "redacted_thinking":
            self._opaque(block.to_dict())
        elif btype == USE_BLOCK:
            self._server_uses[event.index] = (block.to_dict(), [])
        elif btype in RESULT_BLOCKS:
            yield from self._server_block(block.to_dict())

    def _opaque(self, data: dict[str, Any]) -> OpaquePart:
        part = OpaquePart(PROVIDER_ID, data)
        self.opaque.append(part)
        self.parts.append(part)
        return part

    def _server_block(self, data: dict[str, Any]) -> Iterator[StreamEvent]:
        call = self.server.add(self._opaque(data).data)
        if call is not None:
            seen = replace(call)  # as it stands now: the use's result updates the call itself
            self.state.server.append(seen)
            yield ServerToolEvent(seen)

    def _block_stop(self, index: int) -> Iterator[StreamEvent]:
        tool = self._tools.pop(index, None)
        if tool is not None:
            call_id, name, fragments = tool
            raw = "".join(fragments)
            arguments, error = parse_tool_arguments(raw)
            call = ToolCall(call_id, name, arguments, error, raw if error else None)
            self.state.calls.append(call)
            self.parts.append(call)
            yield ToolCallEvent(call)
        elif index in self._texts:
            text = "".join(self._texts.pop(index))
            if text:
                self.parts.append(TextPart(text))
        elif index in self._thinking:
            data, fragments = self._thinking.pop(index)
            data["thinking"] = "".join(fragments)
            self._opaque(data)
        elif index in self._server_uses:
            data, fragments = self._server_uses.pop(index)
            raw = "".join(fragments)
            if raw:  # the block's input as the deltas built it (the start carries {})
                arguments, _ = parse_tool_arguments(raw)
                data["input"] = arguments
            yield from self._server_block(data)

    def partial(self) -> Response:
        """What arrived before the stream broke off (the retry loop decides what to do)."""
        return Response(
            "".join(self.state.texts),
            list(self.state.calls),
            "other",
            usage_from_raw(self.raw_usage),
            self.model,
            self.request_id,
            self.raw_usage,
            None,
            None,
            PROVIDER_ID,
            server_tool_calls=self.server.calls,
        )

    def finish(self) -> Response:
        """The whole reply; a stream that ended without ``message_stop`` is a cut connection."""
        if not self.finished:
            raise ProviderError(
                ErrorKind.CONNECTION,
                "the stream ended before message_stop (connection cut?)",
                provider=PROVIDER_ID,
                request_id=self.request_id,
                partial=self.partial(),
            )
        return Response(
            text="".join(self.state.texts),
            tool_calls=self.state.calls,
            stop_reason=STOP_REASONS.get(self.stop_reason, "other"),
            usage=usage_from_raw(self.raw_usage),
            model=self.model,
            request_id=self.request_id,
            raw_usage=self.raw_usage,
            cost_usd=None,
            price_version=None,
            provider=PROVIDER_ID,
            raw_stop_reason=self.stop_reason,
            opaque=self.opaque,
            parts=self.parts if self.server.calls else None,
            stop_detail=self.stop_detail,
            server_tool_calls=self.server.calls,
        )

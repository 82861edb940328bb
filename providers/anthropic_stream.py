"""One Anthropic Messages stream assembled into our stream events and a final Response.

Each server-sent event updates the assembler and yields what a reader sees at once:
``text_delta`` → TextDelta; ``input_json_delta`` fragments are joined per content block and
emitted as one ToolCallEvent at ``content_block_stop``; thinking blocks (with their
signatures) and redacted thinking are kept as opaque parts, which the API wants back
unchanged; ``message_start``/``message_delta`` carry the model, stop reason and cumulative
usage. A stream that ends without ``message_stop`` was cut, and ``finish`` says so.

Kept apart from the provider so that each event type is a small method, and the server
tools of a later release (their result blocks) add a case here, not to one long loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .anthropic_wire import PROVIDER_ID, STOP_REASONS, stop_detail, usage_from_raw
from .base import StreamState, usage_dict
from .errors import ErrorKind, ProviderError
from .types import OpaquePart, Response, StreamEvent, TextDelta, ToolCall, ToolCallEvent, parse_tool_arguments


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
        self._tools: dict[int, tuple[str, str, list[str]]] = {}  # block index → (id, name, json fragments)
        self._thinking: dict[int, tuple[dict[str, Any], list[str]]] = {}  # block index → (block, fragments)

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
            yield TextDelta(delta.text)
        elif dtype == "input_json_delta":
            tool = self._tools.get(event.index)
            if tool is not None:
                tool[2].append(delta.partial_json)
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
            if block.text:
                self.state.texts.append(block.text)
                yield TextDelta(block.text)
        elif btype == "thinking":
            self._thinking[event.index] = (block.to_dict(), [block.thinking] if block.thinking else [])
        elif btype == "redacted_thinking":
            self.opaque.append(OpaquePart(PROVIDER_ID, block.to_dict()))

    def _block_stop(self, index: int) -> Iterator[StreamEvent]:
        tool = self._tools.pop(index, None)
        if tool is not None:
            call_id, name, fragments = tool
            raw = "".join(fragments)
            arguments, error = parse_tool_arguments(raw)
            call = ToolCall(call_id, name, arguments, error, raw if error else None)
            self.state.calls.append(call)
            yield ToolCallEvent(call)
        elif index in self._thinking:
            data, fragments = self._thinking.pop(index)
            data["thinking"] = "".join(fragments)
            self.opaque.append(OpaquePart(PROVIDER_ID, data))

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
            stop_detail=self.stop_detail,
        )

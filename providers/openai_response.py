"""A finished OpenAI Responses API ``response`` read into our Response.

One walk of the output items, in order, builds the text, the calls, the reasoning parts and
the turn's part order together (``_Turn``, one method per item type); the walk is kept
whole because the order rule needs all of them at once. From a stream, the texts and calls
as streamed win over the output's (same content, already built), and the reasoning items
of the ``output_item.done`` events win over ``response.completed``'s (see the mapping notes
in providers/openai_provider.py).

Kept apart from the provider so that both ``complete`` and the stream assembler
(providers/openai_stream.py) read a response the same way, in functions of one job each.
"""

from __future__ import annotations

from typing import Any

from .base import usage_dict
from .openai_server_tools import ITEM_TYPE, call_of_item, search_part
from .openai_wire import PROVIDER_ID, call_from_item, error_from_code, reasoning_part, stop_reason, usage_from
from .types import OpaquePart, Part, Response, ServerToolCall, TextPart, ToolCall


class _Turn:
    """What one walk of ``resp.output`` found: the text pieces, the calls, the reasoning
    parts, whether the model refused, and every part in output order."""

    def __init__(self, streamed_reasoning: dict[int, Any] | None) -> None:
        self.calls: list[ToolCall] = []
        self.refused = False
        self.collected: list[str] = []
        self.opaque: list[OpaquePart] = []
        self.parts: list[Part] = []  # the assistant turn in output order
        self.server: list[ServerToolCall] = []  # web searches, in output order
        self._streamed_reasoning = streamed_reasoning

    def walk(self, output: Any) -> None:
        for index, item in enumerate(output):
            itype = item.type
            if itype == "message":
                self._message(item)
            elif itype == "function_call":
                call = call_from_item(item)
                self.calls.append(call)
                self.parts.append(call)
            elif itype == "reasoning":
                self._reasoning(index, item)
            elif itype == ITEM_TYPE:
                self._search(item)
        streamed = self._streamed_reasoning
        if streamed:  # finished in the stream, missing from response.completed
            self.opaque.extend(p for p in map(reasoning_part, streamed.values()) if p is not None)
            self.parts = []

    def _message(self, item: Any) -> None:
        start = len(self.collected)
        for content in item.content:
            ctype = content.type
            if ctype == "output_text":
                self.collected.append(content.text)
            elif ctype == "refusal":
                self.collected.append(content.refusal)
                self.refused = True
        if len(self.collected) > start:
            self.parts.append(TextPart("".join(self.collected[start:])))

    def _search(self, item: Any) -> None:
        data = item.to_dict()
        self.server.append(call_of_item(data))
        part = search_part(data)
        self.opaque.append(part)
        self.parts.append(part)

    def _reasoning(self, index: int, item: Any) -> None:
        streamed = self._streamed_reasoning
        if streamed is not None and index in streamed:
            item = streamed.pop(index)
        part = reasoning_part(item)
        if part is not None:
            self.opaque.append(part)
            self.parts.append(part)


def _raise_if_failed(resp: Any, request_id: str | None) -> None:
    if resp.status == "failed":
        error = resp.error
        raise error_from_code(
            getattr(error, "code", None),
            getattr(error, "message", None) or "the response failed",
            request_id=request_id,
        )


def _ordered(turn: _Turn, calls: list[ToolCall], text: str) -> list[Part] | None:
    """The output order, kept only if it is the whole turn (a stream's text and calls as
    streamed); None otherwise, and to_message's order applies: reasoning, text, calls."""
    if not (turn.opaque and turn.parts):
        return None
    parts = turn.parts
    in_order = [p for p in parts if type(p) is ToolCall]
    if in_order == calls and "".join(p.text for p in parts if type(p) is TextPart) == text:
        swap = iter(calls)
        return [next(swap) if type(p) is ToolCall else p for p in parts]
    return None


def response_from(
    resp: Any,
    request_id: str | None,
    texts: list[str] | None = None,
    streamed_calls: list[ToolCall] | None = None,
    streamed_reasoning: dict[int, Any] | None = None,
) -> Response:
    """The Response for a finished ``resp``. From a stream: ``texts`` and
    ``streamed_calls`` as streamed, and the reasoning items of the
    ``output_item.done`` events by output index (they win over ``resp.output``'s)."""
    turn = _Turn(streamed_reasoning)
    turn.walk(resp.output or ())
    _raise_if_failed(resp, request_id)
    text = "".join(turn.collected if texts is None else texts)
    calls = turn.calls
    if streamed_calls:
        calls = streamed_calls  # same content as the output's, already built
    stop, raw_stop = stop_reason(resp, bool(calls), turn.refused)
    # A refusal content part is the model's own words of refusal: they are the reason
    # (Anthropic's stop_details in its terms), not an answer that goes down a pipeline.
    detail, text = (text, "") if raw_stop == "refusal" and text else (None, text)
    usage = usage_from(resp.usage)
    # OpenAI's usage has no count of searches: each completed call is one (the fee's unit).
    usage.web_searches = sum(1 for c in turn.server if c.status == "completed")
    return Response(
        text=text,
        tool_calls=calls,
        stop_reason=stop,
        usage=usage,
        model=resp.model,
        request_id=request_id,
        raw_usage=usage_dict(resp.usage),
        cost_usd=None,
        price_version=None,
        provider=PROVIDER_ID,
        raw_stop_reason=raw_stop,
        stop_detail=detail,
        opaque=turn.opaque,
        parts=_ordered(turn, calls, text),
        server_tool_calls=turn.server,
    )

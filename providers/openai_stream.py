"""One OpenAI Responses API stream assembled into our stream events and a final Response.

Each server-sent event updates the assembler and yields what a reader sees at once:
``response.output_text.delta`` and ``response.refusal.delta`` → TextDelta; a
``function_call`` item is opened at ``response.output_item.added``, its argument fragments
(``response.function_call_arguments.delta``) are kept per output index, and it is emitted
as one ToolCallEvent at ``response.output_item.done`` (the done item's own arguments win;
the fragments are used only when it has none). A ``reasoning`` item is kept as it is in
``output_item.done`` (``output_item.added``'s ``encrypted_content`` may be incomplete).
A ``web_search_call`` item is a ServerToolEvent when it is added (``running``) and when it
is done (``completed`` or ``error``); the final response's output is where the Response
reads it from. ``response.completed``/``response.incomplete`` carry the final response;
``response.failed`` and ``error`` raise. A stream that ends without a final response was
cut, and ``finish`` says so.

Kept apart from the provider so that each event type is a small method, as for Anthropic
(providers/anthropic_stream.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .base import StreamState
from .errors import ErrorKind, ProviderError
from .openai_response import response_from
from .openai_server_tools import ITEM_TYPE, call_of_item
from .openai_wire import PROVIDER_ID, call_from_item, error_from_code
from .types import Response, ServerToolEvent, StreamEvent, TextDelta, ToolCallEvent, Usage


class StreamAssembler:
    """The state of one streaming attempt; ``state`` is shared with the retry loop, which
    reads the texts and calls yielded so far (they are appended before being yielded)."""

    def __init__(self, model: str, state: StreamState) -> None:
        self.state = state
        self.model = model
        self.request_id: str | None = None
        self.final: Any = None  # the response of response.completed / response.incomplete
        self._pending: dict[int, tuple[str, str, list[str]]] = {}  # output_index → (call_id, name, fragments)
        self._reasoning: dict[int, Any] = {}  # output_index → finished reasoning item (output_item.done)

    def feed(self, event: Any) -> Iterator[StreamEvent]:
        """What this event shows a reader (usually nothing, or one text delta)."""
        etype = event.type
        if etype in ("response.output_text.delta", "response.refusal.delta"):
            return self._text(event.delta)
        if etype == "response.function_call_arguments.delta":
            entry = self._pending.get(event.output_index)
            if entry is not None:
                entry[2].append(event.delta)
        elif etype == "response.output_item.added":
            item = event.item
            if item.type == "function_call":
                self._pending[event.output_index] = (item.call_id, item.name, [])
            elif item.type == ITEM_TYPE:
                return self._search(item)
        elif etype == "response.output_item.done":
            return self._item_done(event)
        elif etype in ("response.completed", "response.incomplete"):
            self.final = event.response
            self.model = self.final.model or self.model
        elif etype == "response.failed":
            error = event.response.error
            raise error_from_code(
                getattr(error, "code", None),
                getattr(error, "message", None) or "the response failed",
                request_id=self.request_id,
            )
        elif etype == "error":
            raise error_from_code(event.code, event.message, request_id=self.request_id)
        return iter(())

    def _text(self, text: str) -> Iterator[StreamEvent]:
        self.state.texts.append(text)
        yield TextDelta(text)

    def _item_done(self, event: Any) -> Iterator[StreamEvent]:
        item = event.item
        if item.type == "function_call":
            entry = self._pending.pop(event.output_index, None)
            if item.arguments is None and entry is not None:  # done item without arguments: use the deltas
                item.arguments = "".join(entry[2])
            call = call_from_item(item)
            self.state.calls.append(call)
            yield ToolCallEvent(call)
        elif item.type == "reasoning":
            # the finished item: output_item.added's encrypted_content may be incomplete
            self._reasoning[event.output_index] = item
        elif item.type == ITEM_TYPE:
            yield from self._search(item)

    def _search(self, item: Any) -> Iterator[StreamEvent]:
        call = call_of_item(item.to_dict())
        self.state.server.append(call)
        yield ServerToolEvent(call)

    def partial(self) -> Response:
        """What arrived before the stream broke off (the retry loop decides what to do)."""
        state = self.state
        return Response(
            "".join(state.texts),
            list(state.calls),
            "other",
            Usage(),
            self.model,
            self.request_id,
            {},
            None,
            None,
            PROVIDER_ID,
        )

    def finish(self) -> Response:
        """The whole reply; a stream that ended without ``response.completed`` is a cut connection."""
        if self.final is None:
            raise ProviderError(
                ErrorKind.CONNECTION,
                "the stream ended before response.completed (connection cut?); usage unknown",
                provider=PROVIDER_ID,
                request_id=self.request_id,
                partial=self.partial(),
            )
        return response_from(self.final, self.request_id, self.state.texts, self.state.calls, self._reasoning)

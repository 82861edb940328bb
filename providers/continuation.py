"""A paused turn, continued: the request that asks the provider to go on, and the rounds
merged into the one Response a caller sees.

Anthropic may end a response with ``stop_reason: "pause_turn"`` while its server tools
(web search, web fetch) are still at work; its documentation says to send the response's
content back, as the assistant turn, and the model carries on where it stopped. That is a
detail of one call, not a round of the agent's tool loop, so the provider layer does it
(providers/base.py), a bounded number of times, and the caller gets one Response: the
texts, calls, opaque blocks and server tool uses of every round in order, the usage and
cost summed, the last round's stop reason (and its raw usage: the summed counts are in
``usage``).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from .types import ChatRequest, Response, ServerToolCall

#: The most calls one paused turn may take (the first one included). Each continuation
#: is another full-priced request over the whole conversation, so this stays small.
MAX_ROUNDS = 5


def continued(req: ChatRequest, paused: Response) -> ChatRequest:
    """The request that lets the model go on: the same one, with the paused response's
    content appended as an assistant turn exactly as it came (its server tool blocks
    included; the API joins consecutive assistant turns into one)."""
    return replace(req, messages=[*req.messages, paused.to_message()])


def _cost(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else a + b


def _server_calls(first: list[ServerToolCall], then: list[ServerToolCall]) -> list[ServerToolCall]:
    """Both rounds' uses in order; a later round's result for an earlier round's use
    (started before the pause, answered after it) completes that use instead of adding one."""
    merged = list(first)
    by_id = {c.id: i for i, c in enumerate(merged)}
    for call in then:
        i = by_id.get(call.id)
        if i is None:
            by_id[call.id] = len(merged)
            merged.append(call)
            continue
        earlier = merged[i]
        merged[i] = replace(
            earlier,
            input=earlier.input or call.input,
            status=call.status,
            error=call.error,
            result_excerpt=call.result_excerpt or earlier.result_excerpt,
            fee_usd=call.fee_usd if call.fee_usd is not None else earlier.fee_usd,
        )
    return merged


def merge(first: Response, then: Response) -> Response:
    """One Response for two consecutive rounds of the same turn (both already priced)."""
    notes = list(first.notes)
    notes.extend(n for n in then.notes if n not in notes)
    return Response(
        text=first.text + then.text,
        tool_calls=[*first.tool_calls, *then.tool_calls],
        stop_reason=then.stop_reason,
        usage=first.usage + then.usage,
        model=then.model or first.model,
        request_id=then.request_id or first.request_id,
        raw_usage=then.raw_usage,
        cost_usd=_cost(first.cost_usd, then.cost_usd),
        price_version=then.price_version or first.price_version,
        provider=then.provider or first.provider,
        raw_stop_reason=then.raw_stop_reason,
        notes=notes,
        opaque=[*first.opaque, *then.opaque],
        parts=[*first.to_message().parts, *then.to_message().parts],
        stop_detail=then.stop_detail or first.stop_detail,
        server_tool_calls=_server_calls(first.server_tool_calls, then.server_tool_calls),
        rounds=first.rounds + then.rounds,
    )

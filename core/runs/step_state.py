"""A step's model conversation, kept while it waits for a person to allow a tool call.

A step paused mid-conversation (DESIGN §12: a server that asks before every call) holds no
worker, so what it had is written down: the turns after the first (the first is rebuilt
from the step's input and files, which are stored anyway), the calls of the last turn not
answered yet and the answers given so far, the round it was in, and what it had cost. The
worker that takes the run up again goes on from there: no model round is asked, or paid
for, twice.

Only text, tool calls, tool results and providers' opaque blocks (signed thinking, server
tool blocks: plain JSON) come after the first turn, so the form is plain JSON too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from providers.types import Message, OpaquePart, Part, TextPart, ToolCall, ToolResult, Usage

VERSION = 1


class StateUnreadable(ValueError):
    """The kept state is not one this version can go on from."""


@dataclass
class Conversation:
    """Where a step's tool loop is: ``later`` turns (after the first), the last turn's
    ``pending`` calls (the first of them the one a person decides) and the ``answered``
    results so far, the ``round_no``."""

    later: list[Message] = field(default_factory=list)
    pending: list[ToolCall] = field(default_factory=list)
    answered: list[ToolResult] = field(default_factory=list)
    round_no: int = 0


@dataclass(frozen=True)
class ToolDecision:
    """A person's Allow / Deny of the paused call ``call_id``, with the step's kept ``state``."""

    state: dict[str, Any]
    call_id: str
    allowed: bool
    by: str


@dataclass
class Spent:
    """What the step had cost and done when it paused (core/runs/steps.StepCall's fields)."""

    usage: Usage
    raw_usage: list[dict[str, Any]]
    cost_usd: Decimal | None
    price_version: str | None
    rounds: int
    tool_calls: list[dict[str, Any]]


def dump(conv: Conversation, spent: Spent) -> dict[str, Any]:
    return {
        "version": VERSION,
        "later": [{"role": m.role, "parts": [_part(p) for p in m.parts]} for m in conv.later],
        "pending": [_part(c) for c in conv.pending],
        "answered": [_part(r) for r in conv.answered],
        "round_no": conv.round_no,
        "spent": {
            "usage": spent.usage.to_dict(),
            "raw_usage": spent.raw_usage,
            "cost_usd": None if spent.cost_usd is None else str(spent.cost_usd),
            "price_version": spent.price_version,
            "rounds": spent.rounds,
            "tool_calls": spent.tool_calls,
        },
    }


def load(data: dict[str, Any]) -> tuple[Conversation, Spent]:
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise StateUnreadable("the paused step's state is missing or from another version")
    try:
        later = [Message(m["role"], [_unpart(p) for p in m["parts"]]) for m in data["later"]]
        pending = [_unpart(p) for p in data["pending"]]
        answered = [_unpart(p) for p in data["answered"]]
        s = data["spent"]
        spent = Spent(
            Usage.from_dict(s["usage"]),
            list(s["raw_usage"]),
            None if s["cost_usd"] is None else Decimal(s["cost_usd"]),
            s["price_version"],
            int(s["rounds"]),
            list(s["tool_calls"]),
        )
        conv = Conversation(
            later,
            [c for c in pending if isinstance(c, ToolCall)],
            [r for r in answered if isinstance(r, ToolResult)],
            int(data["round_no"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StateUnreadable(f"the paused step's state cannot be read ({type(exc).__name__})") from None
    return conv, spent


def _part(p: Part) -> dict[str, Any]:
    if isinstance(p, TextPart):
        return {"t": "text", "text": p.text}
    if isinstance(p, ToolCall):
        return {
            "t": "tool_call",
            "id": p.id,
            "name": p.name,
            "arguments": p.arguments,
            "arguments_error": p.arguments_error,
            "raw_arguments": p.raw_arguments,
        }
    if isinstance(p, ToolResult):
        return {"t": "tool_result", "call_id": p.call_id, "content": p.content, "is_error": p.is_error}
    if isinstance(p, OpaquePart):
        return {"t": "opaque", "provider": p.provider, "data": p.data}
    raise StateUnreadable(f"a {type(p).__name__} cannot be kept after the first turn")


def _unpart(d: dict[str, Any]) -> Part:
    kind = d["t"]
    if kind == "text":
        return TextPart(d["text"])
    if kind == "tool_call":
        return ToolCall(d["id"], d["name"], d["arguments"], d.get("arguments_error"), d.get("raw_arguments"))
    if kind == "tool_result":
        return ToolResult(d["call_id"], d["content"], bool(d["is_error"]))
    if kind == "opaque":
        return OpaquePart(d["provider"], d["data"])
    raise ValueError(f"unknown part {kind!r}")

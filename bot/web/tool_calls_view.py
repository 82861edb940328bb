"""A step's tool calls on the artifact page (DESIGN §12 "Live and recorded"): one row per call,
in the order made, worded here so the template only lays them out.

Every value comes from the step's stored records (core/tool_calls.ToolCallRecord) and is
untrusted: the arguments the model wrote, what a server or a web page answered. They stay
plain text here and the template prints them escaped (autoescape); nothing is marked safe.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.formatting import format_duration, format_usd
from core.tool_calls import summary

#: How much of a call's arguments and result the page prints (the record is already an
#: excerpt; this bounds a hand-edited or very old row).
ARGUMENTS_LIMIT = 20_000
RESULT_LIMIT = 20_000

_KIND_LABELS = {"builtin": "built-in", "mcp": "MCP", "web": "web"}
_VERDICTS = {"allow": "allowed", "allowed": "allowed", "approved": "allowed", "deny": "denied", "denied": "denied"}


@dataclass(frozen=True)
class ToolCallRow:
    """One tool call as the page shows it: all plain text, escaped by the template."""

    label: str  # "Tickets · lookup_ticket"
    summary: str  # "Web search: pizza near me"
    kind: str  # "MCP", "web", "built-in", "" when unknown
    arguments: str  # pretty JSON ("" when none)
    result: str
    duration: str  # "" when not known
    error: str
    fee: str  # "" when none
    approval: str  # "allowed by U123", "" when not asked

    @property
    def facts(self) -> str:
        """The line beside the summary: kind, duration, fee, approval (what is known)."""
        return " · ".join(p for p in (self.kind, self.duration, self.fee, self.approval) if p)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _arguments(value: Any) -> str:
    """Pretty JSON of what the model passed; a string that holds JSON is shown parsed."""
    if value is None or value == {} or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return _clip(value, ARGUMENTS_LIMIT)
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        text = str(value)
    return _clip(text, ARGUMENTS_LIMIT)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _approval(value: Any) -> str:
    if not isinstance(value, Mapping):
        return ""
    verdict = _text(value.get("verdict")).strip().lower()
    word = _VERDICTS.get(verdict, verdict)
    by = _text(value.get("by")).strip()
    return f"{word} by {by}" if word and by else word


def _duration(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return format_duration(value, unknown="")


def _fee(value: Any) -> str:
    if value is None or value == "":
        return ""
    return f"fee {format_usd(_text(value), unknown='unknown')}"


def tool_call_row(record: Mapping[str, Any]) -> ToolCallRow:
    """One stored record, worded for the page; odd values (a hand-edited row) read as missing."""
    rec = dict(record)
    return ToolCallRow(
        label=_text(rec.get("label") or rec.get("name") or "tool"),
        summary=summary(rec),
        kind=_KIND_LABELS.get(_text(rec.get("kind")), ""),
        arguments=_arguments(rec.get("arguments")),
        result=_clip(_text(rec.get("result_excerpt")), RESULT_LIMIT),
        duration=_duration(rec.get("duration_ms")),
        error=_text(rec.get("error")),
        fee=_fee(rec.get("fee_usd")),
        approval=_approval(rec.get("approval")),
    )


def tool_call_rows(records: Sequence[Mapping[str, Any]]) -> list[ToolCallRow]:
    """A step's calls in the order made."""
    return [tool_call_row(r) for r in records if isinstance(r, Mapping)]

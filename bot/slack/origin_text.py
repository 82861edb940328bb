"""How a self-started run names where it came from in its first message (DESIGN §13):
"⏰ *Digest* scheduled by @x" now; reactions, message triggers and webhooks add a branch
here, so every surface and every later update of the message says it the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.slack.text import escape_mrkdwn
from core.schedules import texts as schedule_texts

_MENTIONABLE = frozenset("UW")


def _who(user_id: Any) -> str:
    """``<@U…>`` for a Slack user id; anything else (untrusted JSON) escaped as text."""
    text = str(user_id or "")
    if text[:1] in _MENTIONABLE and text.isalnum():
        return f"<@{text}>"
    return escape_mrkdwn(text) or "someone"


def origin_line(origin: Mapping[str, Any] | None, pipeline_name: str) -> str | None:
    """The mrkdwn line naming ``origin`` (runs.origin), or None for a run a person started."""
    if not origin or not isinstance(origin, Mapping):
        return None
    kind = origin.get("kind")
    name = escape_mrkdwn(pipeline_name)
    if kind == "schedule":
        line = f"⏰ *{name}* scheduled by {_who(origin.get('by'))}"
        missed = origin.get("missed")
        if isinstance(missed, int) and missed > 0:
            line += f"\n{escape_mrkdwn(schedule_texts.caught_up(missed))}"
        return line
    return f"*{name}* started by itself ({escape_mrkdwn(str(kind or 'unknown'))})"

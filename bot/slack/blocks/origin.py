"""The line that names what started a run nobody typed (DESIGN §13): "triggered by :memo: from
@y", "triggered by a new message in #c", "⏰ scheduled by @x", "webhook *name*". One builder for
every surface that shows a run's first message, from the run's ``origin`` (RunRequest's
``origin_detail``, kept as ``runs.origin``). Pure; anything unexpected in the dict shows as
nothing rather than as text someone could shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.slack.text import escape_mrkdwn
from core.schedules import texts as schedule_texts

_USER = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,30}$")
_EMOJI = re.compile(r"^[a-z0-9_+'\-]{1,100}$")


def _user(value: Any) -> str | None:
    return f"<@{value}>" if isinstance(value, str) and _USER.match(value) else None


def origin_line(origin: Mapping[str, Any] | None) -> str | None:
    """mrkdwn naming the run's origin, or None for a run a person started."""
    if not isinstance(origin, Mapping):
        return None
    kind, by = origin.get("kind"), _user(origin.get("by"))
    if kind == "reaction":
        emoji = origin.get("emoji")
        shown = f":{emoji}:" if isinstance(emoji, str) and _EMOJI.match(emoji) else "a reaction"
        return f"triggered by {shown}" + (f" from {by}" if by else "")
    if kind == "message":
        channel = origin.get("channel")
        where = f" in <#{channel}>" if isinstance(channel, str) and _CHANNEL.match(channel) else ""
        return f"triggered by a new message{where}"
    if kind == "schedule":
        line = "⏰ scheduled" + (f" by {by}" if by else "")
        missed = origin.get("missed")
        if isinstance(missed, int) and not isinstance(missed, bool) and missed > 0:
            line += f"\n{escape_mrkdwn(schedule_texts.caught_up(missed))}"
        return line
    if kind == "webhook":
        name = origin.get("name")
        return f"webhook *{escape_mrkdwn(str(name))}*" if name else "webhook"
    return None

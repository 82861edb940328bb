"""Slack's rate-limit tiers, per Web API method, in one table.

Slack limits an app per workspace and per method (https://docs.slack.dev/apis/web-api/
rate-limits): Tier 1 about 1 call a minute, Tier 2 about 20, Tier 3 about 50, Tier 4 about
100, with short bursts tolerated; ``chat.postMessage`` is "special": about one message a
second per channel, with short bursts. Each method's page gives its tier; the app's methods
are listed here, and a method not listed is paced as Tier 3 (the most common tier of
write methods), a safe middle.

Why each rate is written as "N calls per W seconds" with a small N: the budget is a moving
window (bot/slack/ratelimit/budget.py), and "20 per minute" as one window would let 20
calls go at once, a burst Slack answers with 429. A window of a few seconds holding a few
calls keeps the average at the tier's rate and the bursts short.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    """``calls`` per ``seconds``, as a moving window."""

    calls: int
    seconds: int

    @property
    def per_minute(self) -> float:
        return self.calls * 60 / self.seconds


TIER_RATES: dict[int, Rate] = {
    1: Rate(1, 60),  # about 1 a minute
    2: Rate(3, 9),  # about 20 a minute
    3: Rate(5, 6),  # about 50 a minute
    4: Rate(10, 6),  # about 100 a minute
}
DEFAULT_TIER = 3
PER_CHANNEL_RATE = Rate(1, 1)  # chat.postMessage: about one a second per channel
PER_CHANNEL_METHODS = frozenset({"chat.postMessage"})

# Every method the app calls, at its documented tier ("special" methods, such as auth.test
# and chat.getPermalink, are paced as Tier 4: generous, and they are called rarely).
METHOD_TIERS: dict[str, int] = {
    "auth.test": 4,
    "team.info": 3,
    "users.info": 4,
    "files.info": 4,
    "users.list": 2,
    "conversations.info": 3,
    "conversations.join": 3,
    "conversations.members": 4,
    "conversations.list": 2,
    "users.conversations": 3,
    "conversations.open": 3,
    "conversations.replies": 3,
    "conversations.history": 3,  # the message a reaction trigger runs on
    "emoji.list": 2,  # a reaction trigger's emoji exists (bot/slack/emoji_check.py)
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "chat.getPermalink": 4,
    "chat.unfurl": 3,
    "chat.startStream": 2,
    "chat.appendStream": 4,
    "chat.stopStream": 2,
    "views.open": 4,
    "views.push": 4,
    "views.update": 4,
    "views.publish": 4,
    "oauth.v2.access": 4,
    "openid.connect.token": 4,  # Sign in with Slack's token exchange (bot/web/signin_routes.py)
}


def method_rate(method: str) -> Rate | None:
    """The workspace-wide rate of ``method``; None for chat.postMessage, which Slack limits
    per channel instead (see :func:`channel_rate`)."""
    if method in PER_CHANNEL_METHODS:
        return None
    return TIER_RATES[METHOD_TIERS.get(method, DEFAULT_TIER)]


def channel_rate(method: str) -> Rate | None:
    """The per-channel rate of ``method`` (chat.postMessage), else None."""
    return PER_CHANNEL_RATE if method in PER_CHANNEL_METHODS else None

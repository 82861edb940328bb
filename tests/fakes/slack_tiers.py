"""Slack's rate-limit tiers, enforced by the fake Slack when a test switches them on.

Slack answers HTTP 429 with ``Retry-After`` once an app exceeds a method's tier in a
workspace (Tier 1 about 1 call a minute, Tier 2 about 20, Tier 3 about 50, Tier 4 about
100), and ``chat.postMessage`` beyond about one a second per channel; short bursts pass.
Modelled as a token bucket per (workspace, method), and per channel for chat.postMessage,
at the documented rate with a burst of ten seconds' worth.

The table here is the fake's own reading of Slack's documentation, not the app's
(bot/slack/ratelimit/tiers.py): a fake that borrowed the app's table would agree with
whatever the app believes.

Every 429 is recorded with its window, so a test can assert that no call was made for a
(workspace, method) while Slack had told the app to wait (:meth:`SlackTiers.violations`).

Switch on with ``fake.tiers = SlackTiers()`` (off by default).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

PER_MINUTE = {1: 1.0, 2: 20.0, 3: 50.0, 4: 100.0}
BURST_SECONDS = 10.0
POST_PER_SECOND = 1.0  # chat.postMessage, per channel

# docs.slack.dev, each method's page.
TIERS = {
    "chat.update": 3,
    "chat.delete": 3,
    "chat.postEphemeral": 4,
    "chat.getPermalink": 4,
    "chat.unfurl": 3,
    "chat.startStream": 2,
    "chat.appendStream": 4,
    "chat.stopStream": 2,
    "conversations.join": 3,
    "conversations.info": 3,
    "conversations.members": 4,
    "conversations.list": 2,
    "users.conversations": 3,
    "users.list": 2,
    "conversations.open": 3,
    "conversations.replies": 3,
    "users.info": 4,
    "team.info": 3,
    "auth.test": 4,
    "views.open": 4,
    "views.push": 4,
    "views.update": 4,
    "views.publish": 4,
    "openid.connect.token": 4,
}
UNLIMITED = {"api.test", "oauth.v2.access"}


@dataclass
class _Bucket:
    rate: float  # tokens per second
    burst: float
    tokens: float
    at: float

    def take(self, now: float) -> float:
        """0 when a token was taken, else seconds until one is there."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass(frozen=True)
class Limited:
    """One 429 the fake sent: no call for (team, method) should come before ``until``."""

    team: str
    method: str
    channel: str | None
    at: float
    until: float


@dataclass
class SlackTiers:
    """The fake's rate limits (see the module docstring)."""

    buckets: dict[tuple[str, ...], _Bucket] = field(default_factory=dict)
    limited: list[Limited] = field(default_factory=list)
    calls: list[tuple[str, str, float]] = field(default_factory=list)  # (team, method, time) of every call
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, method: str, team: str | None, params: dict[str, Any], now: float) -> int | None:
        """The Retry-After (whole seconds) when this call is over the limit, else None."""
        if method in UNLIMITED or team is None:
            return None
        if method == "chat.postMessage":
            channel = str(params.get("channel", ""))
            key: tuple[str, ...] = (team, method, channel)
            rate = POST_PER_SECOND
        else:
            channel, key = None, (team, method)
            rate = PER_MINUTE[TIERS.get(method, 3)] / 60
        with self._lock:
            bucket = self.buckets.get(key)
            if bucket is None:
                burst = max(1.0, rate * BURST_SECONDS)
                bucket = self.buckets[key] = _Bucket(rate, burst, burst, now)
            self.calls.append((team, method, now))
            wait = bucket.take(now)
            if wait <= 0:
                return None
            retry = max(1, math.ceil(wait))
            self.limited.append(Limited(team, method, channel, now, now + retry))
            return retry

    def count_429(self, method: str | None = None) -> int:
        return sum(1 for x in self.limited if method is None or x.method == method)

    def violations(self, grace: float = 0.05) -> list[tuple[Limited, float]]:
        """Calls made for a (team, method) inside a window a 429 had announced, counted from
        ``grace`` seconds after the 429 left (the time it takes to reach the app)."""
        with self._lock:
            limited, calls = list(self.limited), list(self.calls)
        return [
            (lim, t)
            for lim in limited
            for team, method, t in calls
            if (team, method) == (lim.team, lim.method) and lim.at + grace < t < lim.until - grace
        ]

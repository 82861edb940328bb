"""How one progress reply paces itself and reads Slack's errors (bot/slack/progress.py).

The per-stream token bucket is the reply's own rhythm (a burst, then one call per
interval): the workspace's shared budget (bot/slack/ratelimit/) decides whether a call may
go at all; this bucket keeps one stream from asking more often than it is worth.
"""

from __future__ import annotations

import time

from slack_sdk.errors import SlackApiError

from bot.slack.delivery import is_transient
from bot.slack.ratelimit.paced import is_rate_limited

EXPIRED = "message_not_in_streaming_state"
RATELIMIT_PAUSE_S = 1.0  # a progress call refused for budget is tried again after at least this


def error_code(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__


def kind_of(exc: Exception) -> str:
    """expired | ratelimited | transient | refused: what a failed stream call means
    (transient as delivery counts it: Slack busy or briefly broken, or the connection)."""
    if isinstance(exc, SlackApiError):
        if exc.response.get("error") == EXPIRED:
            return "expired"
        if is_rate_limited(exc):
            return "ratelimited"
    return "transient" if is_transient(exc) else "refused"


class Bucket:
    """A token bucket: ``burst`` calls at once, then one per ``interval`` on average."""

    def __init__(self, interval: float, burst: int) -> None:
        self.interval, self.burst = interval, max(1, burst)
        self._tokens = float(self.burst)
        self._at = time.monotonic()

    def _refill(self, now: float) -> None:
        if self.interval <= 0:
            self._tokens = float(self.burst)
        else:
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) / self.interval)
        self._at = now

    def wait(self) -> float:
        """Seconds until a call may go."""
        now = time.monotonic()
        self._refill(now)
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) * self.interval

    def take(self) -> None:
        self._refill(time.monotonic())
        self._tokens -= 1

    def hold_off(self, seconds: float) -> None:
        """No call for ``seconds`` (Slack said Retry-After, or a call failed)."""
        self._tokens = min(self._tokens, 0.0) - seconds / self.interval if self.interval > 0 else 0.0
        self._at = time.monotonic()

"""How one progress reply paces itself and reads Slack's errors (bot/slack/progress.py).

The per-stream token bucket is the reply's own rhythm (a burst, then one call per
interval): the workspace's shared budget (bot/slack/ratelimit/) decides whether a call may
go at all; this bucket keeps one stream from asking more often than it is worth.
"""

from __future__ import annotations

import time

from slack_sdk.errors import SlackApiError

from bot.slack.ratelimit.paced import is_rate_limited

EXPIRED = "message_not_in_streaming_state"
_TRANSIENT = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
RATELIMIT_PAUSE_S = 1.0  # a progress call refused for budget is tried again after at least this


def error_code(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__


def kind_of(exc: Exception) -> str:
    """expired | ratelimited | transient | refused: what a failed stream call means."""
    if isinstance(exc, SlackApiError):
        err = exc.response.get("error")
        if err == EXPIRED:
            return "expired"
        if is_rate_limited(exc):
            return "ratelimited"
        if err in _TRANSIENT or exc.response.status_code >= 500:
            return "transient"
        return "refused"
    if isinstance(exc, OSError):  # connection refused/reset, timeouts
        return "transient"
    return "refused"


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

"""Slack messages that matter are delivered, not dropped: they wait their turn and are retried.

A run's parent message, its final result, its status marks (✅/❌, cancelled, running) and
error replies are what a person reads to know what happened; losing one to a busy Slack
leaves a finished run saying "Running" or a run that never started. So each is sent through
:func:`deliver`: the call waits for its turn in the workspace's shared budget and after any
429 (bot/slack/ratelimit/), and transient failures (5xx, timeouts, connection errors) are
tried again with backoff, for up to ``core.timings.SLACK_DELIVERY_PATIENCE_S`` in all. Then
it is given up: logged with the run id (and what it was) and the error raised to the caller,
which decides what the person sees.

Progress (streamed words) does not come here: it is coalesced instead (bot/slack/progress.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from slack_sdk.errors import SlackApiError

from bot.slack.ratelimit.budget import patience
from bot.slack.ratelimit.paced import is_rate_limited
from core.timings import SLACK_DELIVERY_PATIENCE_S

log = logging.getLogger(__name__)

T = TypeVar("T")

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
_TRANSIENT = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}


def is_transient(exc: Exception) -> bool:
    """Worth trying again: Slack busy or briefly broken, not a refusal."""
    if isinstance(exc, SlackApiError):
        return is_rate_limited(exc) or exc.response.get("error") in _TRANSIENT or (exc.response.status_code or 0) >= 500
    return isinstance(exc, OSError)


def deliver(
    send: Callable[[], T], *, what: str, run_id: str | None = None, patience_s: float = SLACK_DELIVERY_PATIENCE_S
) -> T:
    """``send()`` (one Slack call) until it is delivered or ``patience_s`` has passed; a
    refusal (not transient) is raised at once, as is the last error once time is up."""
    deadline = time.monotonic() + patience_s
    delay = BACKOFF_FIRST_S
    tries = 0
    while True:
        tries += 1
        try:
            with patience(max(0.0, deadline - time.monotonic())):
                return send()
        except Exception as exc:
            left = deadline - time.monotonic()
            if not is_transient(exc):
                raise
            if left <= 0:
                log.error(
                    "gave up delivering %s of run %s to Slack after %d tries in %.0fs: %s",
                    what,
                    run_id or "-",
                    tries,
                    patience_s,
                    exc,
                )
                raise
            pause = min(delay, left) if not is_rate_limited(exc) else min(0.5, left)
            log.info("delivering %s of run %s: %s; trying again in %.1fs", what, run_id or "-", exc, pause)
            time.sleep(pause)
            delay = min(delay * 2, BACKOFF_MAX_S)

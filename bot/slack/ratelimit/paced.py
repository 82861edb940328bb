"""A WebClient that takes a token from the shared budget before every Web API call.

Why a subclass overriding ``api_call``: every method of slack_sdk's WebClient
(``chat_postMessage``, ``views_open``...) goes through ``api_call``, so this is the one
place that sees each call before it is sent, with its method name and channel. slack_sdk's
``RetryHandler`` runs only after a response, so it can neither pace a call nor make another
process wait; the client here does both:

- before sending: wait for a token (bot/slack/ratelimit/budget.py), as long as the caller's
  patience allows, else raise :class:`Throttled` (a 429 like Slack's own, so callers handle
  both the same way);
- on a 429: write its ``Retry-After`` to Redis, which holds back every caller of that
  method for that workspace in every process, count it for /healthz, and try again after
  it when the caller's patience allows.

Calls without a token (``oauth.v2.access``) are not paced: they belong to no workspace.
"""

from __future__ import annotations

import copy
import logging
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

from bot.slack.ratelimit import stats
from bot.slack.ratelimit.budget import Budget, BudgetExhausted, current_patience, is_progress, workspace_key

log = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER_S = 1.0  # a 429 without Retry-After (Slack always sends one)


class Throttled(SlackApiError):
    """The call was not sent: its turn would come later than the caller can wait."""

    def __init__(self, client: WebClient, method: str, wait: float) -> None:
        response = SlackResponse(
            client=client,
            http_verb="POST",
            api_url=f"{client.base_url}{method}",
            req_args={},
            data={"ok": False, "error": "ratelimited"},
            headers={"Retry-After": str(max(1, round(wait)))},
            status_code=429,
        )
        super().__init__(f"Slack budget for {method} exhausted; next turn in {wait:.1f}s", response)
        self.wait = wait


def retry_after(exc: Exception) -> float | None:
    """The ``Retry-After`` of a 429 (seconds), or None."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return float(value[0] if isinstance(value, list) else value) if value is not None else None
    except ValueError:
        return None


def is_rate_limited(exc: Exception) -> bool:
    """Slack's 429, or our own budget saying not yet."""
    return isinstance(exc, SlackApiError) and (
        exc.response.status_code == 429 or exc.response.get("error") == "ratelimited"
    )


def _channel(kwargs: dict[str, Any]) -> str | None:
    for part in ("json", "data", "params"):
        value = (kwargs.get(part) or {}).get("channel")
        if value:
            return str(value)
    return None


class PacedWebClient(WebClient):
    """A WebClient on the shared budget (see the module docstring)."""

    def __init__(self, *args: Any, budget: Budget, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget

    def __deepcopy__(self, memo: dict[int, Any]) -> PacedWebClient:
        """Bolt deep-copies a request's client in places; the copy shares the budget (it holds
        a Redis connection pool, which neither can nor should be copied)."""
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            setattr(clone, key, value if key == "budget" else copy.deepcopy(value, memo))
        return clone

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:  # type: ignore[override]
        if not self.token:
            return super().api_call(api_method, **kwargs)
        workspace, channel = workspace_key(self.token), _channel(kwargs)
        deadline = time.monotonic() + current_patience()
        while True:
            try:
                self.budget.wait_turn(workspace, api_method, channel)
            except BudgetExhausted as exc:
                raise Throttled(self, api_method, exc.wait) from None
            try:
                return super().api_call(api_method, **kwargs)
            except SlackApiError as exc:
                if exc.response.status_code != 429:
                    raise
                wait = retry_after(exc) or DEFAULT_RETRY_AFTER_S
                self.budget.hold(workspace, api_method, wait)
                self._count(api_method)
                log.info("Slack said 429 to %s; holding it %.0fs for the workspace", api_method, wait)
                if is_progress() or time.monotonic() + wait > deadline:
                    raise

    def _count(self, method: str) -> None:
        try:
            stats.count_429(self.budget.redis, method)
        except Exception:  # noqa: BLE001 - a counter must not fail a call
            log.debug("could not count a 429 of %s", method)

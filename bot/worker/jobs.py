"""What the worker adds to each run: the Slack thread's reporter, the admins' notice when the
workspace's spend nears its daily limit, and the rule of what its read_artifact tool may return
(the requester's Sight from Slack). The RQ job itself is core.runs.job; it finds these factories
through the ``pipebot.reporters`` and ``pipebot.read_rules`` entry points (pyproject.toml), so
plain ``rq worker`` has them too."""

from __future__ import annotations

from decimal import Decimal

from core.context import AppContext
from core.reporter import DeferredReporter, Reporter
from core.visibility import ReadRule


class SlackReporter(DeferredReporter):
    """The run's Slack thread (when it has one, built from the claimed run: see
    core.reporter.DeferredReporter), plus the workspace's admins for the daily limit notice,
    whether or not the run itself has a thread (a CLI run spends too)."""

    def __init__(self, ctx: AppContext) -> None:
        from bot.slack.reporter_factory import slack_reporter_from_info  # preloaded by the worker before it forks

        super().__init__(lambda info: slack_reporter_from_info(ctx, info))
        self._ctx = ctx

    def daily_limit_near(self, team_id: str, spent: Decimal, limit: Decimal) -> None:
        from bot.slack.limit_notice import notify_admins

        notify_admins(self._ctx, team_id, spent, limit)

    def tell_user(self, team_id: str, user_id: str, text: str) -> None:
        from bot.slack.client import client_for

        client_for(self._ctx, team_id).chat_postMessage(channel=user_id, text=text)


def slack_thread_reporter(ctx: AppContext) -> Reporter:
    return SlackReporter(ctx)


def slack_read_rule(ctx: AppContext) -> ReadRule:
    """The read_artifact rule from Slack's membership (bot/slack/read_rule.py)."""
    from bot.slack.read_rule import SlackReadRule

    return SlackReadRule(ctx)

"""What the worker adds to each run: the Slack thread's reporter, and the admins' notice when
the workspace's spend nears its daily limit. The RQ job itself is core.runs.job; it finds
this factory through the ``pipebot.reporters`` entry point (pyproject.toml), so plain
``rq worker`` posts to Slack too."""

from __future__ import annotations

from decimal import Decimal

from core.context import AppContext
from core.reporter import DeferredReporter, Reporter


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


def slack_thread_reporter(ctx: AppContext) -> Reporter:
    return SlackReporter(ctx)

"""What the worker adds to each run: the Slack thread's reporter. The RQ job itself is
core.runs.job; it finds this factory through the ``pipebot.reporters`` entry point
(pyproject.toml), so plain ``rq worker`` posts to Slack too."""

from __future__ import annotations

from core.context import AppContext
from core.reporter import DeferredReporter, Reporter


def slack_thread_reporter(ctx: AppContext) -> Reporter:
    """The Slack thread when the run has one, built from the claimed run (see
    core.reporter.DeferredReporter)."""
    from bot.slack.reporter_factory import slack_reporter_from_info  # preloaded by the worker before it forks

    return DeferredReporter(lambda info: slack_reporter_from_info(ctx, info))

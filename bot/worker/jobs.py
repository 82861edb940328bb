"""What the worker adds to each run: the Slack thread's reporter, and the rule of what its
read_artifact tool may return (the requester's Sight from Slack). The RQ job itself is
core.runs.job; it finds these factories through the ``pipebot.reporters`` and
``pipebot.read_rules`` entry points (pyproject.toml), so plain ``rq worker`` has them too."""

from __future__ import annotations

from core.context import AppContext
from core.reporter import DeferredReporter, Reporter
from core.visibility import ReadRule


def slack_thread_reporter(ctx: AppContext) -> Reporter:
    """The Slack thread when the run has one, built from the claimed run (see
    core.reporter.DeferredReporter)."""
    from bot.slack.reporter_factory import slack_reporter_from_info  # preloaded by the worker before it forks

    return DeferredReporter(lambda info: slack_reporter_from_info(ctx, info))


def slack_read_rule(ctx: AppContext) -> ReadRule:
    """The read_artifact rule from Slack's membership (bot/slack/read_rule.py)."""
    from bot.slack.read_rule import SlackReadRule

    return SlackReadRule(ctx)

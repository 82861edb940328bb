"""The RQ job. Plain `rq worker pipebot` can run it too: the context is then built from the
environment on first use in the work horse.

A run first takes one of its workspace's slots (fair share); when all are in use it goes
back to the end of the queue, as an RQ retry, and other workspaces' runs go ahead."""

from __future__ import annotations

import logging

from rq import Retry

from core.context import AppContext, secret_keys
from core.events import RedisEventReporter
from core.reporter import DeferredReporter, Reporter, RunOutcome, SafeReporter
from core.runs.executor import execute
from core.runs.fair_share import WorkspaceSlot
from core.settings import ConfigError, load_settings

log = logging.getLogger(__name__)

_ctx: AppContext | None = None


def set_context(ctx: AppContext) -> None:
    """The worker builds the context before forking; engines and Redis pools reset in the child."""
    global _ctx
    _ctx = ctx


def context() -> AppContext:
    global _ctx
    if _ctx is None:
        settings = load_settings()
        if not settings.DATABASE_URL or not settings.REDIS_URL:
            raise ConfigError("DATABASE_URL and REDIS_URL must be set for a worker started with `rq worker`")
        _ctx = AppContext.create(settings, settings.DATABASE_URL, settings.REDIS_URL, secret_keys(settings, settings.PIPEBOT_DATA_DIR))
    return _ctx


def reporters_for(ctx: AppContext) -> list[Reporter]:
    """Redis events for `pipebot run` and the web; the Slack thread when the run has one
    (built from the claimed run, see core.reporter.DeferredReporter)."""
    from bot.slack.reporter import slack_reporter_from_info  # preloaded by the worker before it forks

    return [RedisEventReporter(ctx.redis), DeferredReporter(lambda info: slack_reporter_from_info(ctx, info))]


# How long a job waits for its workspace's slot before going to the back of the queue, so
# that other workspaces' runs behind it go ahead (see core.runs.fair_share).
SLOT_WAIT_S = 1.0
WAIT_TURNS = 1_000_000  # RQ counts each trip to the back of the queue as a retry


def execute_run_job(team_id: str, run_id: str) -> str | Retry | None:
    ctx = context()
    slot = WorkspaceSlot(ctx.redis, team_id, run_id, ctx.settings.PIPEBOT_WORKSPACE_CONCURRENCY)
    if not slot.wait(SLOT_WAIT_S):
        log.info("run %s waits its turn: its workspace has every slot in use", run_id)
        return Retry(max=WAIT_TURNS)
    try:
        outcome: RunOutcome | None = execute(ctx, team_id, run_id, SafeReporter(*reporters_for(ctx)))
    finally:
        slot.release()
    return outcome.status if outcome else None

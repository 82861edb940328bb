"""The RQ job that runs one pipeline run. ``enqueue`` names it, so any RQ worker on the
queue runs it: ``pipebot worker``, and plain ``rq worker QUEUE``, which starts no pipebot
code of its own (the context is then built from the environment on first use).

The job reports each run to Redis events (``pipebot run`` and the web follow those) and to
whatever reporters the installed surfaces add, such as the Slack thread. core must not know
those surfaces, and plain ``rq worker`` gives them no start-up hook to register in, so a
surface declares a factory as a package entry point in the group ``pipebot.reporters``
(pyproject.toml): package metadata is the one registry every worker reads without any
start-up code of ours. A factory takes the context and returns one Reporter.

A run first takes one of its workspace's slots (fair share, core.runs.fair_share); when its
workspace is at its share and another workspace's runs wait, it goes back to the end of
the queue, as an RQ retry, and those runs go ahead."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from importlib.metadata import entry_points

from rq import Retry

from core.context import AppContext, secret_keys
from core.events import RedisEventReporter
from core.reporter import Reporter, RunOutcome, SafeReporter
from core.runs.executor import execute
from core.runs.fair_share import WorkspaceSlot
from core.settings import ConfigError, load_settings
from core.timings import SLOT_WAIT_S
from core.visibility import ArtifactGate, ReadRule
from storage.repos import runs as runs_repo

log = logging.getLogger(__name__)

REPORTER_GROUP = "pipebot.reporters"
ReporterFactory = Callable[[AppContext], Reporter]
#: The read_artifact tool's rule comes the same way (core/visibility.ReadRule): core knows no
#: Slack, and only the surface that knows people can say what a requester may see.
READ_RULE_GROUP = "pipebot.read_rules"
ReadRuleFactory = Callable[[AppContext], ReadRule]

# A job that waits SLOT_WAIT_S (core/timings.py) for its workspace's slot goes to the back of
# the queue, so that other workspaces' runs behind it go ahead (see core.runs.fair_share).
WAIT_TURNS = 1_000_000  # RQ counts each trip to the back of the queue as a retry

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
        _ctx = AppContext.create(
            settings, settings.DATABASE_URL, settings.REDIS_URL, secret_keys(settings, settings.PIPEBOT_DATA_DIR)
        )
    return _ctx


@functools.cache
def reporter_factories() -> tuple[ReporterFactory, ...]:
    """The surfaces' reporter factories, loaded once per process (a worker calls this before
    it forks, so its work horses do not import them again for every job)."""
    factories: list[ReporterFactory] = [ep.load() for ep in entry_points(group=REPORTER_GROUP)]
    if not factories:
        log.warning("no reporter is installed in %r: runs report through Redis events only", REPORTER_GROUP)
    return tuple(factories)


@functools.cache
def read_rule_factories() -> tuple[ReadRuleFactory, ...]:
    """The surfaces' read_artifact rules (none installed: core/visibility.unattended_gate)."""
    return tuple(ep.load() for ep in entry_points(group=READ_RULE_GROUP))


def read_rule_for(ctx: AppContext) -> ReadRule | None:
    """Every installed rule must let a run read an artifact; None when none is installed."""
    rules = [factory(ctx) for factory in read_rule_factories()]
    if not rules:
        return None
    if len(rules) == 1:
        return rules[0]

    def every(team_id: str, run_channel: str | None, requester: str | None) -> ArtifactGate:
        gates = [rule(team_id, run_channel, requester) for rule in rules]
        return lambda channel: all(gate(channel) for gate in gates)

    return every


def reporters_for(ctx: AppContext) -> list[Reporter]:
    return [RedisEventReporter(ctx.redis), *(factory(ctx) for factory in reporter_factories())]


def _waiting_elsewhere(ctx: AppContext, team_id: str) -> list[str]:
    """The other workspaces with runs waiting to start (fair share asks when at its share)."""
    with ctx.sessions() as s:
        return runs_repo.teams_with_queued_runs(s, team_id)


def execute_run_job(team_id: str, run_id: str) -> str | Retry | None:
    ctx = context()
    slot = WorkspaceSlot(
        ctx.redis,
        team_id,
        run_id,
        ctx.settings.PIPEBOT_WORKSPACE_CONCURRENCY,
        waiting_elsewhere=functools.partial(_waiting_elsewhere, ctx, team_id),
    )
    if not slot.wait(SLOT_WAIT_S):
        log.info("run %s waits its turn: its workspace is at its share and others' runs wait", run_id)
        return Retry(max=WAIT_TURNS)
    try:
        outcome: RunOutcome | None = execute(
            ctx, team_id, run_id, SafeReporter(*reporters_for(ctx)), read_rule=read_rule_for(ctx)
        )
    finally:
        slot.release()
    return outcome.status if outcome else None

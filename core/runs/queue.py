"""Starting runs: create (queued) and enqueue one RQ job. Rescuing runs whose job or worker
was lost is core/runs/maintenance.py."""

from __future__ import annotations

import logging
import uuid

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue

from core import messages
from core import pipelines as pipelines_mod
from core.context import AppContext
from core.errors import NotFound, QueueUnavailable, RunRejected
from core.preflight import check_pipeline
from core.settings import Settings
from core.text import clean_text
from core.timings import JOB_FAILURE_TTL_S, JOB_RESULT_TTL_S, JOB_TIMEOUT_MARGIN_S
from storage.db import transaction
from storage.models import Run
from storage.repos import runs as run_repo

log = logging.getLogger(__name__)

# The job by its import path, as RQ stores it: core.runs.job imports the executor, which
# imports this module (branches enqueue too), so importing the function here would be a cycle.
JOB_FUNC = "core.runs.job.execute_run_job"

MAX_ATTEMPTS = 3
INPUT_MAX = 100_000


def job_id(run_id: uuid.UUID | str, attempt: int = 0) -> str:
    return f"run-{run_id}" if attempt == 0 else f"run-{run_id}-retry{attempt}"


def run_queue(ctx: AppContext) -> Queue:
    """The deployment's one RQ queue."""
    return Queue(ctx.settings.PIPEBOT_QUEUE, connection=ctx.redis)


def job_timeout_s(settings: Settings) -> int:
    return settings.run_time_limit_s + JOB_TIMEOUT_MARGIN_S


def enqueue(ctx: AppContext, team_id: str, run_id: uuid.UUID | str, attempt: int = 0) -> None:
    """The job id derives from the run id, so enqueueing twice runs once."""
    q = run_queue(ctx)
    jid = job_id(run_id, attempt)
    if q.fetch_job(jid) is not None:
        return
    q.enqueue(
        JOB_FUNC,
        team_id,
        str(run_id),
        job_id=jid,
        job_timeout=job_timeout_s(ctx.settings),
        result_ttl=JOB_RESULT_TTL_S,
        failure_ttl=JOB_FAILURE_TTL_S,
        description=f"pipebot run {run_id}",
    )


def enqueue_new_run(ctx: AppContext, team_id: str, run: Run) -> Run:
    """Enqueue a run just committed; a Redis outage leaves it queued in PostgreSQL (the workers'
    maintenance enqueues it once Redis is back) and raises QueueUnavailable carrying it."""
    try:
        enqueue(ctx, team_id, run.id)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("run %s kept queued: Redis is unreachable (%s)", run.id, type(exc).__name__)
        raise QueueUnavailable(run) from None
    return run


def start_run(
    ctx: AppContext,
    team_id: str,
    pipeline_name: str,
    input_text: str,
    *,
    requested_by: str | None = None,
    source: str = "cli",
    channel_id: str | None = None,
    thread_ts: str | None = None,
    recipient_team_id: str | None = None,
    dedupe_key: str | None = None,
    preflight: bool = False,
    run_id: uuid.UUID | None = None,
) -> Run:
    """Create the run row and enqueue it. A repeated `dedupe_key` (Slack's retries) returns the first run.

    ``run_id``: the id to give the run, for a caller that shows it before the run exists
    (Slack's parent message carries a Cancel button naming it).

    ``preflight``: refuse (RunRejected) a pipeline that cannot run now, before any run exists;
    for callers that did not check already (Slack checks before it posts the thread).

    Raises QueueUnavailable (carrying the run) when Redis cannot be reached: the run stays
    queued in PostgreSQL and the workers' maintenance enqueues it once Redis is back."""
    text = clean_text(input_text or "").strip()
    if not text:
        raise RunRejected("bad_input", f"Give the run some input: `{messages.COMMAND} run NAME your text…`")
    if len(text) > INPUT_MAX:
        raise RunRejected("bad_input", f"The input is too long ({len(text):,} characters; the limit is {INPUT_MAX:,}).")
    with transaction(ctx.sessions) as s:
        if dedupe_key and (prior := run_repo.get_run_by_dedupe_key(s, team_id, dedupe_key)) is not None:
            return prior
        try:
            pipeline = pipelines_mod.find(s, team_id, clean_text(pipeline_name or ""))
        except NotFound as exc:
            raise RunRejected("not_found", str(exc)) from None
        if preflight and (problem := check_pipeline(s, ctx, team_id, pipeline.id)) is not None:
            raise problem
        run = run_repo.create_run(
            s,
            team_id,
            pipeline,
            text,
            requested_by=requested_by,
            source=source,
            channel_id=channel_id,
            thread_ts=thread_ts,
            recipient_team_id=recipient_team_id or team_id,
            dedupe_key=dedupe_key,
            **({"id": run_id} if run_id is not None else {}),
        )
    return enqueue_new_run(ctx, team_id, run)

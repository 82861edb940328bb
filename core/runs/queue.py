"""Starting runs and keeping them honest: create (queued), enqueue one RQ job, and reap runs
whose worker died so none stays "running" forever."""

from __future__ import annotations

import logging
import os
import uuid
from datetime import datetime, timedelta, timezone

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError
from rq import Queue
from sqlalchemy import func, update

from core import pipelines as pipelines_mod
from core.context import AppContext
from core.errors import NotFound, QueueUnavailable, RunRejected
from core.text import clean_text
from storage import repos
from storage.db import transaction
from storage.models import Run

log = logging.getLogger(__name__)

QUEUE = os.environ.get("PIPEBOT_QUEUE", "pipebot")  # one deployment, one queue; tests use their own
JOB_FUNC = "bot.worker.jobs.execute_run_job"
# A run that takes longer is stopped and failed (operators may lower it; tests do).
RUN_TIME_LIMIT_S = int(float(os.environ.get("PIPEBOT_RUN_TIME_LIMIT_SECONDS", "900")))
JOB_TIMEOUT_S = RUN_TIME_LIMIT_S + 120
# Tunable for operators (and for tests that kill workers without waiting half a minute).
HEARTBEAT_S = float(os.environ.get("PIPEBOT_HEARTBEAT_SECONDS", "5"))      # the job touches heartbeat_at
STALE_AFTER_S = float(os.environ.get("PIPEBOT_STALE_AFTER_SECONDS", "30"))  # older: its worker is gone
QUEUED_STALE_AFTER_S = 600      # a queued run no worker picked up (e.g. Redis lost the job)
MAX_ATTEMPTS = 3
INPUT_MAX = 100_000


def job_id(run_id: uuid.UUID | str, attempt: int = 0) -> str:
    return f"run-{run_id}" if attempt == 0 else f"run-{run_id}-retry{attempt}"


def enqueue(redis: Redis, team_id: str, run_id: uuid.UUID | str, attempt: int = 0) -> None:
    """The job id derives from the run id, so enqueueing twice runs once."""
    q = Queue(QUEUE, connection=redis)
    jid = job_id(run_id, attempt)
    if q.fetch_job(jid) is not None:
        return
    q.enqueue(JOB_FUNC, team_id, str(run_id), job_id=jid, job_timeout=JOB_TIMEOUT_S,
              result_ttl=3600, failure_ttl=7 * 86400, description=f"pipebot run {run_id}")


def start_run(ctx: AppContext, team_id: str, pipeline_name: str, input_text: str, *,
              requested_by: str | None = None, source: str = "cli", channel_id: str | None = None,
              thread_ts: str | None = None, recipient_team_id: str | None = None,
              dedupe_key: str | None = None) -> Run:
    """Create the run row and enqueue it. A repeated `dedupe_key` (Slack's retries) returns the first run.

    Raises QueueUnavailable (carrying the run) when Redis cannot be reached: the run stays
    queued in PostgreSQL and the workers' maintenance enqueues it once Redis is back."""
    text = clean_text(input_text or "").strip()
    if not text:
        raise RunRejected("bad_input", "Give the run some input: `/pipebot run NAME your text…`")
    if len(text) > INPUT_MAX:
        raise RunRejected("bad_input", f"The input is too long ({len(text):,} characters; the limit is {INPUT_MAX:,}).")
    with transaction(ctx.sessions) as s:
        if dedupe_key and (prior := repos.get_run_by_dedupe_key(s, team_id, dedupe_key)) is not None:
            return prior
        try:
            pipeline = pipelines_mod.find(s, team_id, clean_text(pipeline_name or ""))
        except NotFound as exc:
            raise RunRejected("not_found", str(exc)) from None
        run = repos.create_run(s, team_id, pipeline, text, requested_by=requested_by, source=source,
                               channel_id=channel_id, thread_ts=thread_ts,
                               recipient_team_id=recipient_team_id or team_id, dedupe_key=dedupe_key)
    try:
        enqueue(ctx.redis, team_id, run.id)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        log.warning("run %s kept queued: Redis is unreachable (%s)", run.id, type(exc).__name__)
        raise QueueUnavailable(run) from None
    return run


def attach_thread(ctx: AppContext, team_id: str, run_id: uuid.UUID, channel_id: str, thread_ts: str) -> None:
    with transaction(ctx.sessions) as s:
        s.execute(update(Run).where(Run.team_id == team_id, Run.id == run_id)
                  .values(channel_id=channel_id, thread_ts=thread_ts))


def reap_stale_runs(ctx: AppContext, *, now: datetime | None = None) -> list[str]:
    """Requeue runs whose worker stopped heartbeating; fail them once attempts are spent.

    Safe to run from many processes at once: each decision is a conditional UPDATE.
    """
    now = now or datetime.now(timezone.utc)
    touched: list[str] = []
    with transaction(ctx.sessions) as s:
        stale = repos.stale_running_runs(s, now - timedelta(seconds=STALE_AFTER_S))
    for team_id, run_id in stale:
        with transaction(ctx.sessions) as s:
            run = repos.get_run(s, team_id, run_id, lock=True)
            if run is None:
                continue
            beat = run.heartbeat_at or run.created_at
            if run.status == "queued":
                if beat >= now - timedelta(seconds=QUEUED_STALE_AFTER_S) or _job_pending(ctx, run):
                    continue
            elif run.status != "running" or beat >= now - timedelta(seconds=STALE_AFTER_S):
                continue
            if run.attempts >= MAX_ATTEMPTS:
                run.status = "failed"
                run.error_kind = "worker_lost"
                run.error_message = (f"The worker running this pipeline stopped {run.attempts} times; "
                                     "the run was given up. Try running it again.")
                run.finished_at = func.now()
                touched.append(str(run_id))
                requeue = None
            else:
                run.status = "queued"
                run.heartbeat_at = func.now()
                requeue = run.attempts
                touched.append(str(run_id))
        if requeue is not None:
            log.warning("run %s lost its worker; requeued (attempt %d)", run_id, requeue + 1)
            enqueue(ctx.redis, team_id, run_id, attempt=requeue)
        else:
            log.warning("run %s lost its worker too often; marked failed", run_id)
            _finish_failed_artifact(ctx, team_id, run_id)
    return touched


def _job_pending(ctx: AppContext, run: Run) -> bool:
    q = Queue(QUEUE, connection=ctx.redis)
    return any(q.fetch_job(job_id(run.id, a)) is not None for a in range(run.attempts + 1))


def _finish_failed_artifact(ctx: AppContext, team_id: str, run_id: uuid.UUID) -> None:
    from core.runs.executor import write_outcome  # the executor owns the artifact format

    write_outcome(ctx, team_id, run_id)

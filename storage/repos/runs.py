"""Runs and their steps: creating and reading them, and every statement the executor and
the reaper use to move a run along (claim, heartbeat, step start and finish, close).

A forked work horse pays a round trip per statement, so each of these is one statement,
and the executor composes them into as few transactions as it can."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Engine, Integer, Row, RowMapping, Table, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from storage.models import Pipeline, Run, RunStep
from storage.repos.artifacts import ChannelScope
from storage.repos.common import parse_uuid
from storage.repos.workspaces import ensure_workspace
from storage.states import FINISHED, RunStatus, StepStatus


def create_run(s: Session, team_id: str, pipeline: Pipeline, input_text: str, **fields: Any) -> Run:
    ensure_workspace(s, team_id)
    run = Run(
        team_id=team_id,
        pipeline_id=pipeline.id,
        pipeline_name=pipeline.name,
        input=input_text,
        status=RunStatus.QUEUED,
        **fields,
    )
    s.add(run)
    s.flush()
    return run


def get_run(s: Session, team_id: str, run_id: uuid.UUID | str, *, lock: bool = False) -> Run | None:
    rid = parse_uuid(run_id)
    if rid is None:
        return None
    stmt = select(Run).where(Run.team_id == team_id, Run.id == rid)
    if lock:
        stmt = stmt.with_for_update()
    return s.scalar(stmt)


def get_run_by_dedupe_key(s: Session, team_id: str, key: str) -> Run | None:
    return s.scalar(select(Run).where(Run.team_id == team_id, Run.dedupe_key == key))


def latest_runs(s: Session, team_id: str, limit: int = 10, *, scope: ChannelScope | None = None) -> Sequence[Run]:
    """The newest runs; ``scope`` (core/visibility.Sight.scope) keeps those of the conversations
    one person may see, as for artifact lists. None: every conversation's (no person reads it)."""
    stmt = select(Run).where(Run.team_id == team_id)
    if scope is not None:
        within = Run.channel_id.in_(sorted(scope.channels))
        stmt = stmt.where(or_(within, Run.channel_id.is_(None)) if scope.unplaced else within)
    return s.scalars(stmt.order_by(Run.created_at.desc()).limit(limit)).all()


def stale_running_runs(s: Session, older_than: datetime) -> Sequence[tuple[str, uuid.UUID]]:
    """(team_id, run id) of running runs whose heartbeat is older than ``older_than``.
    Across workspaces on purpose: maintenance is the deployment's, not a tenant's."""
    rows = s.execute(
        select(Run.team_id, Run.id).where(
            Run.status == RunStatus.RUNNING,
            func.coalesce(Run.heartbeat_at, Run.created_at) < older_than,
        )
    )
    return [(t, i) for t, i in rows]


def add_reused_steps(s: Session, run_id: uuid.UUID, steps: Sequence[Mapping[str, Any]]) -> None:
    """Record the steps a branch takes over from its source artifact as finished, at no cost,
    in one statement: the executor resumes after them as after any finished step, so no
    attempt ever calls a model for them. Each mapping holds position, agent_id,
    agent_snapshot, model, input and output."""
    if not steps:
        return
    rows = [
        {
            "run_id": run_id,
            "status": StepStatus.SUCCEEDED,
            "cost_usd": 0,
            "latency_ms": 0,
            "finished_at": func.now(),
            **{k: st[k] for k in ("position", "agent_id", "agent_snapshot", "model", "input", "output")},
        }
        for st in steps
    ]
    s.execute(pg_insert(RunStep).values(rows))


# ---- the executor's statements ---------------------------------------------------------

_CLAIM = text(
    f"UPDATE runs SET status = '{RunStatus.RUNNING.value}', attempts = attempts + 1, heartbeat_at = now(), "
    "started_at = coalesce(started_at, now()) "
    f"WHERE team_id = :t AND id = :id AND cancel_requested_at IS NULL AND (status = '{RunStatus.QUEUED.value}' OR "
    f"(status = '{RunStatus.RUNNING.value}' AND heartbeat_at < now() - make_interval(secs => :stale))) "
    "RETURNING pipeline_id, pipeline_name, input, requested_by, source, channel_id, thread_ts, recipient_team_id, "
    "branch, thread, origin, EXISTS (SELECT 1 FROM run_files f WHERE f.run_id = runs.id) AS has_files"
)

_HEARTBEAT = text(
    f"UPDATE runs SET heartbeat_at = now() WHERE team_id = :t AND id = :id AND status = '{RunStatus.RUNNING.value}'"
)

_STEP_RESET = {
    "output": None,
    "usage": None,
    "raw_usage": None,
    "cost_usd": None,
    "price_version": None,
    "latency_ms": None,
    "error_kind": None,
    "error_message": None,
    "finished_at": None,
    "tool_calls": None,
}


def claim(s: Session, team_id: str, run_id: uuid.UUID, *, stale_after_s: float) -> RowMapping | None:
    """Take the run if it is queued, or running with a heartbeat older than ``stale_after_s``
    (its worker is gone), and nobody asked to cancel it: one conditional UPDATE, so exactly
    one claimant ever wins and a cancelled run never starts. Returns
    what the executor needs of the run, or None when it is not claimable."""
    return s.execute(_CLAIM, {"t": team_id, "id": run_id, "stale": stale_after_s}).mappings().first()


def set_thread(s: Session, run_id: uuid.UUID, thread: dict[str, Any] | None) -> None:
    """The run's thread context (DESIGN §11) as fetched: ``{"ref", "messages", "left_out"}``."""
    s.execute(
        update(Run).where(Run.id == run_id).values(thread=thread), execution_options={"synchronize_session": False}
    )


def heartbeat(engine: Engine, team_id: str, run_id: uuid.UUID) -> None:
    """Prove the run's worker alive, in a transaction of its own (it runs beside the steps)."""
    with engine.begin() as conn:
        conn.execute(_HEARTBEAT, {"t": team_id, "id": run_id})


def finished_steps(s: Session, run_id: uuid.UUID) -> dict[int, Row[int, str | None, Decimal | None]]:
    """position -> (position, output, cost_usd) of the steps an earlier attempt finished."""
    rows = s.execute(
        select(RunStep.position, RunStep.output, RunStep.cost_usd).where(
            RunStep.run_id == run_id, RunStep.status == StepStatus.SUCCEEDED
        )
    )
    return {r.position: r for r in rows}


def start_step(
    s: Session,
    run_id: uuid.UUID,
    position: int,
    *,
    agent_id: int,
    agent_snapshot: dict[str, Any],
    model: str,
    step_input: str,
) -> int:
    """Record the step as running and return its id; a retry of the step replaces the row its
    failed attempt left (one row per run and position)."""
    return _put_step(s, run_id, position, StepStatus.RUNNING, agent_id, agent_snapshot, model, step_input)


def record_waiting_step(
    s: Session, run_id: uuid.UUID, position: int, *, snapshot: dict[str, Any], step_input: str
) -> int:
    """Record an approval step as waiting for a person (no agent, no model); its id."""
    return _put_step(s, run_id, position, StepStatus.WAITING, None, snapshot, "", step_input)


def _put_step(
    s: Session,
    run_id: uuid.UUID,
    position: int,
    status: StepStatus,
    agent_id: int | None,
    snapshot: dict[str, Any],
    model: str,
    step_input: str,
) -> int:
    """The step's row as it starts (inserted, or an earlier attempt's row reset): its id."""
    fields = {
        "status": status,
        "agent_id": agent_id,
        "agent_snapshot": snapshot,
        "model": model,
        "input": step_input,
    }
    return s.execute(
        pg_insert(RunStep)
        .values(run_id=run_id, position=position, **fields)
        .on_conflict_do_update(
            constraint="uq_run_steps_run_position", set_={**fields, **_STEP_RESET, "started_at": func.now()}
        )
        .returning(RunStep.id)
    ).scalar_one()


def set_waiting(s: Session, team_id: str, run_id: uuid.UUID) -> bool:
    """A running run now waits for a person: it holds no worker, so it has no heartbeat
    (nobody takes it over) and no job (nobody enqueues it). False when someone asked to
    cancel it meanwhile: then it must not wait."""
    row = s.execute(
        update(Run)
        .where(
            Run.team_id == team_id,
            Run.id == run_id,
            Run.status == RunStatus.RUNNING,
            Run.cancel_requested_at.is_(None),
        )
        .values(status=RunStatus.WAITING, heartbeat_at=None)
        .returning(Run.id)
        .execution_options(synchronize_session=False)
    ).first()
    return row is not None


def resume_waiting(s: Session, team_id: str, run_id: uuid.UUID) -> int | None:
    """A waiting run goes back to the queue (its approval was given): its attempts so far
    (the next job's id derives from them), or None when it is not waiting any more."""
    return s.execute(
        update(Run)
        .where(
            Run.team_id == team_id,
            Run.id == run_id,
            Run.status == RunStatus.WAITING,
            Run.cancel_requested_at.is_(None),
        )
        .values(status=RunStatus.QUEUED, heartbeat_at=func.now())
        .returning(Run.attempts)
        .execution_options(synchronize_session=False)
    ).scalar()


def finish_waiting_step(s: Session, run_id: uuid.UUID, position: int, *, output: str) -> bool:
    """An approval step that was approved: finished, with the output the next step gets, at
    no cost (a person is free), so the run's total stays known."""
    row = s.execute(
        update(RunStep)
        .where(RunStep.run_id == run_id, RunStep.position == position, RunStep.status == StepStatus.WAITING)
        .values(
            status=StepStatus.SUCCEEDED,
            output=output,
            cost_usd=0,
            latency_ms=(func.extract("epoch", func.now() - RunStep.started_at) * 1000).cast(Integer),
            finished_at=func.now(),
        )
        .returning(RunStep.id)
        .execution_options(synchronize_session=False)
    ).first()
    return row is not None


def finish_step(s: Session, step_id: int, **values: Any) -> None:
    """Close a step with its status and whatever it produced (output, usage, cost, error)."""
    s.execute(
        update(RunStep).where(RunStep.id == step_id).values(finished_at=func.now(), **values),
        execution_options={"synchronize_session": False},
    )


def fail_running_steps(s: Session, run_id: uuid.UUID, kind: str, message: str) -> None:
    s.execute(
        update(RunStep)
        .where(RunStep.run_id == run_id, RunStep.status == StepStatus.RUNNING)
        .values(status=StepStatus.FAILED, error_kind=kind, error_message=message, finished_at=func.now()),
        execution_options={"synchronize_session": False},
    )


def close(
    s: Session,
    team_id: str,
    run_id: uuid.UUID,
    *,
    status: str,
    output: str | None,
    error_kind: str | None,
    error_message: str | None,
) -> None:
    """End the run; one that already ended keeps how it ended."""
    s.execute(
        update(Run)
        .where(Run.team_id == team_id, Run.id == run_id, Run.status.not_in(tuple(FINISHED)))
        .values(
            status=status, output=output, error_kind=error_kind, error_message=error_message, finished_at=func.now()
        )
        .execution_options(synchronize_session=False)
    )


def steps_of(s: Session, run_id: uuid.UUID) -> Sequence[RunStep]:
    return s.execute(select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.position)).scalars().all()


def set_cost(s: Session, team_id: str, run_id: uuid.UUID, cost_usd: Any) -> Row[Any]:
    """Store what the run cost and return the whole run row as it now is (one statement)."""
    table = cast(Table, Run.__table__)  # a declarative class with __tablename__ maps a Table
    return s.execute(
        update(table)
        .where(table.c.team_id == team_id, table.c.id == run_id)
        .values(cost_usd=cost_usd)
        .returning(*table.c)
    ).one()


def mark_requeued(run: Run) -> None:
    """A locked run whose worker died goes back to the queue (written when the caller commits)."""
    run.status = RunStatus.QUEUED
    run.heartbeat_at = func.now()


def mark_given_up(run: Run, kind: str, message: str) -> None:
    """A locked run is failed for good (written when the caller commits)."""
    run.status = RunStatus.FAILED
    run.error_kind = kind
    run.error_message = message
    run.finished_at = func.now()


# ---- cancel ------------------------------------------------------------------------------

_REQUEST_CANCEL = text(
    "UPDATE runs SET cancel_requested_by = :by, cancel_requested_at = now() "
    f"WHERE team_id = :t AND id = :id AND status IN ('{RunStatus.QUEUED.value}', '{RunStatus.RUNNING.value}', "
    f"'{RunStatus.WAITING.value}') AND cancel_requested_at IS NULL "
    "RETURNING status"
)

_CLOSE_QUEUED_CANCELLED = text(
    f"UPDATE runs SET status = '{RunStatus.FAILED.value}', error_kind = :kind, error_message = :message, finished_at = now() "
    f"WHERE team_id = :t AND id = :id AND status = '{RunStatus.QUEUED.value}' AND cancel_requested_at IS NOT NULL "
    "RETURNING id"
)

_CLOSE_WAITING = text(
    f"UPDATE runs SET status = '{RunStatus.FAILED.value}', error_kind = :kind, error_message = :message, finished_at = now() "
    f"WHERE team_id = :t AND id = :id AND status = '{RunStatus.WAITING.value}' RETURNING id"
)

_CANCEL_REQUESTED = text("SELECT cancel_requested_by FROM runs WHERE team_id = :t AND id = :id")


def request_cancel(s: Session, team_id: str, run_id: uuid.UUID, by: str) -> str | None:
    """Record who asked to cancel an unfinished run, once: the status it had, or None when it
    has finished or a cancel was already asked for (a double click changes nothing)."""
    row = s.execute(_REQUEST_CANCEL, {"t": team_id, "id": run_id, "by": by}).first()
    return str(row[0]) if row else None


def close_cancelled_queued(s: Session, team_id: str, run_id: uuid.UUID, *, kind: str, message: str) -> bool:
    """End a queued run whose cancel was asked for; False when a worker claimed it first."""
    return (
        s.execute(_CLOSE_QUEUED_CANCELLED, {"t": team_id, "id": run_id, "kind": kind, "message": message}).first()
        is not None
    )


def close_waiting(s: Session, team_id: str, run_id: uuid.UUID, *, kind: str, message: str) -> bool:
    """End a run that waits for a person (cancelled, rejected, timed out), and its waiting
    step with it; False when it is not waiting (it went on, or ended, first)."""
    closed = s.execute(_CLOSE_WAITING, {"t": team_id, "id": run_id, "kind": kind, "message": message}).first()
    if closed is None:
        return False
    s.execute(
        update(RunStep)
        .where(RunStep.run_id == run_id, RunStep.status == StepStatus.WAITING)
        .values(status=StepStatus.FAILED, error_kind=kind, error_message=message, finished_at=func.now()),
        execution_options={"synchronize_session": False},
    )
    return True


def cancel_requested_by(engine: Engine, team_id: str, run_id: uuid.UUID) -> str | None:
    """Who asked to cancel the run (None: nobody), in a transaction of its own: the running
    step asks between stream events, beside its own transactions."""
    with engine.connect() as conn:
        return conn.execute(_CANCEL_REQUESTED, {"t": team_id, "id": run_id}).scalar()


# ---- queue positions -----------------------------------------------------------------------


def queue_positions(s: Session, queued_before: datetime, limit: int = 1000) -> list[Row[Any]]:
    """Queued runs with a Slack message, each with ``ahead``: how many runs (of any workspace,
    Slack or not) were queued before it and are still waiting. One statement over the
    partial index ``ix_runs_queued_created``; the deployment has one first-in, first-out
    queue, so that order is the order in which runs start (but see core.runs.cancel for fair
    share). Only runs queued since before ``queued_before`` are returned, oldest first.
    Across workspaces on purpose: the queue is the deployment's."""
    ranked = (
        select(
            Run.id,
            Run.team_id,
            Run.channel_id,
            Run.thread_ts,
            Run.pipeline_name,
            Run.requested_by,
            func.left(Run.input, 400).label("input"),
            Run.created_at,
            (func.row_number().over(order_by=(Run.created_at, Run.id)) - 1).label("ahead"),
        )
        .where(Run.status == RunStatus.QUEUED, Run.cancel_requested_at.is_(None))
        .subquery()
    )
    rows = s.execute(
        select(ranked)
        .where(ranked.c.channel_id.is_not(None), ranked.c.thread_ts.is_not(None), ranked.c.created_at < queued_before)
        .order_by(ranked.c.created_at, ranked.c.id)
        .limit(limit)
    )
    return list(rows)


def is_queued(s: Session, team_id: str, run_id: uuid.UUID) -> bool:
    return s.scalar(select(Run.status).where(Run.team_id == team_id, Run.id == run_id)) == RunStatus.QUEUED


def teams_with_queued_runs(s: Session, other_than: str, limit: int = 100) -> list[str]:
    """Workspaces other than ``other_than`` that have a run waiting to start (fair share asks
    this only when a workspace is at its share). Team ids only, across workspaces on purpose,
    as ``queue_positions``; one statement over the partial index ``ix_runs_queued_created``."""
    rows = s.scalars(
        select(Run.team_id)
        .where(Run.status == RunStatus.QUEUED, Run.cancel_requested_at.is_(None), Run.team_id != other_than)
        .distinct()
        .limit(limit)
    )
    return list(rows)

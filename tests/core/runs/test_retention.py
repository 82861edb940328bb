"""Retention (core/runs/retention.py) on real PostgreSQL: finished runs and artifacts older than
PIPEBOT_RETENTION_DAYS are deleted in batches, with their versions, feedback and steps; runs
still queued, running or waiting stay however old; a branch of a purged artifact keeps
working; a real worker's maintenance does it."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import text

from core.runs.retention import purge_expired
from storage.db import transaction
from storage.repos import artifact_versions as versions
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from storage.states import RunStatus
from tests.support.finished_runs import finished_run
from tests.support.runs import drain, make_agent, make_pipeline
from tests.support.viewer_data import branch, save_version, vote

TEAM = "T1"


def _age(ctx, days: int, *, run_id: str, artifact_id: str | None = None) -> None:
    with transaction(ctx.sessions) as s:
        s.execute(
            text("UPDATE runs SET created_at = now() - make_interval(days => :d) WHERE id = :r"),
            {"d": days, "r": run_id},
        )
        if artifact_id:
            s.execute(
                text("UPDATE artifacts SET created_at = now() - make_interval(days => :d) WHERE id = :a"),
                {"d": days, "a": artifact_id},
            )


def _unfinished(ctx, pipeline_id: int, status: str) -> str:
    with transaction(ctx.sessions) as s:
        run = run_repo.create_run(s, TEAM, pipeline_repo.get_pipeline(s, TEAM, pipeline_id), f"still {status}")
        run.status = status
        run_id = str(run.id)
    _age(ctx, 400, run_id=run_id)
    return run_id


def _ids(ctx, sql: str) -> set[str]:
    with transaction(ctx.sessions) as s:
        return {str(r[0]) for r in s.execute(text(sql))}


@pytest.fixture
def world(ctx):
    pipeline = make_pipeline(ctx, TEAM, "Essay", [make_agent(ctx, TEAM, "Drafter")])
    old = [finished_run(ctx, TEAM, pipeline, f"old {i}") for i in range(5)]
    for run in old:
        _age(ctx, 40, run_id=run.run_id, artifact_id=run.artifact_id)
    save_version(ctx, TEAM, old[0].artifact_id, 1, {"output": "edited"})
    vote(ctx, TEAM, old[0].artifact_id, 1, "U1", 1)
    young = finished_run(ctx, TEAM, pipeline, "young")
    _age(ctx, 5, run_id=young.run_id, artifact_id=young.artifact_id)
    child = finished_run(ctx, TEAM, pipeline, "a branch of an old run")
    branch(ctx, TEAM, child.artifact_id, old[0].artifact_id, version=1, step=1)
    busy = [_unfinished(ctx, pipeline, s) for s in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING)]
    return {"old": old, "young": young, "child": child, "busy": busy}


def test_old_finished_runs_are_purged_in_batches_and_nothing_else(ctx, world):
    assert not purge_expired(ctx).any  # retention unset: nothing is purged
    assert len(_ids(ctx, "SELECT id FROM artifacts")) == 7

    ctx30 = dataclasses.replace(ctx, settings=ctx.settings.model_copy(update={"PIPEBOT_RETENTION_DAYS": 30}))
    purged = purge_expired(ctx30, batch=2)
    assert (purged.artifacts, purged.runs) == (5, 5)

    left_runs = _ids(ctx, "SELECT id FROM runs")
    assert left_runs == {world["young"].run_id, world["child"].run_id, *world["busy"]}
    assert _ids(ctx, "SELECT id FROM artifacts") == {world["young"].artifact_id, world["child"].artifact_id}
    assert not _ids(ctx, "SELECT id FROM artifact_versions") and not _ids(
        ctx, "SELECT artifact_id FROM artifact_feedback"
    )
    with transaction(ctx.sessions) as s:
        child = versions.latest_version(s, TEAM, world["child"].artifact_id)
        parent = s.execute(
            text("SELECT parent_artifact_id FROM artifacts WHERE id = :a"), {"a": world["child"].artifact_id}
        ).scalar()
    assert child is not None and child.content["output"] == "a branch of an old run" and parent is None

    assert not purge_expired(ctx30).any  # a second pass finds nothing


def test_a_workers_maintenance_purges_with_retention_set(ctx, worker_env):
    pipeline = make_pipeline(ctx, TEAM, "Essay", [make_agent(ctx, TEAM, "Drafter")])
    old, young = finished_run(ctx, TEAM, pipeline, "old"), finished_run(ctx, TEAM, pipeline, "young")
    _age(ctx, 40, run_id=old.run_id, artifact_id=old.artifact_id)
    drain({**worker_env, "PIPEBOT_RETENTION_DAYS": "30"})  # its first maintenance round purges
    assert _ids(ctx, "SELECT id FROM artifacts") == {young.artifact_id}
    assert _ids(ctx, "SELECT id FROM runs") == {young.run_id}

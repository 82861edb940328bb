"""Migration 0007 on a database that already holds runs: the CHECK constraints follow the
Enums of storage/states.py (every RunStatus is accepted, ``waiting`` included; a step's
status is a StepStatus), and upgrade, downgrade and upgrade again keep every row."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from storage.migrate import downgrade, upgrade
from storage.states import RunStatus, StepStatus
from tests.support.scratch_db import empty_database


def _run(engine: Engine, status: str) -> str:
    rid = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO runs (id, team_id, pipeline_name, status, input, source, attempts) "
                "VALUES (:id, 'T1', 'P', :status, 'the input', 'cli', 1)"
            ),
            {"id": rid, "status": status},
        )
    return rid


def _step(engine: Engine, rid: str, position: int, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO run_steps (run_id, position, status, agent_snapshot, model, input) "
                "VALUES (:rid, :pos, :status, '{}'::jsonb, 'anthropic:m', 'in')"
            ),
            {"rid": rid, "pos": position, "status": status},
        )


def _status(engine: Engine, rid: str) -> str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT status FROM runs WHERE id = :id"), {"id": rid}).scalar_one()


def test_the_checks_follow_the_enums_and_every_row_survives(services, database_url):
    with empty_database(database_url) as engine:
        upgrade(engine, "0006")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO workspaces (team_id) VALUES ('T1')"))
        with pytest.raises(IntegrityError):
            _run(engine, "waiting")  # the old CHECK refuses it
        old = _run(engine, "succeeded")
        _step(engine, old, 1, "succeeded")
        upgrade(engine)
        by_status = {status: _run(engine, status) for status in RunStatus}
        for position, status in enumerate(StepStatus, start=1):
            _step(engine, by_status[RunStatus.RUNNING], position, status)
        with pytest.raises(IntegrityError):
            _step(engine, old, 2, "queued")  # no step is ever queued
        with pytest.raises(IntegrityError):
            _run(engine, "paused")
        downgrade(engine, "0006")
        assert _status(engine, by_status[RunStatus.WAITING]) == "queued"
        assert _status(engine, old) == "succeeded"
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM runs")).scalar() == 1 + len(RunStatus)
            assert conn.execute(text("SELECT count(*) FROM run_steps")).scalar() == 1 + len(StepStatus)

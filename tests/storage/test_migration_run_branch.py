"""Migration 0006 on a database that already holds runs: upgrade, downgrade and upgrade again
keep every run; the ``branch`` column of runs comes and goes."""

from __future__ import annotations

import json
import uuid

import psycopg
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from storage.db import normalise_url
from storage.migrate import downgrade, upgrade


def test_runs_survive_the_branch_column_coming_and_going(services, database_url):
    name = f"pipebot_branch_{uuid.uuid4().hex[:8]}"
    admin = normalise_url(database_url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(make_url(normalise_url(database_url)).set(database=name))
    try:
        upgrade(engine, "0005")
        rid = str(uuid.uuid4())
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO workspaces (team_id) VALUES ('T1')"))
            conn.execute(
                text(
                    "INSERT INTO runs (id, team_id, pipeline_name, status, input, source, attempts) "
                    "VALUES (:id, 'T1', 'P', 'succeeded', 'the input', 'cli', 1)"
                ),
                {"id": rid},
            )
        upgrade(engine)
        assert "branch" in {c["name"] for c in inspect(engine).get_columns("runs")}
        spec = {"artifact_id": str(uuid.uuid4()), "version": 1, "from_step": 2}
        with engine.begin() as conn:
            assert conn.execute(text("SELECT branch FROM runs WHERE id = :id"), {"id": rid}).scalar() is None
            conn.execute(
                text("UPDATE runs SET branch = CAST(:b AS jsonb) WHERE id = :id"), {"b": json.dumps(spec), "id": rid}
            )
        downgrade(engine, "0005")
        assert "branch" not in {c["name"] for c in inspect(engine).get_columns("runs")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT input FROM runs WHERE id = :id"), {"id": rid}).scalar() == "the input"
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM runs")).scalar() == 1
    finally:
        engine.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

"""Migration 0004 on a database that already holds artifacts: upgrade, downgrade and upgrade
again keep every artifact with its content; the lifecycle's tables and columns come and go."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import Engine, inspect, text

from storage.migrate import downgrade, upgrade
from storage.repos import artifact_versions as versions
from tests.support.scratch_db import empty_database

LIFECYCLE_TABLES = {"artifact_versions", "artifact_feedback", "edit_link_uses"}
LIFECYCLE_COLUMNS = {"latest_version", "parent_artifact_id", "parent_version", "branched_from_step", "branch_changes"}


def _contents(engine: Engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {str(r.id): r.content for r in conn.execute(text("SELECT id, content FROM artifacts"))}


def test_an_artifact_written_at_0003_survives_upgrade_downgrade_upgrade(services, database_url):
    content = {"version": 1, "output": "Quarterly revenue grew", "steps": [{"position": 1, "output": "draft"}]}
    with empty_database(database_url) as engine:
        upgrade(engine, "0003")
        aid = str(uuid.uuid4())
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO workspaces (team_id) VALUES ('T1')"))
            conn.execute(
                text(
                    "INSERT INTO artifacts (id, team_id, pipeline_name, status, content) "
                    "VALUES (:id, 'T1', 'P', 'succeeded', CAST(:c AS jsonb))"
                ),
                {"id": aid, "c": json.dumps(content)},
            )
        upgrade(engine)
        assert LIFECYCLE_TABLES <= set(inspect(engine).get_table_names())
        assert LIFECYCLE_COLUMNS <= {c["name"] for c in inspect(engine).get_columns("artifacts")}
        assert "ix_artifacts_parent_created" in {i["name"] for i in inspect(engine).get_indexes("artifacts")}
        assert _contents(engine) == {aid: content}
        with engine.begin() as conn:
            # the existing artifact is at version 1, and version 1 is its content
            row = versions.latest_version(conn, "T1", aid)
            assert (row.number, row.content) == (1, content)
            assert (
                versions.save_version(
                    conn,
                    "T1",
                    aid,
                    base_version=1,
                    content={**content, "output": "edited"},
                    edited="output",
                    author="U1",
                )
                == 2
            )
            conn.execute(
                text(
                    "INSERT INTO artifact_feedback (team_id, artifact_id, version, user_id, vote) "
                    "VALUES ('T1', :a, 2, 'U1', 1)"
                ),
                {"a": aid},
            )
        downgrade(engine, "0003")
        assert not LIFECYCLE_TABLES & set(inspect(engine).get_table_names())
        assert not LIFECYCLE_COLUMNS & {c["name"] for c in inspect(engine).get_columns("artifacts")}
        assert _contents(engine) == {aid: content}  # version 1, as the run wrote it
        with engine.connect() as conn:  # the search vector of 0003 is still filled
            assert (
                conn.execute(text("SELECT output_tsv::text FROM artifacts")).scalar()
                == "'grew':3 'quarter':1 'revenu':2"
            )
        upgrade(engine)
        assert _contents(engine) == {aid: content}
        with engine.connect() as conn:
            row = versions.latest_version(conn, "T1", aid)
            assert (row.number, row.content) == (1, content)

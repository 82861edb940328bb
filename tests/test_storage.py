"""Schema, migrations, tenancy, orphans and secrets at rest, on real PostgreSQL."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from storage import repos
from storage.db import normalise_url, transaction
from storage.migrate import downgrade, upgrade
from storage.secrets import SecretBox, SecretError, new_key


def test_upgrade_from_empty_and_downgrade_to_empty(services, database_url):
    name = f"pipebot_mig_{uuid.uuid4().hex[:8]}"
    admin = normalise_url(database_url).replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        from sqlalchemy.engine import make_url

        engine = create_engine(make_url(normalise_url(database_url)).set(database=name))
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert {"workspaces", "provider_credentials", "agents", "pipelines", "pipeline_steps", "runs",
                "run_steps", "artifacts", "alembic_version"} <= tables
        indexes = {i["name"] for i in inspect(engine).get_indexes("artifacts")}
        assert {"ix_artifacts_team_pipeline_created", "ix_artifacts_team_created", "ix_artifacts_output_fts"} <= indexes
        upgrade(engine)  # idempotent
        downgrade(engine)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert "artifacts" in inspect(engine).get_table_names()
        engine.dispose()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _agent(s, team, name="Writer", model="anthropic:claude-haiku-4-5"):
    return repos.create_agent(s, team, name=name, system_prompt="Be brief.", model=model)


def test_names_unique_per_workspace_case_insensitive(ctx):
    with transaction(ctx.sessions) as s:
        _agent(s, "T1", "Writer")
        _agent(s, "T2", "writer")  # another workspace may reuse it
    with pytest.raises(IntegrityError):
        with transaction(ctx.sessions) as s:
            _agent(s, "T1", "WRITER")
    with transaction(ctx.sessions) as s:
        assert repos.get_agent_by_name(s, "T1", "  wRiTeR ").name == "Writer"


def test_every_query_is_scoped_to_its_workspace(ctx):
    with transaction(ctx.sessions) as s:
        a = _agent(s, "T1")
        p = repos.create_pipeline(s, "T1", "Digest", [a.id])
        run = repos.create_run(s, "T1", p, "hello")
        art = repos.create_artifact(s, "T1", run, {"output": "secret plans"}, models=[a.model], cost_usd=None)
    with transaction(ctx.sessions) as s:
        assert repos.get_agent(s, "T2", a.id) is None
        assert repos.get_pipeline(s, "T2", p.id) is None
        assert repos.get_pipeline_by_name(s, "T2", "Digest") is None
        assert repos.get_run(s, "T2", run.id) is None
        assert repos.get_artifact(s, "T2", art.id) is None
        assert repos.latest_artifacts(s, "T2") == []
        assert repos.search_artifacts(s, "T2", "secret") == []
        assert repos.list_agents(s, "T2") == [] and repos.list_pipelines(s, "T2") == []
        assert not repos.delete_agent(s, "T2", a.id)
        assert not repos.delete_pipeline(s, "T2", p.id)
        assert repos.update_agent(s, "T2", a.id, name="Stolen") is None
        with pytest.raises(LookupError):
            repos.create_pipeline(s, "T2", "Borrow", [a.id])  # cannot reference another workspace's agent
    with transaction(ctx.sessions) as s:
        assert repos.get_artifact(s, "T1", art.id).content["output"] == "secret plans"
        assert [r.id for r in repos.search_artifacts(s, "T1", "secret")] == [art.id]
        assert repos.get_artifact(s, "T1", "not-a-uuid") is None


def test_deleted_agent_leaves_an_orphaned_step_with_its_last_name(ctx):
    with transaction(ctx.sessions) as s:
        a = _agent(s, "T1", "Summariser")
        b = _agent(s, "T1", "Critic")
        p = repos.create_pipeline(s, "T1", "Review", [a.id, b.id])
    with transaction(ctx.sessions) as s:
        repos.update_agent(s, "T1", b.id, name="Harsh critic")
        assert repos.pipelines_using_agent(s, "T1", b.id) == ["Review"]
        assert repos.delete_agent(s, "T1", b.id)
    with transaction(ctx.sessions) as s:
        steps = repos.get_pipeline(s, "T1", p.id).steps
        assert [(st.position, st.agent_id, st.agent_name) for st in steps] == [
            (1, a.id, "Summariser"), (2, None, "Harsh critic")]


def test_pipeline_steps_can_be_replaced_in_order(ctx):
    with transaction(ctx.sessions) as s:
        a, b = _agent(s, "T1", "A"), _agent(s, "T1", "B")
        p = repos.create_pipeline(s, "T1", "P", [a.id, b.id])
    with transaction(ctx.sessions) as s:
        repos.update_pipeline(s, "T1", p.id, [b.id, a.id, b.id], name="P2")
    with transaction(ctx.sessions) as s:
        p2 = repos.get_pipeline(s, "T1", p.id)
        assert p2.name == "P2" and [st.agent_id for st in p2.steps] == [b.id, a.id, b.id]


def test_latest_artifacts_per_pipeline_newest_first_and_uses_index(ctx):
    with transaction(ctx.sessions) as s:
        a = _agent(s, "T1")
        p1 = repos.create_pipeline(s, "T1", "One", [a.id])
        p2 = repos.create_pipeline(s, "T1", "Two", [a.id])
        ids = []
        for i in range(5):
            for p in (p1, p2):
                run = repos.create_run(s, "T1", p, f"in {i}")
                s.execute(text("SELECT pg_sleep(0.001)"))
                art = repos.create_artifact(s, "T1", run, {"output": f"out {i}"}, models=[], cost_usd=None)
                s.execute(text("UPDATE artifacts SET created_at = now() + make_interval(secs => :i) WHERE id = :id"),
                          {"i": i, "id": art.id})
                if p is p1:
                    ids.append(art.id)
    with transaction(ctx.sessions) as s:
        rows = repos.latest_artifacts(s, "T1", pipeline_id=p1.id, limit=3)
        assert [r.id for r in rows] == ids[::-1][:3]
        assert len(repos.latest_artifacts(s, "T1", limit=20)) == 10
        s.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(r[0] for r in s.execute(text(
            "EXPLAIN SELECT id FROM artifacts WHERE team_id = 'T1' AND pipeline_id = :p "
            "ORDER BY created_at DESC, id DESC LIMIT 10"), {"p": p1.id}))
        assert "ix_artifacts_team_pipeline_created" in plan


def test_provider_key_is_encrypted_at_rest_and_never_stored_raw(ctx):
    raw = "sk-ant-api03-" + uuid.uuid4().hex + "WXYZ"
    with transaction(ctx.sessions) as s:
        repos.set_credential(s, "T1", "anthropic", raw, ctx.box, "U1")
    with transaction(ctx.sessions) as s:
        assert repos.get_credential(s, "T1", "anthropic", ctx.box) == raw
        assert repos.get_credential(s, "T2", "anthropic", ctx.box) is None
        assert repos.credential_hints(s, "T1") == {"anthropic": "WXYZ"}
    # the raw key is nowhere in the database: dump every table's rows as text and search
    with ctx.engine.connect() as conn:
        tables = [r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))]
        for t in tables:
            dump = conn.execute(text(f'SELECT coalesce(string_agg(t::text, E"\\n"), \'\') FROM "{t}" t'.replace('E"\\n"', "E'\\\\n'"))).scalar()
            assert raw not in dump and raw.encode().hex() not in dump
    # a second save replaces the first (one per provider per workspace)
    with transaction(ctx.sessions) as s:
        repos.set_credential(s, "T1", "anthropic", "sk-other-key-0000", ctx.box)
        assert repos.get_credential(s, "T1", "anthropic", ctx.box) == "sk-other-key-0000"
        assert repos.delete_credential(s, "T1", "anthropic")
        assert repos.get_credential(s, "T1", "anthropic", ctx.box) is None


def test_secret_key_rotation():
    old, new = new_key(), new_key()
    token = SecretBox([old]).encrypt("sk-test-1234")
    rotated_box = SecretBox([new, old])
    assert rotated_box.decrypt(token) == "sk-test-1234"
    rotated = rotated_box.rotate(token)
    assert SecretBox([new]).decrypt(rotated) == "sk-test-1234"
    with pytest.raises(SecretError, match="PIPEBOT_SECRET_KEY"):
        SecretBox([new]).decrypt(token)

"""Schema, migrations, tenancy, orphans and secrets at rest, on real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from storage.db import transaction
from storage.migrate import downgrade, upgrade
from storage.repos import agents as agent_repo
from storage.repos import artifacts as artifact_repo
from storage.repos import credentials as credential_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from storage.secrets import SecretBox, SecretError, new_key
from tests.support.scratch_db import empty_database


def test_upgrade_from_empty_and_downgrade_to_empty(services, database_url):
    with empty_database(database_url) as engine:
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert {
            "workspaces",
            "provider_credentials",
            "agents",
            "pipelines",
            "pipeline_steps",
            "runs",
            "run_steps",
            "artifacts",
            "alembic_version",
        } <= tables
        indexes = {i["name"] for i in inspect(engine).get_indexes("artifacts")}
        assert {"ix_artifacts_team_pipeline_created", "ix_artifacts_team_created", "ix_artifacts_output_tsv"} <= indexes
        assert "ix_artifacts_output_fts" not in indexes  # replaced by the stored column's index
        upgrade(engine)  # idempotent
        downgrade(engine)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert "artifacts" in inspect(engine).get_table_names()


def test_0003_fills_the_search_vector_of_existing_rows_and_downgrades(services, database_url):
    """Upgrading a database that already holds artifacts fills output_tsv for them; the
    downgrade puts the expression index back and drops the column."""
    with empty_database(database_url) as engine:
        upgrade(engine, "0002")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO workspaces (team_id) VALUES ('T1')"))
            conn.execute(
                text(
                    "INSERT INTO artifacts (id, team_id, pipeline_name, status, content) VALUES "
                    "(gen_random_uuid(), 'T1', 'P', 'succeeded', '{\"output\": \"Quarterly revenue grew\"}'), "
                    "(gen_random_uuid(), 'T1', 'P', 'failed', '{\"output\": null}')"
                )
            )
        upgrade(engine)
        with engine.begin() as conn:
            vectors = conn.execute(text("SELECT output_tsv::text FROM artifacts ORDER BY status DESC")).scalars().all()
            assert vectors == ["'grew':3 'quarter':1 'revenu':2", ""]
        downgrade(engine, "0002")
        columns = {c["name"] for c in inspect(engine).get_columns("artifacts")}
        indexes = {i["name"] for i in inspect(engine).get_indexes("artifacts")}
        assert "output_tsv" not in columns
        assert "ix_artifacts_output_fts" in indexes and "ix_artifacts_output_tsv" not in indexes
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM artifacts")).scalar() == 2


def _agent(s, team, name="Writer", model="anthropic:claude-haiku-4-5"):
    return agent_repo.create_agent(s, team, name=name, system_prompt="Be brief.", model=model)


def test_names_unique_per_workspace_case_insensitive(ctx):
    with transaction(ctx.sessions) as s:
        _agent(s, "T1", "Writer")
        _agent(s, "T2", "writer")  # another workspace may reuse it
    with pytest.raises(IntegrityError):
        with transaction(ctx.sessions) as s:
            _agent(s, "T1", "WRITER")
    with transaction(ctx.sessions) as s:
        assert agent_repo.get_agent_by_name(s, "T1", "  wRiTeR ").name == "Writer"


def test_every_query_is_scoped_to_its_workspace(ctx):
    with transaction(ctx.sessions) as s:
        a = _agent(s, "T1")
        p = pipeline_repo.create_pipeline(s, "T1", "Digest", [a.id])
        run = run_repo.create_run(s, "T1", p, "hello")
        art = artifact_repo.insert_for_run(s, "T1", run, {"output": "secret plans"}, models=[a.model], cost_usd=None)
    with transaction(ctx.sessions) as s:
        assert agent_repo.get_agent(s, "T2", a.id) is None
        assert pipeline_repo.get_pipeline(s, "T2", p.id) is None
        assert pipeline_repo.get_pipeline_by_name(s, "T2", "Digest") is None
        assert run_repo.get_run(s, "T2", run.id) is None
        assert artifact_repo.get_artifact(s, "T2", art) is None
        assert artifact_repo.latest_artifacts(s, "T2") == []
        assert artifact_repo.search_artifacts(s, "T2", "secret") == []
        assert agent_repo.list_agents(s, "T2") == [] and pipeline_repo.list_pipelines(s, "T2") == []
        assert not agent_repo.delete_agent(s, "T2", a.id)
        assert not pipeline_repo.delete_pipeline(s, "T2", p.id)
        assert agent_repo.update_agent(s, "T2", a.id, name="Stolen") is None
        with pytest.raises(LookupError):
            pipeline_repo.create_pipeline(s, "T2", "Borrow", [a.id])  # cannot reference another workspace's agent
    with transaction(ctx.sessions) as s:
        assert artifact_repo.get_artifact(s, "T1", art).content["output"] == "secret plans"
        assert [r.id for r in artifact_repo.search_artifacts(s, "T1", "secret")] == [art]
        assert artifact_repo.get_artifact(s, "T1", "not-a-uuid") is None


def test_deleted_agent_leaves_an_orphaned_step_with_its_last_name(ctx):
    with transaction(ctx.sessions) as s:
        a = _agent(s, "T1", "Summariser")
        b = _agent(s, "T1", "Critic")
        p = pipeline_repo.create_pipeline(s, "T1", "Review", [a.id, b.id])
    with transaction(ctx.sessions) as s:
        agent_repo.update_agent(s, "T1", b.id, name="Harsh critic")
        assert agent_repo.pipelines_using_agent(s, "T1", b.id) == ["Review"]
        assert agent_repo.delete_agent(s, "T1", b.id)
    with transaction(ctx.sessions) as s:
        steps = pipeline_repo.get_pipeline(s, "T1", p.id).steps
        assert [(st.position, st.agent_id, st.agent_name) for st in steps] == [
            (1, a.id, "Summariser"),
            (2, None, "Harsh critic"),
        ]


def test_pipeline_steps_can_be_replaced_in_order(ctx):
    with transaction(ctx.sessions) as s:
        a, b = _agent(s, "T1", "A"), _agent(s, "T1", "B")
        p = pipeline_repo.create_pipeline(s, "T1", "P", [a.id, b.id])
    with transaction(ctx.sessions) as s:
        pipeline_repo.update_pipeline(s, "T1", p.id, [b.id, a.id, b.id], name="P2")
    with transaction(ctx.sessions) as s:
        p2 = pipeline_repo.get_pipeline(s, "T1", p.id)
        assert p2.name == "P2" and [st.agent_id for st in p2.steps] == [b.id, a.id, b.id]


def test_latest_artifacts_per_pipeline_newest_first_and_uses_index(ctx):
    with transaction(ctx.sessions) as s:
        a = _agent(s, "T1")
        p1 = pipeline_repo.create_pipeline(s, "T1", "One", [a.id])
        p2 = pipeline_repo.create_pipeline(s, "T1", "Two", [a.id])
        ids = []
        for i in range(5):
            for p in (p1, p2):
                run = run_repo.create_run(s, "T1", p, f"in {i}")
                s.execute(text("SELECT pg_sleep(0.001)"))
                art = artifact_repo.insert_for_run(s, "T1", run, {"output": f"out {i}"}, models=[], cost_usd=None)
                s.execute(
                    text("UPDATE artifacts SET created_at = now() + make_interval(secs => :i) WHERE id = :id"),
                    {"i": i, "id": art},
                )
                if p is p1:
                    ids.append(art)
    with transaction(ctx.sessions) as s:
        rows = artifact_repo.latest_artifacts(s, "T1", pipeline_id=p1.id, limit=3)
        assert [r.id for r in rows] == ids[::-1][:3]
        assert len(artifact_repo.latest_artifacts(s, "T1", limit=20)) == 10
        s.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            r[0]
            for r in s.execute(
                text(
                    "EXPLAIN SELECT id FROM artifacts WHERE team_id = 'T1' AND pipeline_id = :p "
                    "ORDER BY created_at DESC, id DESC LIMIT 10"
                ),
                {"p": p1.id},
            )
        )
        assert "ix_artifacts_team_pipeline_created" in plan


def test_provider_key_is_encrypted_at_rest_and_never_stored_raw(ctx):
    raw = "sk-ant-api03-" + uuid.uuid4().hex + "WXYZ"
    with transaction(ctx.sessions) as s:
        credential_repo.set_credential(s, "T1", "anthropic", raw, ctx.box, "U1")
    with transaction(ctx.sessions) as s:
        assert credential_repo.get_credential(s, "T1", "anthropic", ctx.box) == raw
        assert credential_repo.get_credential(s, "T2", "anthropic", ctx.box) is None
        assert credential_repo.credential_hints(s, "T1") == {"anthropic": "WXYZ"}
    # the raw key is nowhere in the database: dump every table's rows as text and search
    with ctx.engine.connect() as conn:
        tables = [r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))]
        for t in tables:
            dump = conn.execute(
                text(f'SELECT coalesce(string_agg(t::text, E"\\n"), \'\') FROM "{t}" t'.replace('E"\\n"', "E'\\\\n'"))
            ).scalar()
            assert raw not in dump and raw.encode().hex() not in dump
    # a second save replaces the first (one per provider per workspace)
    with transaction(ctx.sessions) as s:
        credential_repo.set_credential(s, "T1", "anthropic", "sk-other-key-0000", ctx.box)
        assert credential_repo.get_credential(s, "T1", "anthropic", ctx.box) == "sk-other-key-0000"
        assert credential_repo.delete_credential(s, "T1", "anthropic")
        assert credential_repo.get_credential(s, "T1", "anthropic", ctx.box) is None


def test_secret_key_rotation():
    old, new = new_key(), new_key()
    token = SecretBox([old]).encrypt("sk-test-1234")
    rotated_box = SecretBox([new, old])
    assert rotated_box.decrypt(token) == "sk-test-1234"
    rotated = rotated_box.rotate(token)
    assert SecretBox([new]).decrypt(rotated) == "sk-test-1234"
    with pytest.raises(SecretError, match="PIPEBOT_SECRET_KEY"):
        SecretBox([new]).decrypt(token)


def _artifact(s, team, pipeline, output, *, input_text="the input", step_outputs=(), age_s=0):
    run = run_repo.create_run(s, team, pipeline, input_text)
    content = {
        "input": input_text,
        "output": output,
        "steps": [{"position": i, "output": o} for i, o in enumerate(step_outputs, 1)],
    }
    art = artifact_repo.insert_for_run(s, team, run, content, models=[], cost_usd=None)
    s.execute(
        text("UPDATE artifacts SET created_at = now() - make_interval(secs => :a) WHERE id = :id"),
        {"a": age_s, "id": art},
    )
    return art


def test_search_matches_the_output_only_newest_first(ctx):
    with transaction(ctx.sessions) as s:
        a = _agent(s, "T1")
        p, q = (
            pipeline_repo.create_pipeline(s, "T1", "One", [a.id]),
            pipeline_repo.create_pipeline(s, "T1", "Two", [a.id]),
        )
        old = _artifact(s, "T1", p, "The Northwind account renewed.", age_s=300)
        new = _artifact(s, "T1", p, "Northwind asked about invoices.", age_s=100)
        other_pipeline = _artifact(s, "T1", q, "Northwind again.", age_s=200)
        _artifact(
            s,
            "T1",
            p,
            "Nothing relevant.",
            input_text="Northwind in the input",
            step_outputs=["Northwind in a step's output"],
        )
        _artifact(s, "T1", p, None)  # a run that failed before any output
        _artifact(s, "T2", p, "Northwind, but another workspace")
    with transaction(ctx.sessions) as s:
        assert [r.id for r in artifact_repo.search_artifacts(s, "T1", "northwind")] == [new, other_pipeline, old]
        assert [r.id for r in artifact_repo.search_artifacts(s, "T1", "Northwind", pipeline_id=p.id)] == [new, old]
        assert [r.id for r in artifact_repo.search_artifacts(s, "T1", "northwind", limit=1)] == [new]
        assert [r.id for r in artifact_repo.search_artifacts(s, "T1", "renewing")] == [old]  # English stemming
        assert [r.id for r in artifact_repo.search_artifacts(s, "T1", '"Northwind account"')] == [old]  # phrase
        assert artifact_repo.search_artifacts(s, "T1", '"account Northwind"') == []  # phrase: order matters
        assert [r.id for r in artifact_repo.search_artifacts(s, "T1", "northwind -invoices")] == [other_pipeline, old]
        assert artifact_repo.search_artifacts(s, "T1", "input") == []  # the input is not searched
        assert artifact_repo.search_artifacts(s, "T1", "step") == []  # nor the steps' outputs
        row = artifact_repo.search_artifacts(s, "T1", "invoices")[0]
        assert not hasattr(row, "content") and not hasattr(row, "output_tsv")  # list columns only


def test_search_beyond_the_walked_rows_uses_the_gin_index(ctx):
    """A word that is not among the newest SEARCH_WALK_ROWS artifacts is still found (step 2),
    and that step reads the GIN index rather than the whole workspace."""
    with transaction(ctx.sessions) as s:
        a = _agent(s, "T1")
        p = pipeline_repo.create_pipeline(s, "T1", "One", [a.id])
        rare = _artifact(s, "T1", p, "The zeppelin incident report.", age_s=10_000_000)
        run = run_repo.create_run(s, "T1", p, "bulk")
        s.execute(
            text(
                "INSERT INTO artifacts (id, team_id, pipeline_id, pipeline_name, status, content, created_at) "
                "SELECT gen_random_uuid(), 'T1', :p, 'One', 'succeeded', "
                "jsonb_build_object('output', 'Weekly digest number ' || g || ' about billing'), now() - make_interval(secs => g) "
                "FROM generate_series(1, :n) g"
            ),
            {"p": p.id, "n": artifact_repo.SEARCH_WALK_ROWS + 500},
        )
        del run
    with ctx.engine.begin() as conn:
        conn.execute(text("ANALYZE artifacts"))
    with transaction(ctx.sessions) as s:
        assert [r.id for r in artifact_repo.search_artifacts(s, "T1", "zeppelin")] == [rare]
        assert [r.id for r in artifact_repo.search_artifacts(s, "T1", "zeppelin", pipeline_id=p.id)] == [rare]
        assert len(artifact_repo.search_artifacts(s, "T1", "billing")) == 10
        assert artifact_repo.search_artifacts(s, "T1", "nowhere") == []
        s.execute(text("SET LOCAL enable_seqscan = off"))  # 2,500 rows fit in a few pages
        plan = "\n".join(
            r[0]
            for r in s.execute(
                text(
                    "EXPLAIN WITH matches AS MATERIALIZED (SELECT id, created_at FROM artifacts WHERE team_id = 'T1' "
                    "AND output_tsv @@ websearch_to_tsquery('english'::regconfig, 'zeppelin')) "
                    "SELECT id FROM matches ORDER BY created_at DESC, id DESC LIMIT 10"
                )
            )
        )
        assert "ix_artifacts_output_tsv" in plan, plan


def test_executor_insert_fills_the_search_vector(ctx):
    from core.runs.outcome import write_outcome

    with transaction(ctx.sessions) as s:
        a = _agent(s, "T1")
        p = pipeline_repo.create_pipeline(s, "T1", "Digest", [a.id])
        run_id = run_repo.create_run(s, "T1", p, "hello").id
    aid = write_outcome(ctx, "T1", run_id, status="succeeded", output="Kubernetes upgrade finished").artifact_id
    again = write_outcome(ctx, "T1", run_id, status="succeeded", output="Kubernetes upgrade finished").artifact_id
    assert again == aid  # ON CONFLICT DO NOTHING: still one artifact
    with transaction(ctx.sessions) as s:
        assert [str(r.id) for r in artifact_repo.search_artifacts(s, "T1", "kubernetes upgrades")] == [aid]


def test_permalink_lookup_reads_content_and_team_by_id(ctx):
    with transaction(ctx.sessions) as s:
        a = _agent(s, "T1")
        p = pipeline_repo.create_pipeline(s, "T1", "Digest", [a.id])
        aid = _artifact(s, "T1", p, "hello")
    with ctx.engine.connect() as conn:
        team, content = artifact_repo.artifact_content_unscoped(conn, str(aid))
        assert team == "T1" and content["output"] == "hello"
        assert artifact_repo.artifact_content_unscoped(conn, uuid.uuid4()) is None
        assert artifact_repo.artifact_content_unscoped(conn, "not-a-uuid") is None

"""Artifact storage at 100k rows: insert rate and "latest 20 for a pipeline", through our
repository (SQLAlchemy ORM) next to plain psycopg doing the same work, in one run.

    .venv/bin/python bench/bench_artifacts_storage.py [N]
"""

from __future__ import annotations

import json
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bench._common import scratch_database, summary, timed  # noqa: E402
from storage.models import Run  # noqa: E402
from storage.repos import agents as agent_repo  # noqa: E402
from storage.repos import artifacts as artifact_repo  # noqa: E402
from storage.repos import pipelines as pipeline_repo  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
TEAM = "TBENCH"


def content(i: int) -> dict:
    return {
        "version": 1,
        "status": "succeeded",
        "input": f"input {i}",
        "output": f"output number {i} " * 20,
        "steps": [{"position": 1, "output": f"step output {i}"}],
        "cost_usd": "0.0012",
    }


def main() -> None:
    with scratch_database() as (url, engine):
        Session = sessionmaker(engine)
        with Session.begin() as s:
            a = agent_repo.create_agent(s, TEAM, name="A", model="anthropic:claude-haiku-4-5", system_prompt="")
            pipes = [pipeline_repo.create_pipeline(s, TEAM, f"P{i}", [a.id]) for i in range(20)]
            pipe_ids = [p.id for p in pipes]
        # runs to hang artifacts on (artifacts.run_id is unique)
        with psycopg.connect(url) as conn:
            conn.execute(
                "INSERT INTO runs (id, team_id, pipeline_id, pipeline_name, status, input, source, attempts) "
                "SELECT gen_random_uuid(), %s, (%s::bigint[])[1 + (g %% 20)], 'P', 'succeeded', 'x', 'cli', 1 "
                "FROM generate_series(1, %s) g",
                (TEAM, pipe_ids, N + 2000),
            )
            run_ids = [r[0] for r in conn.execute("SELECT id FROM runs")]
        runs_iter = iter(run_ids)

        # --- inserts: ours (the executor's insert, one transaction per artifact) vs plain psycopg
        k = 1000
        with Session() as s:
            run_objs = {r.id: r for r in s.query(Run).filter(Run.id.in_(run_ids[:k])).all()}
        t0 = time.perf_counter()
        for rid in run_ids[:k]:
            next(runs_iter)
            with Session.begin() as s:
                r = s.merge(run_objs[rid], load=False)
                artifact_repo.insert_for_run(
                    s, TEAM, r, content(0), models=["anthropic:claude-haiku-4-5"], cost_usd=None
                )
        ours_insert = (time.perf_counter() - t0) / k * 1000
        with psycopg.connect(url) as conn:
            t0 = time.perf_counter()
            for _ in range(k):
                rid = next(runs_iter)
                with conn.transaction():
                    conn.execute(
                        "INSERT INTO artifacts (id, team_id, run_id, pipeline_id, pipeline_name, status, models, content) "
                        "VALUES (%s, %s, %s, %s, 'P', 'succeeded', %s, %s::jsonb)",
                        (uuid.uuid4(), TEAM, rid, pipe_ids[0], ["anthropic:claude-haiku-4-5"], json.dumps(content(0))),
                    )
            plain_insert = (time.perf_counter() - t0) / k * 1000
            # bulk-fill the rest to N with spread-out timestamps
            conn.execute(
                "INSERT INTO artifacts (id, team_id, run_id, pipeline_id, pipeline_name, status, models, content, created_at) "
                "SELECT gen_random_uuid(), %s, r.id, r.pipeline_id, 'P', 'succeeded', ARRAY['anthropic:claude-haiku-4-5'], "
                "jsonb_build_object('output', 'output number ' || row_number() over (), 'input', 'x'), "
                "now() - make_interval(secs => random() * 8640000) "
                "FROM (SELECT id, pipeline_id FROM runs WHERE id NOT IN (SELECT run_id FROM artifacts WHERE run_id IS NOT NULL) "
                "LIMIT %s) r",
                (TEAM, N - 2 * k),
            )
            conn.commit()
            conn.execute("ANALYZE artifacts")
            total = conn.execute("SELECT count(*) FROM artifacts").fetchone()[0]

        print(f"artifacts in table: {total:,}")
        print(
            f"insert one artifact (own transaction): pipebot {ours_insert:6.3f} ms   plain psycopg {plain_insert:6.3f} ms"
        )

        # --- latest 20 for a pipeline
        reps = 500
        with Session() as s:
            ours = timed(
                lambda: artifact_repo.latest_artifacts(s, TEAM, pipeline_id=random.choice(pipe_ids), limit=20), reps
            )
        with psycopg.connect(url) as conn:
            sql = (
                "SELECT id, pipeline_name, status, cost_usd, models, created_at, created_by, run_id FROM artifacts "
                "WHERE team_id = %s AND pipeline_id = %s ORDER BY created_at DESC, id DESC LIMIT 20"
            )
            plain = timed(lambda: conn.execute(sql, (TEAM, random.choice(pipe_ids))).fetchall(), reps)
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, (TEAM, pipe_ids[0])))
        print(f"latest 20 for a pipeline ({reps}x):  pipebot {summary(ours)}")
        print(f"                                plain   {summary(plain)}")
        print(
            "plan uses", "ix_artifacts_team_pipeline_created" if "ix_artifacts_team_pipeline_created" in plan else plan
        )


if __name__ == "__main__":
    main()

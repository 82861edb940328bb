"""The artifact viewer at 1 million artifacts, each figure beside the same work without our app.

    .venv/bin/python bench/bench_artifacts_viewer.py [--rebuild] [--artifacts N] [--requests 500]

In one run, on the local PostgreSQL (or BENCH_DATABASE_URL's server):

* "latest 10 for a pipeline" through ``storage.repos.latest_artifacts`` vs the same SQL in psycopg;
* opening a permalink page over HTTP: our real app started by ``pipebot serve`` (uvicorn), vs the
  plain ``SELECT content FROM artifacts WHERE id = %s`` in psycopg, vs a bare Starlette route
  serving that plain query through the same uvicorn settings (the cost of HTTP itself);
* the permalink lookup in-process: ``artifact_repo.artifact_content_unscoped`` (a Core select of two
  columns) vs the ORM ``session.get`` it replaced;
* full-text search through ``storage.repos.search_artifacts`` vs one plain SQL statement over the
  same stored ``output_tsv`` column in psycopg (the planner's own choice of plan), for a rare word,
  common words, a word that occurs nowhere, and phrases (one that never occurs: the worst case);
* the EXPLAIN lines of each query our code actually sent (captured from the engine).

A database built before migration 0003 is migrated in place (about 2.5 minutes at 1M), then
vacuumed and analysed.

The data lives in a database kept between runs, ``pipebot_bench_1m`` (``pipebot_bench_<N>`` for
another size): the first run builds it (about 3 GB on disk for 1M, about 5 minutes on 2 cores), later runs
reuse it. ``--rebuild`` drops and rebuilds it; ``--drop`` drops it and exits. The schema comes
from our Alembic migrations; rows are generated inside PostgreSQL with ``INSERT … SELECT
generate_series`` from a pool of Markdown paragraphs written by this script.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench._common import SERVER, bulk_load_artifacts, pct  # noqa: E402

# --------------------------------------------------------------------------- #
# Realistic content
# --------------------------------------------------------------------------- #

TEAMS = [("T01ACMECO", 0.50), ("T02GLOBEX", 0.25), ("T03INITECH", 0.12), ("T04UMBRELLA", 0.08), ("T05HOOLI", 0.05)]
PIPELINE_NAMES = [
    "Weekly digest",
    "Incident summary",
    "PR review",
    "Support triage",
    "Release notes",
    "Standup notes",
    "Customer call recap",
    "Churn risk report",
]
AGENTS = [  # name, model, display, system prompt
    (
        "Summariser",
        "anthropic:claude-haiku-4-5",
        "Claude Haiku 4.5",
        "You summarise Slack channels for busy engineers.",
    ),
    ("Editor", "openai:gpt-5-mini", "GPT-5 mini", "Polish the draft. Keep it short, keep every number."),
    ("Reviewer", "anthropic:claude-sonnet-4-5", "Claude Sonnet 4.5", "Review the change for risk, tests and clarity."),
    ("Triage", "openai:gpt-5-nano", "GPT-5 nano", "Classify the ticket and propose an owner."),
]
SUBJECTS = [
    "the billing service",
    "the checkout flow",
    "the search cluster",
    "the mobile app",
    "the data pipeline",
    "the auth gateway",
    "the notification worker",
    "the analytics dashboard",
    "the onboarding wizard",
    "the export job",
    "the invoice generator",
    "the rate limiter",
    "the feature flag service",
    "the Postgres replica",
    "the Redis cache",
    "the CDN edge config",
    "the webhook dispatcher",
]
VERBS = [
    "shipped",
    "rolled back",
    "migrated",
    "profiled",
    "refactored",
    "load-tested",
    "patched",
    "deprecated",
    "documented",
    "instrumented",
    "hardened",
    "split",
    "re-indexed",
    "upgraded",
    "paused",
]
OUTCOMES = [
    "cut p99 latency by {n}%",
    "reduced error rates to {n} per million requests",
    "saved about ${n}k a month",
    "closed {n} customer tickets",
    "unblocked the {q} roadmap",
    "freed {n} GB of disk",
    "halved the on-call pages",
    "raised test coverage to {n}%",
    "removed {n} flaky tests",
    "brought the queue backlog under {n} jobs",
]
PEOPLE = [
    "Ana",
    "Bilal",
    "Chen",
    "Dmitri",
    "Esther",
    "Farah",
    "Goran",
    "Hina",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Yara",
]
RISKS = [
    "a schema migration that locks the orders table",
    "an expiring TLS certificate",
    "the API deprecation in {q}",
    "a vendor contract renewal",
    "missing alerts on the export job",
    "an outage of the billing provider",
    "a memory leak in the worker pool",
    "stale feature flags",
    "unreviewed access to production",
    "GDPR deletion requests piling up",
]
FILLER = [
    "Overall the week was steady.",
    "Nothing else needs attention right now.",
    "Follow-ups are tracked in the linked tickets.",
    "The team agreed to revisit this at the next retro.",
    "Customer feedback on the change has been positive so far.",
    "We will keep an eye on the dashboards.",
    "Documentation was updated alongside the code.",
    "Numbers are from the production metrics for the week.",
]
CUSTOMER_PARTS = (
    ["Nor", "Zen", "Quad", "Vel", "Ox", "Lum", "Tor", "Cyr", "Pax", "Hel", "Mir", "Sol", "Ark", "Jun"],
    ["thwind", "trix", "ora", "bright", "field", "stone", "wave", "gate", "loop", "forge", "nest"],
)
CUSTOMERS = [a + b for a in CUSTOMER_PARTS[0] for b in CUSTOMER_PARTS[1]]  # 154 names, used rarely
QUARTERS = ["Q1", "Q2", "Q3", "Q4"]


def _fill(rng: random.Random, template: str) -> str:
    return template.format(n=rng.choice([2, 3, 5, 8, 12, 17, 25, 30, 40, 60, 120]), q=rng.choice(QUARTERS))


def _sentence(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        return (
            f"{rng.choice(PEOPLE)} {rng.choice(VERBS)} {rng.choice(SUBJECTS)}, which "
            f"{_fill(rng, rng.choice(OUTCOMES))}."
        )
    if kind < 0.65:
        return f"The main risk is {_fill(rng, rng.choice(RISKS))}; {rng.choice(PEOPLE)} owns the follow-up."
    if kind < 0.75:
        return (
            f"{rng.choice(CUSTOMERS)} reported an issue with {rng.choice(SUBJECTS)} "
            f"(INC-{rng.randint(1000, 9999)}), now {rng.choice(['resolved', 'in progress', 'waiting on them'])}."
        )
    return rng.choice(FILLER)


def paragraph(rng: random.Random) -> str:
    """About 80-100 words of Markdown: prose, a bullet list, and now and then a table or code."""
    kind = rng.random()
    if kind < 0.55:
        return " ".join(_sentence(rng) for _ in range(rng.randint(5, 7)))
    if kind < 0.85:
        head = rng.choice(["## Highlights", "## Risks", "## Decisions", "## Next steps", "### Details"])
        return head + "\n\n" + "\n".join(f"- {_sentence(rng)}" for _ in range(rng.randint(4, 6)))
    if kind < 0.93:
        rows = "\n".join(
            f"| {rng.choice(SUBJECTS)} | {rng.choice(PEOPLE)} | {rng.choice(['High', 'Medium', 'Low'])} |"
            for _ in range(4)
        )
        return (
            f"{_sentence(rng)} {_sentence(rng)}\n\n| Area | Owner | Severity |\n|:--|:-:|--:|\n{rows}\n\n"
            f"{_sentence(rng)}"
        )
    return (
        f"{_sentence(rng)} {_sentence(rng)}\n\n```sql\nCREATE INDEX CONCURRENTLY ix_orders_created\n"
        f"    ON orders (created_at DESC);\n```\n\n{_sentence(rng)}"
    )


def request_text(rng: random.Random) -> str:
    return rng.choice(
        [
            f"Summarise this week's #eng channel for the {rng.choice(QUARTERS)} review",
            f"Review PR #{rng.randint(100, 9999)}: {rng.choice(VERBS)} {rng.choice(SUBJECTS)}",
            f"Triage ticket INC-{rng.randint(1000, 9999)} from {rng.choice(CUSTOMERS)}",
            f"Write release notes for v{rng.randint(1, 9)}.{rng.randint(0, 40)}",
            f"Recap the call with {rng.choice(CUSTOMERS)} about {rng.choice(SUBJECTS)}",
        ]
    )


# --------------------------------------------------------------------------- #
# Building (or reusing) the bench database
# --------------------------------------------------------------------------- #

N_PARAGRAPHS = 6000
N_REQUESTS = 2000


def db_urls(name: str) -> tuple[str, str]:
    from sqlalchemy.engine import make_url

    from storage.db import normalise_url

    url = make_url(normalise_url(SERVER)).set(database=name).render_as_string(hide_password=False)
    return url, url.replace("postgresql+psycopg://", "postgresql://")


def database_exists(name: str) -> bool:
    with psycopg.connect(SERVER, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def drop_database(name: str) -> None:
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(sa_url: str) -> None:
    from sqlalchemy import create_engine

    from storage.migrate import upgrade

    engine = create_engine(sa_url)
    try:
        upgrade(engine)  # our real Alembic migrations (a no-op when already at head)
    finally:
        engine.dispose()


def existing_count(url: str) -> int:
    try:
        with psycopg.connect(url) as conn:
            return conn.execute("SELECT count(*) FROM artifacts").fetchone()[0]
    except psycopg.Error:
        return -1


def ready_database(name: str, n: int, *, rebuild: bool, build: Callable[[str, int], None]) -> tuple[str, str]:
    """The bench database ``name`` with ``n`` artifacts: reused when it has them (building 1M
    takes minutes), else built by ``build``; its (SQLAlchemy, psycopg) URLs."""
    sa_url, url = db_urls(name)
    count = existing_count(url) if database_exists(name) and not rebuild else -1
    if count != n:
        print(f"building {name} ({n:,} artifacts; reused by later runs, --rebuild to redo, --drop to remove)")
        build(name, n)
    else:
        print(f"reusing {name} ({count:,} artifacts; --rebuild to regenerate, --drop to remove)")
    return sa_url, url


def alembic_version(url: str) -> str | None:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else row[0]


def build(name: str, n: int) -> None:
    drop_database(name)
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    sa_url, url = db_urls(name)
    migrate(sa_url)
    rng = random.Random(20261124)
    t_start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET synchronous_commit = off")
        # workspaces, agents, pipelines (2-3 steps each) through plain SQL: setup, not measured
        pipelines: list[tuple[int, str, float]] = []  # id, team, weight
        for team, team_w in TEAMS:
            conn.execute("INSERT INTO workspaces (team_id, name) VALUES (%s, %s)", (team, team[3:].title()))
            agent_ids = [
                conn.execute(
                    "INSERT INTO agents (team_id, name, system_prompt, model, max_output_tokens) "
                    "VALUES (%s, %s, %s, %s, 2048) RETURNING id",
                    (team, a[0], a[3], a[1]),
                ).fetchone()[0]
                for a in AGENTS
            ]
            names = PIPELINE_NAMES if team_w >= 0.2 else PIPELINE_NAMES[:4]
            for j, pname in enumerate(names):
                pid = conn.execute(
                    "INSERT INTO pipelines (team_id, name) VALUES (%s, %s) RETURNING id", (team, pname)
                ).fetchone()[0]
                for pos, k in enumerate([j % 4, (j + 1) % 4, (j + 2) % 4][: 2 + j % 2], start=1):
                    conn.execute(
                        "INSERT INTO pipeline_steps (pipeline_id, position, agent_id, agent_name) "
                        "VALUES (%s, %s, %s, %s)",
                        (pid, pos, agent_ids[k], AGENTS[k][0]),
                    )
                pipelines.append((pid, team, team_w / len(names) * (1.6 if j == 0 else 1.0)))
        # the pipeline of each artifact is drawn from a 1000-slot table weighted like real use
        total_w = sum(w for _, _, w in pipelines)
        slots: list[tuple[int, int, str, int]] = []
        for pid, team, w in pipelines:
            nsteps = conn.execute("SELECT count(*) FROM pipeline_steps WHERE pipeline_id = %s", (pid,)).fetchone()[0]
            slots += [(0, pid, team, nsteps)] * max(1, round(1000 * w / total_w))
        conn.execute(
            "CREATE TEMP TABLE bench_slot (i int PRIMARY KEY, pipeline_id bigint, team_id text, "
            "pipeline_name text, nsteps int)"
        )
        pname = dict(conn.execute("SELECT id, name FROM pipelines").fetchall())
        with conn.cursor().copy("COPY bench_slot FROM STDIN") as cp:
            for i, (_, pid, team, nsteps) in enumerate(slots):
                cp.write_row((i, pid, team, pname[pid], nsteps))
        n_slots = len(slots)
        conn.execute("CREATE TEMP TABLE bench_para (i int PRIMARY KEY, body text)")
        with conn.cursor().copy("COPY bench_para FROM STDIN") as cp:
            for i in range(N_PARAGRAPHS):
                cp.write_row((i, paragraph(rng)))
        conn.execute("CREATE TEMP TABLE bench_req (i int PRIMARY KEY, body text)")
        with conn.cursor().copy("COPY bench_req FROM STDIN") as cp:
            for i in range(N_REQUESTS):
                cp.write_row((i, request_text(rng)))
        conn.execute("CREATE TEMP TABLE bench_agent (i int PRIMARY KEY, snap jsonb, model text, display text)")
        for i, (aname, model, display, prompt) in enumerate(AGENTS):
            conn.execute(
                "INSERT INTO bench_agent VALUES (%s, %s, %s, %s)",
                (
                    i,
                    json.dumps(
                        {
                            "id": i + 1,
                            "name": aname,
                            "model": model,
                            "system_prompt": prompt,
                            "temperature": None,
                            "max_output_tokens": 2048,
                            "tools": [],
                        }
                    ),
                    model,
                    display,
                ),
            )
        conn.execute("ANALYZE bench_slot; ANALYZE bench_para; ANALYZE bench_req; ANALYZE bench_agent")

        # One artifact per g, in time order over the last 400 days (append-only, like production).
        # Each g picks (by multiplicative hashing) a pipeline slot, 3 paragraphs for the final output,
        # 1 for the first step's draft, a request text; 6% of runs fail (half of them before any step).
        insert = f"""
        INSERT INTO artifacts (id, team_id, run_id, pipeline_id, pipeline_name, status, cost_usd, models,
                               created_by, content, created_at)
        SELECT x.id, x.team_id, NULL, x.pipeline_id, x.pipeline_name, x.status, x.cost, x.models, x.user_id,
          jsonb_build_object(
            'version', 1, 'run_id', gen_random_uuid()::text, 'team_id', x.team_id, 'status', x.status,
            'pipeline', jsonb_build_object('id', x.pipeline_id, 'name', x.pipeline_name),
            'input', x.input, 'output', CASE WHEN x.failed THEN NULL ELSE x.final END,
            'requested_by', x.user_id, 'source', 'slack',
            'created_at', to_char(x.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
            'started_at', to_char(x.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
            'finished_at', to_char((x.created_at + make_interval(secs => x.ms / 1000.0)) AT TIME ZONE 'UTC',
                                   'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
            'duration_ms', x.ms, 'cost_usd', x.cost::text, 'models', to_jsonb(x.models),
            'usage', jsonb_build_object('input_tokens', x.tin, 'output_tokens', x.tout,
                                        'cache_read_tokens', 0, 'cache_write_tokens', 0),
            'attempts', 1,
            'slack', jsonb_build_object('channel_id', 'C0' || (x.h % 40), 'thread_ts', x.ts,
                     'thread_url', 'https://app.slack.com/client/' || x.team_id || '/C0' || (x.h % 40)
                                   || '/thread/C0' || (x.h % 40) || '-' || x.ts),
            'error', CASE WHEN x.failed THEN jsonb_build_object(
                       'kind', 'provider_overloaded', 'message',
                       'Anthropic returned 529 overloaded_error three times; gave up after 41 s.',
                       'step', CASE WHEN x.early THEN 1 ELSE 2 END) END,
            'steps', CASE WHEN x.failed AND x.early THEN '[]'::jsonb ELSE jsonb_build_array(
              jsonb_build_object('position', 1, 'status', 'succeeded', 'agent', x.snap1, 'model', x.model1,
                'model_display', x.display1, 'input', x.input, 'output', x.draft,
                'usage', jsonb_build_object('input_tokens', x.tin / 2, 'output_tokens', x.tout / 3),
                'raw_usage', jsonb_build_object('input_tokens', x.tin / 2, 'output_tokens', x.tout / 3),
                'cost_usd', round(x.cost / 3, 6)::text, 'price_version', '2026-11-01', 'latency_ms', x.ms / 3,
                'error', NULL),
              jsonb_build_object('position', 2, 'status', CASE WHEN x.failed THEN 'failed' ELSE 'succeeded' END,
                'agent', x.snap2, 'model', x.model2, 'model_display', x.display2, 'input', x.draft,
                'output', CASE WHEN x.failed THEN NULL ELSE x.final END,
                'usage', jsonb_build_object('input_tokens', x.tin / 2, 'output_tokens', 2 * x.tout / 3),
                'raw_usage', jsonb_build_object('input_tokens', x.tin / 2, 'output_tokens', 2 * x.tout / 3),
                'cost_usd', round(2 * x.cost / 3, 6)::text, 'price_version', '2026-11-01', 'latency_ms', 2 * x.ms / 3,
                'error', CASE WHEN x.failed THEN jsonb_build_object('kind', 'provider_overloaded',
                  'message', 'Anthropic returned 529 overloaded_error three times; gave up after 41 s.') END)
            ) END),
          x.created_at
        FROM (
          SELECT gen_random_uuid() AS id, s.team_id, s.pipeline_id, s.pipeline_name, h,
                 (h % 100) < 6 AS failed, (h % 100) < 3 AS early,
                 CASE WHEN (h % 100) < 6 THEN 'failed' ELSE 'succeeded' END AS status,
                 round((0.0004 + (h % 997) / 40000.0)::numeric, 6) AS cost,
                 ARRAY[ag1.model, ag2.model]::varchar[] AS models,
                 ag1.snap AS snap1, ag1.model AS model1, ag1.display AS display1,
                 ag2.snap AS snap2, ag2.model AS model2, ag2.display AS display2,
                 'U0' || lpad((h % 300)::text, 7, '0') AS user_id,
                 now() - make_interval(secs => ({n} - g) * (34560000.0 / {n})) AS created_at,
                 (1700000000 + g * 30)::text || '.' || lpad((h % 999999)::text, 6, '0') AS ts,
                 900 + (h % 20000) AS ms, 800 + (h % 3000) AS tin, 300 + (h % 900) AS tout,
                 rq.body AS input, d.body AS draft,
                 p1.body || E'\\n\\n' || p2.body || E'\\n\\n' || p3.body AS final
          FROM (SELECT g, ((g::bigint * 2654435761) % 4294967291) AS h
                FROM generate_series({{lo}}, {{hi}}) g) gg
          JOIN bench_slot s ON s.i = gg.h % {n_slots}
          CROSS JOIN LATERAL (SELECT (gg.h / 7) % 4 AS ag1_i, (gg.h / 7 + 1) % 4 AS ag2_i) ai
          JOIN bench_agent ag1 ON ag1.i = ai.ag1_i
          JOIN bench_agent ag2 ON ag2.i = ai.ag2_i
          JOIN bench_req rq ON rq.i = (gg.h / 11) % {N_REQUESTS}
          JOIN bench_para d ON d.i = (gg.h / 13) % {N_PARAGRAPHS}
          JOIN bench_para p1 ON p1.i = (gg.h / 17) % {N_PARAGRAPHS}
          JOIN bench_para p2 ON p2.i = (gg.h / 19) % {N_PARAGRAPHS}
          JOIN bench_para p3 ON p3.i = (gg.h / 23) % {N_PARAGRAPHS}
        ) x
        """
        bulk_load_artifacts(conn, insert, n)
    print(f"built {name} with {n:,} artifacts in {time.perf_counter() - t_start:.0f} s", flush=True)


# --------------------------------------------------------------------------- #
# Servers under test
# --------------------------------------------------------------------------- #


def serve_bare(port: int, url: str) -> None:
    """A bare Starlette route doing only the plain query, served like `pipebot serve` serves ours."""
    import threading

    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response
    from starlette.routing import Route

    local = threading.local()

    def fetch(artifact_id: str) -> str | None:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(url, autocommit=True)
        row = conn.execute("SELECT content::text FROM artifacts WHERE id = %s", (artifact_id,)).fetchone()
        return None if row is None else row[0]

    async def artifact(request):  # type: ignore[no-untyped-def]
        body = await run_in_threadpool(fetch, request.path_params["ident"])
        return Response(body or "", status_code=200 if body else 404, media_type="application/json")

    app = Starlette(routes=[Route("/artifacts/{ident}", artifact)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, what: str) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} did not start")


# --------------------------------------------------------------------------- #
# Measuring
# --------------------------------------------------------------------------- #


def line(label: str, xs: list[float]) -> str:
    return f"{label:<44} p50 {statistics.median(xs):7.2f} ms   p99 {pct(xs, 99):7.2f} ms"


class Captured:
    """The SQL statements (and parameters) an engine sent, to EXPLAIN exactly what our code ran.
    ``sql``/``params`` are the last one; ``queries`` the SELECTs since ``clear()``, settings aside."""

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        from sqlalchemy import event

        self.sql: str = ""
        self.params: object = None
        self.queries: list[tuple[str, object]] = []

        @event.listens_for(engine, "before_cursor_execute")
        def _capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            self.sql, self.params = statement, parameters
            if (
                statement.lstrip().upper().startswith(("SELECT", "WITH"))
                and "_setting(" not in statement
                and "set_config(" not in statement
            ):
                self.queries.append((statement, parameters))

    def clear(self) -> None:
        self.queries = []


def explain(conn: psycopg.Connection, sql: str, params: object) -> list[str]:
    rows = conn.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql, params).fetchall()
    keep = [r[0] for r in rows if re.search(r"Scan|Limit|Sort|Recheck|Index Cond|Filter|Removed|BitmapAnd", r[0])]
    return keep[:9]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--rebuild", action="store_true", help="drop and rebuild the bench database")
    ap.add_argument("--drop", action="store_true", help="drop the bench database and exit")
    ap.add_argument("--serve-bare", nargs=2, metavar=("PORT", "URL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_bare:
        serve_bare(int(args.serve_bare[0]), args.serve_bare[1])
        return

    n = args.artifacts
    name = "pipebot_bench_1m" if n == 1_000_000 else f"pipebot_bench_{n}"
    if args.drop:
        drop_database(name)
        print(f"dropped {name}")
        return
    sa_url, url = ready_database(name, n, rebuild=args.rebuild, build=build)
    before = alembic_version(url)
    t0 = time.perf_counter()
    migrate(sa_url)
    if alembic_version(url) != before:
        print(f"  migrated {before} -> {alembic_version(url)} in place ({time.perf_counter() - t0:.0f} s)", flush=True)
        with psycopg.connect(url, autocommit=True) as conn:
            t0 = time.perf_counter()
            conn.execute("VACUUM (ANALYZE) artifacts")
            print(f"  vacuum analyze ({time.perf_counter() - t0:5.1f} s)", flush=True)

    import httpx

    from core.permalinks import derive_key, permalink
    from storage.db import make_engine, make_sessionmaker
    from storage.repos import artifacts as artifact_repo
    from storage.secrets import new_key

    rng = random.Random(7)
    reps = args.requests
    with psycopg.connect(url, autocommit=True) as conn:
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        print(
            f"artifacts: {n:,} in {size}; {len(TEAMS)} workspaces, "
            f"{conn.execute('SELECT count(*) FROM pipelines').fetchone()[0]} pipelines; "
            f"PostgreSQL {conn.info.server_version // 10000}, {os.cpu_count()} cores, "
            f"load {os.getloadavg()[0]:.1f}"
        )
        pipes = conn.execute("SELECT team_id, id FROM pipelines").fetchall()
        sample = conn.execute(
            "SELECT id::text, team_id FROM artifacts TABLESAMPLE SYSTEM (0.5) REPEATABLE (7) LIMIT %s", (reps,)
        ).fetchall()
        sample = (sample * (reps // max(1, len(sample)) + 1))[:reps]
        rng.shuffle(sample)

    engine = make_engine(sa_url)
    Session = make_sessionmaker(engine)
    cap = Captured(engine)
    plain = psycopg.connect(url, autocommit=True)
    plans: dict[str, list[str]] = {}

    # ---- 1. latest 10 for a pipeline --------------------------------------------------------
    sql_latest = (
        "SELECT id, pipeline_name, status, cost_usd, models, created_at, created_by, run_id FROM artifacts "
        "WHERE team_id = %s AND pipeline_id = %s ORDER BY created_at DESC, id DESC LIMIT 10"
    )
    ours_l, plain_l = [], []
    with Session() as s:
        for i in range(reps + 20):
            team, pid = rng.choice(pipes)
            t0 = time.perf_counter()
            rows = artifact_repo.latest_artifacts(s, team, pipeline_id=pid, limit=10)
            t1 = time.perf_counter()
            prow = plain.execute(sql_latest, (team, pid)).fetchall()
            t2 = time.perf_counter()
            assert [r.id for r in rows] == [r[0] for r in prow]
            if i >= 20:
                ours_l.append((t1 - t0) * 1000)
                plain_l.append((t2 - t1) * 1000)
            s.rollback()
        plans["latest 10 for a pipeline (ours)"] = explain(plain, cap.sql, cap.params)

    # ---- 2. full-text search ------------------------------------------------------------------
    team0 = TEAMS[0][0]
    # a fairly rare word (1.3 %), two common ones, a rare one (0.05 %), one that occurs nowhere,
    # a phrase, and a phrase of common words that never occurs in that order (the worst case)
    queries = ["Northwind", "memory leak", "billing", "INC-9250", "Northwynd", '"memory leak"', '"leak memory"']
    sql_fts = (
        "SELECT id, pipeline_name, status, cost_usd, models, created_at, created_by, run_id FROM artifacts "
        "WHERE team_id = %s AND output_tsv @@ websearch_to_tsquery('english'::regconfig, %s) "
        "ORDER BY created_at DESC, id DESC LIMIT 10"
    )
    fts_ours: dict[str, list[float]] = {q: [] for q in queries}
    fts_plain: dict[str, list[float]] = {q: [] for q in queries}
    fts_reps = max(20, reps // 5)  # 100 of each query for 500 page requests (10 of a slow one)
    with Session() as s:
        for q in queries:
            n_reps = fts_reps
            for i in range(n_reps + 3):
                cap.clear()
                t0 = time.perf_counter()
                rows = artifact_repo.search_artifacts(s, team0, q, limit=10)
                t1 = time.perf_counter()
                prow = plain.execute(sql_fts, (team0, q)).fetchall()
                t2 = time.perf_counter()
                assert [r.id for r in rows] == [r[0] for r in prow]
                if i >= 3:
                    fts_ours[q].append((t1 - t0) * 1000)
                    fts_plain[q].append((t2 - t1) * 1000)
                if i == 0:
                    steps = [explain(plain, sql, params) for sql, params in cap.queries]
                    plans[f"search {q!r} (ours, {len(steps)} statement{'s' if len(steps) > 1 else ''})"] = [
                        p for step in steps for p in step
                    ]
                    plans[f"search {q!r} (plain SQL)"] = explain(plain, sql_fts, (team0, q))
                    if (t2 - t0) > 0.2:
                        n_reps = 10
                if i >= n_reps + 2:
                    break
                s.rollback()
        pipe0 = next(pid for team, pid in pipes if team == team0)
        for q in ("Northwind", "Northwynd"):
            label = f"search {q!r} in one pipeline"
            fts_ours[label], fts_plain[label] = [], []
            for i in range(fts_reps + 3):
                cap.clear()
                t0 = time.perf_counter()
                artifact_repo.search_artifacts(s, team0, q, pipeline_id=pipe0, limit=10)
                if i >= 3:
                    fts_ours[label].append((time.perf_counter() - t0) * 1000)
                if i == 0:
                    plans[f"{label} (ours)"] = [p for sql, params in cap.queries for p in explain(plain, sql, params)]
                s.rollback()
    matches = {
        q: plain.execute(
            "SELECT count(*) FROM artifacts WHERE team_id = %s "
            "AND output_tsv @@ websearch_to_tsquery('english'::regconfig, %s)",
            (team0, q),
        ).fetchone()[0]
        for q in queries
    }

    # ---- 2b. the permalink lookup in-process: Core select (ours) vs the ORM get it replaced ---------
    from storage.models import Artifact

    lookup_core, lookup_orm = [], []
    for i, (aid, _) in enumerate(sample[:20] + sample):
        t0 = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # as bot/artifact_routes
            found = artifact_repo.artifact_content_unscoped(conn, aid)
        t1 = time.perf_counter()
        with Session() as s:
            art = s.get(Artifact, uuid.UUID(aid))
            dict(art.content)
        t2 = time.perf_counter()
        assert found is not None and found[0] == art.team_id
        if i >= 20:
            lookup_core.append((t1 - t0) * 1000)
            lookup_orm.append((t2 - t1) * 1000)

    # ---- 3. the permalink page over HTTP ------------------------------------------------------
    secret = new_key()
    key = derive_key(secret)
    port_ours, port_bare = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PIPEBOT_", "DATABASE_", "REDIS_"))}
    env.update(
        DATABASE_URL=url,
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
        PIPEBOT_SECRET_KEY=secret,
        PIPEBOT_PUBLIC_URL=f"http://127.0.0.1:{port_ours}",
        PORT=str(port_ours),
        PYTHONPATH=str(ROOT),
    )
    workdir = tempfile.mkdtemp(prefix="pipebot-bench-")  # no stray .env is read
    pipebot = [str(Path(sys.executable).with_name("pipebot"))]
    if not Path(pipebot[0]).exists():
        pipebot = [sys.executable, "-m", "bot.cli.main"]
    ours_proc = subprocess.Popen(
        [*pipebot, "serve", "--port", str(port_ours)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    bare_proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve-bare", str(port_bare), url],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
    )
    page_ours, page_json, page_bare, page_plain = [], [], [], []
    sizes: list[int] = []
    try:
        _wait_http(f"http://127.0.0.1:{port_ours}/healthz", ours_proc, "pipebot serve")
        _wait_http(
            f"http://127.0.0.1:{port_bare}/artifacts/00000000-0000-0000-0000-000000000000", bare_proc, "bare server"
        )
        with httpx.Client(timeout=10) as client:  # keep-alive, like a browser
            links = [permalink(f"http://127.0.0.1:{port_ours}", aid, team, key) for aid, team in sample]
            for i, ((aid, _), link) in enumerate(zip(sample[:20] + sample, links[:20] + links, strict=True)):
                t0 = time.perf_counter()
                r = client.get(link)
                t1 = time.perf_counter()
                b = client.get(f"http://127.0.0.1:{port_bare}/artifacts/{aid}")
                t2 = time.perf_counter()
                plain.execute("SELECT content, team_id FROM artifacts WHERE id = %s", (aid,)).fetchone()
                t3 = time.perf_counter()
                assert r.status_code == 200 and b.status_code == 200, (r.status_code, b.status_code)
                if i >= 20:
                    page_ours.append((t1 - t0) * 1000)
                    page_bare.append((t2 - t1) * 1000)
                    page_plain.append((t3 - t2) * 1000)
                    sizes.append(len(r.content))
            for aid, team in sample[: max(20, reps // 5)]:
                link = permalink(f"http://127.0.0.1:{port_ours}", aid, team, key, suffix=".json")
                t0 = time.perf_counter()
                assert client.get(link).status_code == 200
                page_json.append((time.perf_counter() - t0) * 1000)
        with engine.connect() as conn:
            cap.clear()
            artifact_repo.artifact_content_unscoped(conn, sample[0][0])
        plans["permalink page lookup (ours)"] = explain(plain, *cap.queries[0])
    finally:
        for proc in (ours_proc, bare_proc):
            proc.terminate()
        for proc in (ours_proc, bare_proc):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        plain.close()
        engine.dispose()

    # ---- report -------------------------------------------------------------------------------
    print()
    print(line("latest 10 for a pipeline: pipebot (repos)", ours_l))
    print(line("latest 10 for a pipeline: plain psycopg", plain_l))
    print(
        line(f"permalink page over HTTP: pipebot ({reps}x)", page_ours)
        + f"   ({statistics.median(sizes) / 1024:.0f} KiB HTML)"
    )
    print(line("permalink .json over HTTP: pipebot", page_json))
    print(line("bare Starlette+uvicorn, plain query", page_bare))
    print(line("plain psycopg (SELECT content by id)", page_plain))
    print(line("lookup in-process: Core select (ours)", lookup_core))
    print(line("lookup in-process: ORM session.get", lookup_orm))
    for q in queries:
        print(line(f"search {q!r}: pipebot (repos)", fts_ours[q]) + f"   ({matches[q]:,} matches, {len(fts_ours[q])}x)")
        print(line(f"search {q!r}: plain SQL, one statement", fts_plain[q]))
    for label in list(fts_ours):
        if label not in queries:
            print(line(f"{label}: pipebot", fts_ours[label]))
    p99_ours, p99_plain, p99_bare = pct(page_ours, 99), pct(page_plain, 99), pct(page_bare, 99)
    met_abs = p99_ours <= 50
    print(f"target page p99 <= 50 ms: {'met' if met_abs else 'MISSED'} ({p99_ours:.2f} ms)")
    print(
        f"target page p99 <= 2x plain query: {'met' if p99_ours <= 2 * p99_plain else 'MISSED'} "
        f"({p99_ours / p99_plain:.1f}x plain psycopg; bare HTTP route alone is {p99_bare / p99_plain:.1f}x; "
        f"pipebot is {p99_ours / p99_bare:.1f}x the bare route)"
    )
    print()
    for label, plan in plans.items():
        print(f"plan, {label}:")
        for p in plan:
            print(f"    {p.strip()}")


if __name__ == "__main__":
    main()

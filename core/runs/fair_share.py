"""Fair share: at most PIPEBOT_WORKSPACE_CONCURRENCY runs of one workspace in flight at
once, across every worker.

A slot is a lease in a Redis sorted set per workspace (member: the run id, score: when
the lease ends). Taking one is a single Lua script, so two workers never both take the
last slot; a lease its holder stops renewing (a killed worker) simply expires, so the
count heals itself without anyone cleaning up. Redis rather than PostgreSQL: the check
has to be atomic across workers before the executor's claim, which is its own
transaction, and the dispatch state already lives in Redis. Losing Redis loses only the
leases, for at most one lease time, never a run (PostgreSQL keeps those).
"""

from __future__ import annotations

import threading
import time

from redis import Redis

from core.timings import SLOT_LEASE_S

_ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[2]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[2])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[4])) + 60)
  return 1
end
return 0
"""


def slots_key(team_id: str) -> str:
    return f"pipebot:slots:{team_id}"


class WorkspaceSlot:
    """One run's slot: ``acquire`` once, then it renews itself until ``release``."""

    def __init__(self, redis: Redis, team_id: str, run_id: str, limit: int, *, lease_s: float = SLOT_LEASE_S) -> None:
        self._redis, self._key, self._run_id = redis, slots_key(team_id), run_id
        self._limit, self._lease = limit, lease_s
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def try_acquire(self) -> bool:
        return bool(self._redis.eval(_ACQUIRE, 1, self._key, time.time(), self._run_id, self._limit, self._lease))

    def wait(self, timeout: float, every: float = 0.2) -> bool:
        """Try for up to ``timeout`` seconds; renew from then on when taken."""
        deadline = time.monotonic() + timeout
        while True:
            if self.try_acquire():
                self._renewer = threading.Thread(target=self._renew, daemon=True, name=f"slot-{self._run_id}")
                self._renewer.start()
                return True
            if time.monotonic() + every > deadline:
                return False
            time.sleep(every)

    def _renew(self) -> None:
        while not self._stop.wait(self._lease / 4):
            try:
                self._redis.zadd(self._key, {self._run_id: time.time() + self._lease}, xx=True)
            except Exception:  # noqa: BLE001 - Redis away: the lease lapses, the run goes on
                pass

    def release(self) -> None:
        self._stop.set()
        try:
            self._redis.zrem(self._key, self._run_id)
        except Exception:  # noqa: BLE001 - Redis away: the lease expires by itself
            pass

"""Fair share: a workspace's runs beyond PIPEBOT_WORKSPACE_CONCURRENCY (its share) wait
only while another workspace's runs wait; with one workspace, or none other waiting, no
slot stays idle (DESIGN §8: work-conserving, not a fixed cap).

A slot is a lease in a Redis sorted set per workspace (member: the run id, score: when
the lease ends). Taking one is a Lua script, so two workers never both take the last slot
of a share; a lease its holder stops renewing (a killed worker) simply expires, so the
count heals itself without anyone cleaning up. Redis rather than PostgreSQL for the
leases: the check has to be atomic across workers before the executor's claim, which is
its own transaction, and the dispatch state already lives in Redis.

"Another workspace's runs wait" is read from PostgreSQL: the workspaces with a run still
``queued`` (``storage.repos.runs.teams_with_queued_runs``), passed in by the caller as
``waiting_elsewhere``. A run is queued from the moment it is recorded until a worker
claims it, whether its job sits in the RQ queue behind this one, is going round the
queue for a slot, or was lost and awaits re-enqueueing: PostgreSQL is the one place that
sees all of those, and it is the source of truth for runs (§8), so nothing has to be kept
in step. A count kept in Redis at enqueue would miss runs enqueued while Redis was away
and drift when a job is lost. The query runs only when a workspace is at its share, over
a partial index of queued runs. A workspace yields only to one that is itself below its
share: one waiting at its own share is not held back by us, so two busy workspaces both
use every free slot.

A failure here (Redis or the query) never stops a run: it is logged and the run goes
ahead without fair share (losing Redis loses only the leases, for at most one lease time).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from redis import Redis
from redis.exceptions import RedisError

from core.timings import SLOT_LEASE_S

log = logging.getLogger(__name__)


# KEYS[1]: this workspace's leases; KEYS[2..]: the leases of workspaces with runs waiting.
# ARGV: now, run id, share, lease seconds, 1 to check whether someone waits below share.
# Returns 1 taken, 0 at its share with someone below theirs waiting, -1 at its share and
# the waiting workspaces are not yet known (the caller asks PostgreSQL, then calls again).
_ACQUIRE = """
local now, share = tonumber(ARGV[1]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not held and redis.call('ZCARD', KEYS[1]) >= share then
  if ARGV[5] ~= '1' then return -1 end
  for i = 2, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    if redis.call('ZCARD', KEYS[i]) < share then return 0 end
  end
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[4])) + 60)
return 1
"""

WaitingElsewhere = Callable[[], Sequence[str]]


def slots_key(team_id: str) -> str:
    return f"pipebot:slots:{team_id}"


def _nobody_waits() -> Sequence[str]:
    return ()


class WorkspaceSlot:
    """One run's slot: ``wait`` once, then it renews itself until ``release``.

    ``waiting_elsewhere`` names the other workspaces with runs waiting to start; it is
    called only when this workspace is at its share."""

    def __init__(
        self,
        redis: Redis,
        team_id: str,
        run_id: str,
        limit: int,
        *,
        waiting_elsewhere: WaitingElsewhere = _nobody_waits,
        lease_s: float = SLOT_LEASE_S,
    ) -> None:
        self._redis, self._team, self._key, self._run_id = redis, team_id, slots_key(team_id), run_id
        self._limit, self._lease, self._waiting_elsewhere = limit, lease_s, waiting_elsewhere
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def _eval(self, others: Sequence[str] | None) -> int:
        keys = [self._key, *(slots_key(t) for t in others or ())]
        args = (time.time(), self._run_id, self._limit, self._lease, "0" if others is None else "1")
        return int(self._redis.eval(_ACQUIRE, len(keys), *keys, *args))

    def try_acquire(self) -> bool:
        """Take a slot if the workspace is below its share, or if no workspace below its own
        share has runs waiting. A failure is logged and lets the run go ahead."""
        try:
            taken = self._eval(None)
            if taken == -1:
                taken = self._eval(list(self._waiting_elsewhere()))
        except Exception:  # noqa: BLE001 - fair share must never stop a run; say why it is off
            log.warning(
                "fair share unavailable for run %s of %s: it goes ahead without a slot",
                self._run_id,
                self._team,
                exc_info=True,
            )
            return True
        return taken == 1

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
            except RedisError as exc:  # Redis away: the lease lapses, the run goes on
                log.warning("fair share: could not renew the slot of run %s (%s)", self._run_id, exc)

    def release(self) -> None:
        self._stop.set()
        try:
            self._redis.zrem(self._key, self._run_id)
        except RedisError as exc:  # Redis away: the lease expires by itself
            log.warning("fair share: could not free the slot of run %s (%s); it expires by itself", self._run_id, exc)

"""`pipebot worker`: an RQ worker that is ready before it takes work, keeps many runs in
flight, and outlives Redis outages.

The provider SDKs are imported here, once, because a forked work horse would otherwise
import them again (over a second per job). A maintenance thread requeues runs whose worker
died and runs whose RQ job was lost with Redis, so none stays "running" or "queued" for
ever (PostgreSQL is the source of truth, Redis only the dispatch); another refreshes
"Queued: N runs ahead" on the messages of runs that wait (bot/worker/queue_position.py).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

import redis
from rq.exceptions import StopRequested

from bot.worker.command_channel import ForkWorker, InProcessWorker
from bot.worker.memory import return_big_buffers
from bot.worker.queue_position import start_queue_status
from bot.worker.threaded import ThreadedWorker
from core.context import AppContext
from core.runs.maintenance import maintain_runs
from core.runs.queue import run_queue
from core.schedules.fire import fire_all_due
from core.timings import REDIS_RECONNECT_MAX_S, RQ_MAINTENANCE_INTERVAL_S
from storage.db import make_engine, make_sessionmaker

log = logging.getLogger(__name__)

MODES = ("threads", "fork", "simple")


def preload() -> None:
    import anthropic  # noqa: F401
    import openai  # noqa: F401

    import bot.slack.reporter_factory  # noqa: F401  (and the reporter it builds)
    import core.permalinks  # noqa: F401
    import providers.registry  # noqa: F401
    from core.runs.job import reporter_factories

    reporter_factories()


def warm_up(ctx: AppContext) -> None:
    """Compile the executor's statements and stream a canned reply through each provider,
    opening nothing that survives: every forked horse inherits the compiled-statement
    cache, the TLS context and the SDKs' validators instead of rebuilding them per job."""
    import uuid

    from core.runs.executor import warm_statements
    from providers.warmup import warm_providers

    warm_providers()
    try:
        warm_statements(ctx, "__warmup__", uuid.uuid4())
    except Exception:  # noqa: BLE001 - only an optimisation
        log.exception("warm-up failed")


def sized_for(ctx: AppContext, concurrency: int) -> AppContext:
    """The context with a database pool for ``concurrency`` runs: each run holds a
    connection only for its short transactions, its heartbeat one now and then."""
    engine = make_engine(ctx.database_url, pool_size=min(concurrency + 2, 64))
    ctx.engine.dispose()
    return dataclasses.replace(ctx, engine=engine, sessions=make_sessionmaker(engine))


def maintain(ctx: AppContext) -> None:
    """One round (core.runs.maintenance): take over runs whose worker died, enqueue runs
    whose job was lost."""
    try:
        maintain_runs(ctx)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        log.warning("maintenance waits for Redis: %s", type(exc).__name__)
    except Exception:  # noqa: BLE001 - keep maintaining; the next round may work
        log.exception("maintenance failed")


def start_maintenance(ctx: AppContext, stop: threading.Event, every: float | None = None) -> threading.Thread:
    every = every or ctx.settings.PIPEBOT_REAP_SECONDS

    def loop() -> None:
        while not stop.wait(every):
            maintain(ctx)

    t = threading.Thread(target=loop, name="pipebot-maintenance", daemon=True)
    t.start()
    return t


def start_schedules(ctx: AppContext, stop: threading.Event, every: float | None = None) -> threading.Thread:
    """Fire due schedules every few seconds (every worker: the rows are taken with SKIP LOCKED,
    so each fire time runs once however many look; core/schedules/fire.py)."""
    every = every or ctx.settings.PIPEBOT_SCHEDULE_SECONDS

    def loop() -> None:
        while not stop.wait(every):
            try:
                fire_all_due(ctx)
            except Exception:  # noqa: BLE001 - a fire not taken stays due; the next round takes it
                log.exception("firing schedules failed")

    t = threading.Thread(target=loop, name="pipebot-schedules", daemon=True)
    t.start()
    return t


def wait_for_redis(client: redis.Redis, stop: threading.Event | None = None) -> None:
    """Back off (1 s, 2 s, … 30 s) until Redis answers."""
    delay = 1.0
    while stop is None or not stop.is_set():
        try:
            client.ping()
            return
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            log.warning("Redis is unreachable; trying again in %.0f s", delay)
            time.sleep(delay)
            delay = min(delay * 2, REDIS_RECONNECT_MAX_S)


def _stopping(worker: ForkWorker | InProcessWorker | ThreadedWorker) -> bool:
    return bool(worker._stop_requested or worker._shutdown_requested_date is not None)


def _queue_idle(ctx: AppContext, worker: object) -> bool:
    in_flight = getattr(worker, "in_flight", 0)
    return in_flight == 0 and run_queue(ctx).count == 0


def build_worker(
    ctx: AppContext, mode: str, name: str | None, concurrency: int
) -> ForkWorker | InProcessWorker | ThreadedWorker:
    queues = [run_queue(ctx)]
    if mode == "threads":
        return ThreadedWorker(
            queues,
            connection=ctx.redis,
            name=name,
            maintenance_interval=RQ_MAINTENANCE_INTERVAL_S,
            concurrency=concurrency,
        )
    worker_class = ForkWorker if mode == "fork" else InProcessWorker
    return worker_class(queues, connection=ctx.redis, name=name, maintenance_interval=RQ_MAINTENANCE_INTERVAL_S)


def run_worker(
    ctx: AppContext,
    *,
    burst: bool = False,
    name: str | None = None,
    mode: str = "threads",
    concurrency: int | None = None,
) -> int:
    """Work the queue until asked to stop (or, ``burst``, until it is empty).

    ``mode``: "threads" (the default) keeps up to ``concurrency`` runs in flight in this
    process; "fork" is RQ's default worker (a work horse per job, one at a time); "simple"
    runs one job at a time in this process. A loop that RQ ends on a Redis error is started
    again once Redis answers; the runs in flight go on meanwhile."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    concurrency = concurrency or ctx.settings.PIPEBOT_WORKER_CONCURRENCY
    if mode == "threads":
        ctx = sized_for(ctx, concurrency)
        return_big_buffers()
    preload()
    from core.runs import job

    job.set_context(ctx)
    warm_up(ctx)
    wait_for_redis(ctx.redis)
    maintain(ctx)  # a worker that starts after a crash or an outage picks up the pieces at once
    stop = threading.Event()
    start_maintenance(ctx, stop)
    start_schedules(ctx, stop)
    start_queue_status(ctx, stop)
    if mode == "fork":
        ctx.engine.dispose()  # nothing pooled crosses the fork
    worker = build_worker(ctx, mode, name, concurrency)
    try:
        while True:
            try:
                worker.work(burst=burst, logging_level="INFO", with_scheduler=False)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                log.warning("worker lost Redis (%s)", type(exc).__name__)
            if _stopping(worker):
                break
            try:
                if burst and _queue_idle(ctx, worker):
                    break
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                pass
            time.sleep(1.0)  # not a hot loop, whatever ended it
            wait_for_redis(ctx.redis)
            try:  # a registration left by the loop that died would block the next one's
                worker.register_death()
            except redis.exceptions.RedisError:
                continue
            log.info("Redis answers again; worker %s takes work again", worker.name)
    except StopRequested:  # asked to stop between two loops
        pass
    finally:
        stop.set()
    if isinstance(worker, ThreadedWorker):
        worker.wait_idle()
    return 0

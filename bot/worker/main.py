"""`pipebot worker`: an RQ worker that is ready before it forks.

The provider SDKs are imported here, in the parent, because each forked work horse would
otherwise import them again (over a second per job). A reaper thread requeues runs whose
worker died, so none stays "running".
"""

from __future__ import annotations

import logging
import os
import threading

from rq import Queue, SimpleWorker, Worker

from core.context import AppContext
from core.runs.queue import QUEUE, reap_stale_runs

log = logging.getLogger(__name__)

REAP_EVERY_S = float(os.environ.get("PIPEBOT_REAP_SECONDS", "10"))


def preload() -> None:
    import anthropic  # noqa: F401
    import openai  # noqa: F401

    import bot.worker.jobs  # noqa: F401
    import bot.slack.reporter  # noqa: F401
    import core.permalinks  # noqa: F401
    import providers.registry  # noqa: F401


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


def start_reaper(ctx: AppContext, stop: threading.Event, every: float = REAP_EVERY_S) -> threading.Thread:
    def loop() -> None:
        while not stop.wait(every):
            try:
                reap_stale_runs(ctx)
            except Exception:  # noqa: BLE001 - keep reaping; the next round may work
                log.exception("reaping stale runs failed")

    t = threading.Thread(target=loop, name="pipebot-reaper", daemon=True)
    t.start()
    return t


def run_worker(ctx: AppContext, *, burst: bool = False, name: str | None = None, fork: bool = True) -> int:
    """Work the queue. ``fork``: a work horse per job (rq.Worker, RQ's default, isolates each
    run); else jobs run in this process (rq.SimpleWorker), which keeps the warm database pool
    and the providers' keep-alive connections from one run to the next."""
    preload()
    from bot.worker import jobs
    jobs.set_context(ctx)
    warm_up(ctx)
    reap_stale_runs(ctx)  # a worker that starts after a crash picks up the pieces at once
    stop = threading.Event()
    if not burst:
        start_reaper(ctx, stop)
    ctx.engine.dispose()  # nothing pooled crosses the fork
    worker_class = Worker if fork else SimpleWorker
    worker = worker_class([Queue(QUEUE, connection=ctx.redis)], connection=ctx.redis, name=name,
                    maintenance_interval=60)
    try:
        ok = worker.work(burst=burst, logging_level="INFO", with_scheduler=False)
    finally:
        stop.set()
    return 0 if ok or burst else 1

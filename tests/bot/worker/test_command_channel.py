"""The worker's command channel: subscribed as RQ subscribes, and stopping does not wait for
the listener's minute-long read (every ``--burst`` worker and warm shutdown paid it).
(RQ's shutdown command raises SIGINT in the worker's process, so it is not sent here.)"""

from __future__ import annotations

import threading

import pytest

from bot.worker.command_channel import ForkWorker, InProcessWorker
from bot.worker.threaded import ThreadedWorker
from core.context import AppContext
from core.runs.queue import run_queue
from tests.support.waiting import wait_until


@pytest.mark.parametrize("worker_class", [ThreadedWorker, ForkWorker, InProcessWorker])
def test_the_channel_is_subscribed_and_unsubscribing_returns_promptly(ctx: AppContext, worker_class: type) -> None:
    worker = worker_class([run_queue(ctx)], connection=ctx.redis)
    worker.subscribe()
    try:
        wait_until(lambda: ctx.redis.pubsub_numsub(worker.pubsub_channel_name)[0][1] == 1)
    finally:
        done = threading.Thread(target=worker.unsubscribe, daemon=True)
        done.start()
        # RQ's own listener blocks for 60 s in one read; ours returns after at most one second
        done.join(timeout=15)
    assert not done.is_alive(), "unsubscribe waited on the command listener"
    assert not worker.pubsub_thread.is_alive()

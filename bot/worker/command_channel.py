"""The RQ worker's command channel (``rq.command``: shutdown, kill-horse, stop-job) with a
listener that lets the worker exit at once.

RQ 3 subscribes with ``run_in_thread(sleep_time=60)``, and redis-py 8.2's
``PubSubWorkerThread.stop()`` joins that thread, which sits in ``get_message(timeout=60)``:
every stop (a ``--burst`` worker that drained its queue, a warm shutdown) waited up to a
minute, past a typical 30 s grace period. The listener here reads with a short timeout
instead; everything else is RQ's.
"""

from __future__ import annotations

from typing import Any

from rq import SimpleWorker, Worker

from core.timings import COMMAND_CHANNEL_POLL_S


class PromptCommandChannel:
    """Mixin for an RQ worker class: subscribe as RQ does, with a short read timeout."""

    def subscribe(self: Any) -> None:
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=COMMAND_CHANNEL_POLL_S, daemon=True, exception_handler=self._pubsub_exception_handler
        )


class ForkWorker(PromptCommandChannel, Worker):
    """RQ's classic worker (a work horse per job)."""


class InProcessWorker(PromptCommandChannel, SimpleWorker):
    """RQ's in-process worker (one job at a time in this process)."""

"""An RQ worker that keeps many jobs in flight in one process.

RQ's own workers run one job at a time (a forked horse, or in-process); a pipeline run
spends nearly all its time waiting on a model, so one process with a thread per job in
flight serves many runs for about the memory of one. The queue, the registries, the job
and execution heartbeats and the job's life cycle stay RQ's: the main loop is RQ's
``work()``; only ``execute_job`` changes, handing the job to a thread and returning once
a slot is free again.

Why threads and not RQ's defaults:
- the death penalty: RQ's default uses SIGALRM, which works in the main thread only;
  ``TimerDeathPenalty`` raises the timeout in the job's own thread;
- heartbeats: the main thread blocks in the dequeue, so a thread of its own keeps the
  heartbeat of every job in flight (RQ's maintenance would otherwise abandon them).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis
from rq import Queue
from rq.executions import Execution
from rq.job import Job
from rq.timeouts import TimerDeathPenalty
from rq.worker import BaseWorker, WorkerStatus

from bot.worker.command_channel import PromptCommandChannel

log = logging.getLogger(__name__)


class ThreadedWorker(PromptCommandChannel, BaseWorker):
    """Up to ``concurrency`` jobs at once, each in a daemon thread of this process.

    A cold shutdown (a second SIGTERM) or a crash leaves the runs to the reaper: their
    heartbeats stop and another worker takes them over, resuming after their last
    finished step."""

    death_penalty_class = TimerDeathPenalty

    def __init__(self, *args: Any, concurrency: int = 32, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.concurrency = max(1, int(concurrency))
        self._in_flight: dict[str, tuple[Job, Execution]] = {}
        self._changed = threading.Condition()
        self._beating = threading.Event()
        self._beat_thread: threading.Thread | None = None
        self._burst = False

    # ---- the hooks RQ's work loop calls -------------------------------------------------

    def work(self, burst: bool = False, *args: Any, **kwargs: Any) -> bool:
        self._burst = burst
        self._start_heartbeats()
        return super().work(burst, *args, **kwargs)

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Start the job in a thread; return when fewer than ``concurrency`` are in flight,
        so the loop dequeues the next job only when it can start it."""
        execution = self.prepare_execution(job)
        with self._changed:
            self._in_flight[execution.id] = (job, execution)
        threading.Thread(target=self._perform, args=(job, queue, execution), daemon=True, name=f"job-{job.id}").start()
        with self._changed:
            while len(self._in_flight) >= self.concurrency and not self._stop_requested:
                self._changed.wait(1.0)

    def teardown(self) -> None:
        """A warm shutdown or a drained burst waits for the jobs in flight; a loop that ended
        on a Redis error does not (run_worker starts it again and they go on meanwhile).
        Redis being down here must not kill the process."""
        if self.stopping or self._burst:
            self.wait_idle()
        self._beating.set()
        try:
            super().teardown()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.warning("worker %s: could not register its stop in Redis (%s)", self.name, exc)

    # ---- what this class adds ------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """A warm shutdown was asked for (RQ raises StopRequested while idle, else sets a flag)."""
        return bool(self._stop_requested or self._shutdown_requested_date is not None)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: not self._in_flight, timeout)

    def _perform(self, job: Job, queue: Queue, execution: Execution) -> None:
        try:
            self.perform_job(job, queue, execution)
        except Exception:  # noqa: BLE001 - e.g. Redis down while RQ records the result
            log.exception("worker %s: job %s ended without its result recorded", self.name, job.id)
        finally:
            self.executions.pop(execution.id, None)
            with self._changed:
                self._in_flight.pop(execution.id, None)
                self._changed.notify_all()
            if not self._in_flight:
                try:
                    self.set_state(WorkerStatus.IDLE)
                except redis.exceptions.RedisError:
                    pass

    def _start_heartbeats(self) -> None:
        if self._beat_thread is not None and self._beat_thread.is_alive() and not self._beating.is_set():
            return
        self._beating = threading.Event()
        self._beat_thread = threading.Thread(
            target=self._heartbeat_loop, args=(self._beating,), daemon=True, name="rq-job-heartbeats"
        )
        self._beat_thread.start()

    def _heartbeat_loop(self, stop: threading.Event) -> None:
        """Every job in flight keeps its job, execution and worker heartbeats, as RQ's horse
        monitor does for its one job."""
        every = max(1.0, min(self.job_monitoring_interval, 15))
        while not stop.wait(every):
            with self._changed:
                jobs = list(self._in_flight.values())
            for job, execution in jobs:
                try:
                    self.maintain_heartbeats(job, execution)
                except redis.exceptions.RedisError as exc:
                    log.warning("worker %s: heartbeat of job %s failed (%s)", self.name, job.id, exc)
                    break

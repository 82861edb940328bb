"""How a running run notices that its cancel was asked for (see core/runs/cancel.py for the
rules): a watch the step asks between stream events, and the exception that stops the step.
Apart from core/runs/cancel.py so that the step (core/runs/steps.py) can use it without
importing how runs are closed."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from core.context import AppContext
from core.timings import CANCEL_POLL_S
from storage.repos import runs as run_repo
from storage.states import FailureKind

log = logging.getLogger(__name__)

KIND = FailureKind.CANCELLED  # the run's error kind
CLI_USER = "cli"  # who cancelled, for `pipebot cancel`


def cancelled_message(user: str) -> str:
    """The run's error message; ``user`` is a Slack mention in Slack, the plain id elsewhere."""
    return f"cancelled by {user}"


class RunCancelled(Exception):
    """Raised inside a step when its run's cancel was asked for; ``output`` is what the
    model had written of the step so far."""

    def __init__(self, by: str, output: str = "") -> None:
        super().__init__(cancelled_message(by))
        self.by, self.output = by, output
        self.call: Any = None  # the step's core.runs.steps.StepCall so far: what it cost


class CancelWatch:
    """Whether the run's cancel was asked for, cheap enough to ask between stream events:
    the answer is read from PostgreSQL at most every ``poll_s`` seconds (so a run whose
    steps are quick pays no statement for it), and once yes it stays yes."""

    def __init__(
        self,
        ctx: AppContext,
        team_id: str,
        run_id: uuid.UUID,
        *,
        poll_s: float = CANCEL_POLL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ctx, self._team_id, self._run_id = ctx, team_id, run_id
        self._poll_s, self._clock = poll_s, clock
        self._checked = clock()  # made right after the claim, which refused a run with a cancel request
        self._lock = threading.Lock()
        self.by: str | None = None

    def requested(self, *, now: bool = False) -> str | None:
        """Who asked to cancel (None: nobody yet); ``now`` reads the database whatever the time."""
        if self.by is not None:
            return self.by
        with self._lock:
            t = self._clock()
            if not now and t - self._checked < self._poll_s:
                return None
            self._checked = t
            try:
                self.by = run_repo.cancel_requested_by(self._ctx.engine, self._team_id, self._run_id)
            except Exception:  # noqa: BLE001 - the database away for a moment: ask again next time
                log.warning("could not read the cancel request of run %s", self._run_id)
        return self.by

    def check(self, output: str = "", *, now: bool = False) -> None:
        """Raise RunCancelled when the run's cancel was asked for."""
        by = self.requested(now=now)
        if by is not None:
            raise RunCancelled(by, output)

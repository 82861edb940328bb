"""Domain errors whose messages are written for the person who typed the command."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.models import Run


class ValidationFailed(Exception):
    """Field-keyed messages, so a modal can put each next to its input."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotFound(Exception):
    pass


class RefusalKind(StrEnum):
    """Why a request to start a run was refused before any run existed (never stored; the
    refusals a run can also meet when it starts are storage.states.FailureKind)."""

    BAD_INPUT = "bad_input"
    NOT_FOUND = "not_found"
    IN_PROGRESS = "in_progress"
    VERSION_MISSING = "version_missing"
    BAD_STEP = "bad_step"
    BAD_AGENT = "bad_agent"
    NOTHING_TO_REUSE = "nothing_to_reuse"
    DAILY_LIMIT = "daily_limit"  # the workspace's spend today reached its daily limit
    PERSON_RATE = "person_rate"  # the requester started the workspace's runs per person this hour


class RunRejected(Exception):
    """A run cannot start; `kind` (a RefusalKind or a FailureKind) is kept on the run so lists and
    threads can say why."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class QueueUnavailable(Exception):
    """The run is saved (queued in the database) but the job queue could not be reached: it
    starts by itself once the queue is back, so callers say so rather than report a failure."""

    MESSAGE = (
        "The job queue is unreachable right now. Your run is saved and will start by itself "
        "as soon as the queue is back."
    )

    def __init__(self, run: Run) -> None:
        super().__init__(self.MESSAGE)
        self.run = run
        self.message = self.MESSAGE

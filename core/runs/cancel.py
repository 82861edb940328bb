"""Cancelling a run, and how a running one notices.

The request is recorded in PostgreSQL (``runs.cancel_requested_by``/``_at``), so a worker
in any process sees it, and PostgreSQL alone decides:

* a **queued** run is closed at once, in the transaction that records the request
  (``failed``, error kind ``cancelled``), and the executor's claim refuses any run with a
  cancel request, so it never starts and no provider is called;
* a **running** run is stopped by its executor: the step asks :class:`CancelWatch`
  between stream events (a cheap in-memory check; the database at most every
  ``core.timings.CANCEL_POLL_S``), closes the model's stream, and the run ends ``failed`` with
  "cancelled by …". A non-streaming call cannot be interrupted: it ends first, is kept
  as a finished step, and the run stops before the next one. Finished steps stay in the
  artifact and nothing is called again (a failed run is never retried);
* a **waiting** run (it paused for an approval, DESIGN §12) is closed at once too, in the
  same transaction, and its pending approval is marked cancelled: a click on Approve that
  comes after is told "this run was cancelled" (core/runs/approvals.py);
* a **finished** run is left as it ended.

Who may cancel (the requester or an admin) is the surface's rule: admins are a Slack
notion (bot/slack/admin.py).

Queue positions ("Queued: N runs ahead"): N counts the runs of the deployment queued
before this one and still waiting (storage.repos.runs.queue_positions). The queue is
first in, first out, so that is exact without fair share; with it, a run whose workspace
is at its PIPEBOT_WORKSPACE_CONCURRENCY share while another workspace's runs wait goes back
to the end of the queue, so N is the count ahead in the queue's order (runs of a capped
workspace may start later than N says), never a promise.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass

from core.context import AppContext
from core.runs.cancel_watch import CLI_USER, KIND, CancelWatch, RunCancelled, cancelled_message
from core.runs.outcome import write_outcome
from storage.db import transaction
from storage.repos import approvals as approval_repo
from storage.repos import runs as run_repo
from storage.states import FINISHED, RunStatus

log = logging.getLogger(__name__)

__all__ = [
    "CLI_USER",
    "KIND",
    "CancelAnswer",
    "CancelResult",
    "CancelWatch",
    "RunCancelled",
    "cancel_run",
    "cancelled_message",
]


class CancelResult(enum.Enum):
    CANCELLED = "cancelled"  # it was queued or waiting: closed now, it never (re)starts
    STOPPING = "stopping"  # it is running: its worker stops it within seconds
    ALREADY_REQUESTED = "already"  # someone asked before (a double click)
    FINISHED = "finished"  # it had ended already
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class CancelAnswer:
    result: CancelResult
    status: str | None = None  # the run's status after the request
    requested_by: str | None = None  # who started the run
    permalink: str | None = None  # the artifact of a run closed now


def cancel_run(ctx: AppContext, team_id: str, run_id: uuid.UUID | str, by: str) -> CancelAnswer:
    """Record ``by``'s request to cancel the run and close it now if it is still queued or
    waits for an approval (the run's row is locked first, then its approval, as a decision
    does, so a click and a cancel have one winner)."""
    try:
        rid = uuid.UUID(str(run_id))
    except ValueError:
        return CancelAnswer(CancelResult.NOT_FOUND)
    with transaction(ctx.sessions) as s:
        status = run_repo.request_cancel(s, team_id, rid, by)
        closed = status == RunStatus.QUEUED and run_repo.close_cancelled_queued(
            s, team_id, rid, kind=KIND, message=cancelled_message(by)
        )
        if status == RunStatus.WAITING:
            closed = run_repo.close_waiting(s, team_id, rid, kind=KIND, message=cancelled_message(by))
            approval_repo.cancel_pending(s, team_id, rid, by)
        run = run_repo.get_run(s, team_id, rid)
        if run is None:
            return CancelAnswer(CancelResult.NOT_FOUND)
        now_status, requester = run.status, run.requested_by
    if closed:
        log.info("run %s cancelled by %s before it started", rid, by)
        outcome = write_outcome(ctx, team_id, rid)  # the one artifact of a finished run
        return CancelAnswer(CancelResult.CANCELLED, now_status, requester, outcome.permalink)
    if status is not None:
        log.info("run %s: %s asked to cancel it; its worker stops it", rid, by)
        return CancelAnswer(CancelResult.STOPPING, now_status, requester)
    if now_status in FINISHED:
        return CancelAnswer(CancelResult.FINISHED, now_status, requester)
    return CancelAnswer(CancelResult.ALREADY_REQUESTED, now_status, requester)

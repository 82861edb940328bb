"""Deciding an approval (DESIGN §12): what the Approve, Edit & approve and Reject buttons (and
a tool call's Allow / Deny) call, and the timeout that maintenance applies.

A waiting run holds no worker, no slot and no RQ job; this module is what brings it back.
Each decision is one transaction that locks the run's row, then moves the approval out of
``pending`` with a conditional UPDATE (storage/repos/approvals.py): of two clicks, a click
and a cancel, or two workers' timeout rounds, exactly one changes anything, and the other
gets a clear answer naming what happened first.

* **approve**: the approval step finishes with the output so far as its output (or, for
  Edit & approve, the edited text, kept beside what was shown), at no cost; the run goes
  back to ``queued`` and is enqueued under the job id of its next attempt
  (core/runs/queue.py). The worker that takes it resumes after the last finished step, as
  after any interruption, so nothing before is called or paid for again. If Redis is away,
  the run stays queued in PostgreSQL and maintenance enqueues it.
* **reject**: the run ends ``failed``, "rejected by <@U…>: reason", with its artifact.
* **timeout**: maintenance ends runs whose approval is past due, ``failed``, "not approved
  in time (24 h)".

Who may decide an approval step: its approvers, or, when it names none, whoever started
the run (an admin when nobody did, as for a CLI run). A tool call's approval: whoever
started the run, or an admin.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from redis.exceptions import RedisError

from core import messages
from core.context import AppContext
from core.reporter import ApprovalView, Reporter, RunInfo, SafeReporter
from core.runs.approval_request import run_info_of, view_of
from core.runs.outcome import write_outcome
from core.runs.queue import enqueue
from core.text import clean_text
from storage.db import Session, transaction
from storage.models import Approval
from storage.repos import approvals as approval_repo
from storage.repos import runs as run_repo
from storage.states import ApprovalKind, ApprovalStatus, FailureKind, RunStatus

__all__ = [
    "Decision",
    "DecisionResult",
    "Verdict",
    "approval_view",
    "decide",
    "expire_due",
    "may_decide",
    "pending_approval",
    "record_message",
]

log = logging.getLogger(__name__)

#: The longest reason kept with a rejection.
REASON_MAX = 2000


class Verdict(StrEnum):
    """What the person pressed: Approve / Allow, or Reject / Deny."""

    APPROVE = "approve"
    REJECT = "reject"


class DecisionResult(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    NOT_ALLOWED = "not_allowed"  # not an approver: nothing changed
    ALREADY_DECIDED = "already_decided"  # someone decided first
    TIMED_OUT = "timed_out"  # too late
    CANCELLED = "cancelled"  # the run was cancelled
    EMPTY_TEXT = "empty_text"  # Edit & approve with nothing in it
    NOT_FOUND = "not_found"
    NOT_WAITING = "not_waiting"  # the run is not waiting any more


@dataclass(frozen=True)
class Decision:
    """The answer for the person who pressed the button (``message``, plain text with Slack
    mentions) and the approval as it now is, for the surface to redraw its buttons."""

    result: DecisionResult
    message: str
    approval: ApprovalView | None = None
    permalink: str | None = None  # the artifact of a run that ended now (rejected)

    @property
    def changed(self) -> bool:
        return self.result in (DecisionResult.APPROVED, DecisionResult.REJECTED)


def may_decide(row: Approval, user: str, *, is_admin: bool = False) -> bool:
    """The one rule of who may decide (see the module's docstring)."""
    if row.kind == ApprovalKind.TOOL_CALL:
        return user == row.requested_by or is_admin
    if row.approvers:
        return user in row.approvers
    return user == row.requested_by if row.requested_by else is_admin


def _reporter(ctx: AppContext, reporter: Reporter | None) -> SafeReporter:
    if reporter is not None:
        return SafeReporter(reporter)
    from core.runs.job import reporters_for  # the installed surfaces', as a worker's job has them

    return SafeReporter(*reporters_for(ctx))


def _already(row: Approval) -> Decision:
    """A decision that came second: what came first."""
    when = row.decided_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if row.decided_at else None
    result = {
        ApprovalStatus.TIMED_OUT: DecisionResult.TIMED_OUT,
        ApprovalStatus.CANCELLED: DecisionResult.CANCELLED,
    }.get(ApprovalStatus(row.status), DecisionResult.ALREADY_DECIDED)
    return Decision(result, messages.approval_already(row.status, row.decided_by, when), view_of(row))


def decide(
    ctx: AppContext,
    team_id: str,
    approval_id: str | uuid.UUID,
    by_user: str,
    decision: Verdict | str,
    *,
    text: str | None = None,
    reason: str | None = None,
    is_admin: bool = False,
    reporter: Reporter | None = None,
) -> Decision:
    """``by_user`` approves (with ``text``: Edit & approve) or rejects (with ``reason``) the
    approval. Never raises for bad input: every refusal is a Decision saying why, with
    nothing changed. ``reporter``: who is told (None: the installed surfaces')."""
    try:
        aid = uuid.UUID(str(approval_id))
        verdict = Verdict(str(decision).strip().lower())
    except ValueError:
        return Decision(DecisionResult.NOT_FOUND, messages.APPROVAL_NOT_FOUND)
    edited = None
    if verdict == Verdict.APPROVE and text is not None:
        edited = clean_text(text).strip()
        if not edited:
            return Decision(DecisionResult.EMPTY_TEXT, messages.APPROVAL_EMPTY_TEXT)
    why = clean_text(reason or "").strip()[:REASON_MAX] or None
    try:
        return _decide(ctx, team_id, aid, by_user, verdict, edited, why, is_admin, reporter)
    except _NotWaiting as exc:  # rolled back: nothing changed
        return Decision(DecisionResult.NOT_WAITING, messages.run_not_waiting(str(exc)))


def _decide(
    ctx: AppContext,
    team_id: str,
    aid: uuid.UUID,
    by_user: str,
    verdict: Verdict,
    edited: str | None,
    why: str | None,
    is_admin: bool,
    reporter: Reporter | None,
) -> Decision:
    with transaction(ctx.sessions) as s:
        row = approval_repo.get(s, team_id, aid)
        if row is None:
            return Decision(DecisionResult.NOT_FOUND, messages.APPROVAL_NOT_FOUND)
        if not may_decide(row, by_user, is_admin=is_admin):
            return Decision(
                DecisionResult.NOT_ALLOWED,
                messages.approval_not_allowed(list(row.approvers or []), row.requested_by),
                view_of(row),
            )
        run = run_repo.get_run(s, team_id, row.run_id, lock=True)  # the run first, then the approval
        if run is None:
            return Decision(DecisionResult.NOT_FOUND, messages.APPROVAL_NOT_FOUND)
        status = ApprovalStatus.APPROVED if verdict == Verdict.APPROVE else ApprovalStatus.REJECTED
        won = approval_repo.decide(
            s,
            team_id,
            aid,
            status=status,
            by=by_user,
            reason=why if status == ApprovalStatus.REJECTED else None,
            edited_text=edited,
            due_after=datetime.now(UTC),
        )
        if won is None:
            s.refresh(row)
            if row.status == ApprovalStatus.PENDING:  # past due; maintenance closes the run
                return Decision(DecisionResult.TIMED_OUT, messages.approval_too_late(row.timeout_hours), view_of(row))
            return _already(row)
        if won.kind == ApprovalKind.TOOL_CALL:  # Allow or Deny: either way the step goes on
            attempts = _resume(s, team_id, won)
        elif status == ApprovalStatus.APPROVED:
            attempts = _approve(s, team_id, won, edited)
        else:
            attempts = None
            closed = run_repo.close_waiting(
                s, team_id, run.id, kind=FailureKind.REJECTED, message=messages.rejected_by(by_user, why)
            )
            if not closed:
                raise _NotWaiting(run.status)
        view, info = view_of(won), run_info_of(s, run)
    return _after(ctx, team_id, view, info, attempts, _reporter(ctx, reporter))


class _NotWaiting(Exception):
    """The run was not waiting although its approval was pending: nothing may change."""


def _approve(s: Session, team_id: str, row: Approval, edited: str | None) -> int:
    """The approval step finished with its output, the run queued again: its attempts."""
    if not run_repo.finish_waiting_step(s, row.run_id, row.position, output=edited or row.output_shown):
        raise _NotWaiting(RunStatus.WAITING.value)
    return _resume(s, team_id, row)


def _resume(s: Session, team_id: str, row: Approval) -> int:
    """The run queued again (a tool call's step goes on from where it paused, with the
    decision: core/runs/approval_request.tool_decision): its attempts."""
    attempts = run_repo.resume_waiting(s, team_id, row.run_id)
    if attempts is None:
        raise _NotWaiting(RunStatus.FAILED.value)
    return attempts


def _after(
    ctx: AppContext,
    team_id: str,
    view: ApprovalView,
    info: RunInfo,
    attempts: int | None,
    reporter: SafeReporter,
) -> Decision:
    """After the decision's commit: enqueue the approved run, close the rejected one's
    artifact, tell the reporters."""
    reporter.approval_decided(info, view)
    if attempts is not None:
        try:
            enqueue(ctx, team_id, view.run_id, attempt=attempts)
        except RedisError as exc:  # queued in PostgreSQL: maintenance enqueues it when Redis is back
            log.warning("run %s approved but not enqueued (%s); maintenance will", view.run_id, type(exc).__name__)
        log.info("run %s decided (%s) by %s; queued again", view.run_id, view.status, view.decided_by)
        denied = view.status == ApprovalStatus.REJECTED  # a tool call denied: the run goes on without it
        return Decision(DecisionResult.REJECTED if denied else DecisionResult.APPROVED, "", view)
    outcome = write_outcome(ctx, team_id, uuid.UUID(view.run_id), error_step=view.position)
    reporter.run_finished(info, outcome)
    log.info("run %s rejected by %s", view.run_id, view.decided_by)
    return Decision(DecisionResult.REJECTED, outcome.error_message or "", view, outcome.permalink)


def expire_due(ctx: AppContext, *, now: datetime | None = None, reporter: Reporter | None = None) -> list[str]:
    """End every run whose approval is past due (``now``: the clock to judge by): failed, "not
    approved in time (N h)", the approval timed_out, the reporters told. Exactly once with
    many workers: the conditional UPDATE has one winner. Returns the run ids it ended."""
    now = now or datetime.now(UTC)
    with transaction(ctx.sessions) as s:
        due = approval_repo.due(s, now)
    ended: list[str] = []
    told = _reporter(ctx, reporter)
    for team_id, aid, rid in due:
        with transaction(ctx.sessions) as s:
            run = run_repo.get_run(s, team_id, rid, lock=True)
            row = approval_repo.decide(s, team_id, aid, status=ApprovalStatus.TIMED_OUT, by=None)
            if run is None or row is None:
                continue  # decided, cancelled or timed out by someone else first
            if run.status == RunStatus.WAITING:
                run_repo.close_waiting(
                    s,
                    team_id,
                    rid,
                    kind=FailureKind.APPROVAL_TIMED_OUT,
                    message=messages.not_approved_in_time(row.timeout_hours),
                )
            view, info = view_of(row), run_info_of(s, run)
        outcome = write_outcome(ctx, team_id, rid, error_step=view.position)
        told.approval_decided(info, view)
        told.run_finished(info, outcome)
        log.info("run %s: approval %s not given in time", rid, aid)
        ended.append(str(rid))
    return ended


def approval_view(ctx: AppContext, team_id: str, approval_id: str | uuid.UUID) -> ApprovalView | None:
    """The approval as it is now (a modal prefilling Edit & approve reads it); None: no such."""
    try:
        aid = uuid.UUID(str(approval_id))
    except ValueError:
        return None
    with transaction(ctx.sessions) as s:
        row = approval_repo.get(s, team_id, aid)
        return view_of(row) if row is not None else None


def pending_approval(ctx: AppContext, team_id: str, run_id: str | uuid.UUID) -> ApprovalView | None:
    """The request a waiting run waits on (None: it waits on nothing)."""
    try:
        rid = uuid.UUID(str(run_id))
    except ValueError:
        return None
    with transaction(ctx.sessions) as s:
        row = approval_repo.pending_of_run(s, team_id, rid)
        return view_of(row) if row is not None else None


def record_message(
    ctx: AppContext, team_id: str, approval_id: str | uuid.UUID, channel_id: str, message_ts: str
) -> bool:
    """Where the surface showed the request (its buttons), so it can update them when the
    approval is decided, times out or is cancelled; False when the approval is gone."""
    try:
        aid = uuid.UUID(str(approval_id))
    except ValueError:
        return False
    with transaction(ctx.sessions) as s:
        return approval_repo.set_message(s, team_id, aid, channel_id, message_ts)

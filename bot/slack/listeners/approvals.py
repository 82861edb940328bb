"""The buttons of an approval request in a run's thread (DESIGN §12): **Approve**, **Edit &
approve** (a modal with **Text**), **Reject** (a modal with **Reason**), and a tool call's
**Allow** / **Deny**.

Every decision goes through core.runs.approvals.decide, which holds the rules (who may
decide, once only, not after the timeout or a cancel) and tells the reporters, so the
request's message loses its buttons (bot/slack/approval_thread.py) whoever's click won. A
click that changes nothing (not an approver, a second click, too late, cancelled) gets the
Decision's message as an ephemeral in the thread, to the clicker only. The modals are only
opened for someone who may decide a request that still waits: anyone else is told at once.

Admins (bot/slack/admin.py) are asked Slack about only when the rule needs it: a tool call's
request pressed by someone else than the run's starter, or a request nobody in particular
may decide (a run started outside Slack).

Timing: every listener acks first; deciding (a transaction, then Slack calls to update the
messages, and for a rejection the run's result) runs after the ack.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.slack.admin import AdminCheckFailed, is_admin
from bot.slack.blocks import approvals as msgs
from bot.slack.listeners.support import SaveResult, action_value, inline_error, later, show_view, submission, tell
from bot.slack.modal_state import ApprovalState, StateUnreadable
from bot.slack.payloads import Actor, actor_of, team_of, user_of
from core import messages
from core.context import AppContext
from core.formatting import format_datetime
from core.reporter import ApprovalView
from core.runs.approvals import Verdict, approval_view, decide, may_decide
from core.text import clean_text
from storage.db import transaction
from storage.repos import runs as run_repo
from storage.states import ApprovalKind, ApprovalStatus

log = logging.getLogger(__name__)


def _needs_admin(view: ApprovalView, user_id: str) -> bool:
    """Whether being an admin could matter for ``user_id`` deciding ``view`` (see the docstring)."""
    if view.kind == ApprovalKind.TOOL_CALL:
        return user_id != view.requested_by
    return not view.approvers and not view.requested_by


def _admin(ctx: AppContext, client: WebClient, view: ApprovalView, team_id: str, user_id: str) -> bool:
    if not _needs_admin(view, user_id):
        return False
    try:
        return is_admin(ctx, client, user_id, team_id)
    except AdminCheckFailed as exc:  # Slack could not say: not an admin, for now
        log.info("could not tell whether %s is an admin: %s", user_id, exc)
        return False


def refusal(view: ApprovalView | None, user_id: str, *, admin: bool) -> str | None:
    """Why ``user_id`` cannot decide ``view`` now (None: they can), in the words decide() uses."""
    if view is None:
        return messages.APPROVAL_NOT_FOUND
    # may_decide reads only kind, approvers and requested_by, which the view carries as the row does
    if not may_decide(cast(Any, view), user_id, is_admin=admin):
        return messages.approval_not_allowed(list(view.approvers), view.requested_by)
    if view.status != ApprovalStatus.PENDING:
        when = format_datetime(view.decided_at) if view.decided_at else None
        return messages.approval_already(view.status, view.decided_by, when)
    if view.due_at <= datetime.now(UTC):
        return messages.approval_too_late(view.timeout_hours)
    return None


def decide_and_tell(
    ctx: AppContext,
    client: WebClient,
    to: Actor,
    approval_id: str,
    verdict: Verdict,
    *,
    text: str | None = None,
    reason: str | None = None,
) -> None:
    """Decide; a click that changed nothing is told why, privately, in the thread."""
    view = approval_view(ctx, to.team_id, approval_id)
    admin = _admin(ctx, client, view, to.team_id, to.user_id) if view is not None else False
    decision = decide(ctx, to.team_id, approval_id, to.user_id, verdict, text=text, reason=reason, is_admin=admin)
    if not decision.changed:
        tell(client, to, decision.message)


def _pipeline_name(ctx: AppContext, team_id: str, run_id: str) -> str:
    with transaction(ctx.sessions) as s:
        run = run_repo.get_run(s, team_id, run_id)
        return run.pipeline_name if run is not None else ""


def open_form(ctx: AppContext, client: WebClient, body: Mapping[str, Any], *, editing: bool) -> None:
    """Edit & approve or Reject pressed: the modal, for someone who may decide a request that
    waits; anyone else (or an output too long for a Slack input) is told why instead."""
    click = actor_of(body)
    approval_id = action_value(body)
    view = approval_view(ctx, click.team_id, approval_id)
    admin = _admin(ctx, client, view, click.team_id, click.user_id) if view is not None else False
    if (why := refusal(view, click.user_id, admin=admin)) is not None:
        tell(client, click, why)
        return
    assert view is not None  # refusal() said so
    if editing and not msgs.fits_edit(view.output):
        tell(client, click, msgs.too_long_to_edit(view.output))
        return
    metadata = ApprovalState(view.approval_id, click.channel_id, click.thread_ts).encode()
    name = _pipeline_name(ctx, click.team_id, view.run_id)
    modal = msgs.edit_modal(name, view.output, metadata) if editing else msgs.reject_modal(name, metadata)
    show_view(client, click, modal)


def _typed(body: Mapping[str, Any], block_id: str) -> str:
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    return str(((values.get(block_id) or {}).get(msgs.FIELD) or {}).get("value") or "")


def _submitted(
    ctx: AppContext,
    body: Mapping[str, Any],
    context: BoltContext | None,
    block_id: str,
    verdict: Verdict,
    **said: str | None,
) -> SaveResult:
    """A modal's submission: closed at once, decided after the ack (unreadable state: inline)."""
    try:
        state = ApprovalState.decode((body.get("view") or {}).get("private_metadata"))
    except StateUnreadable as exc:
        log.warning("approval modal with unreadable state: %s", exc.detail)
        return inline_error(block_id, str(exc))
    to = Actor(team_of(body, context), user_of(body), channel_id=state.channel_id, thread_ts=state.thread_ts)
    return None, lambda client: decide_and_tell(ctx, client, to, state.approval_id, verdict, **said)


def save_edit(ctx: AppContext, client: WebClient, body: Mapping[str, Any], context: BoltContext | None) -> SaveResult:
    """Edit & approve's **Text**: empty is an inline error; anything else approves with it."""
    text = _typed(body, msgs.TEXT_BLOCK)
    if not clean_text(text).strip():
        return inline_error(msgs.TEXT_BLOCK, messages.APPROVAL_EMPTY_TEXT)
    return _submitted(ctx, body, context, msgs.TEXT_BLOCK, Verdict.APPROVE, text=text)


def save_reject(ctx: AppContext, client: WebClient, body: Mapping[str, Any], context: BoltContext | None) -> SaveResult:
    """Reject's **Reason** (optional): the run ends failed, "rejected by @x: reason"."""
    reason = _typed(body, msgs.REASON_BLOCK)
    return _submitted(ctx, body, context, msgs.REASON_BLOCK, Verdict.REJECT, reason=reason or None)


def clicked(ctx: AppContext, verdict: Verdict, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """Approve / Allow, or Deny: decided after the ack."""
    ack()
    later(
        client, body, "deciding an approval", decide_and_tell, ctx, client, actor_of(body), action_value(body), verdict
    )


def form_clicked(ctx: AppContext, editing: bool, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """Edit & approve, or Reject: the modal (or why not) after the ack."""
    ack()
    later(client, body, "opening an approval form", lambda: open_form(ctx, client, body, editing=editing))


def register(app: App, ctx: AppContext) -> None:
    """The request's buttons and the two modals' submissions."""
    app.action(msgs.APPROVE)(partial(clicked, ctx, Verdict.APPROVE))
    app.action(msgs.ALLOW)(partial(clicked, ctx, Verdict.APPROVE))
    app.action(msgs.DENY)(partial(clicked, ctx, Verdict.REJECT))
    app.action(msgs.EDIT_APPROVE)(partial(form_clicked, ctx, True))
    app.action(msgs.REJECT)(partial(form_clicked, ctx, False))
    app.view(msgs.EDIT_CALLBACK)(submission(ctx, save_edit, msgs.TEXT_BLOCK))
    app.view(msgs.REJECT_CALLBACK)(submission(ctx, save_reject, msgs.REASON_BLOCK))

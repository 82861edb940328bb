"""`pipebot cancel RUN_ID --team T`: cancel a run from a shell (core/runs/cancel.py has the
rules). Whoever can run the CLI is an operator, so no requester check; the run records
"cancelled by cli". A queued run with a Slack thread has its message marked here, since
no worker will report on it."""

from __future__ import annotations

import logging
import sys
import uuid

from core.context import AppContext
from core.runs.cancel import CLI_USER, CancelResult, cancel_run
from storage.db import transaction
from storage.repos import runs as run_repo

log = logging.getLogger(__name__)

SAID = {
    CancelResult.CANCELLED: "cancelled: it was queued and will never start",
    CancelResult.STOPPING: "cancelling: its worker stops it once the model call in progress is aborted",
    CancelResult.ALREADY_REQUESTED: "already being cancelled",
    CancelResult.FINISHED: "already finished: nothing to cancel",
    CancelResult.NOT_FOUND: "not found in this workspace",
}


def cancel_from_cli(ctx: AppContext, run_id: str, *, team_id: str) -> int:
    """0 when the run is cancelled or stopping, 1 otherwise (with the reason on stderr)."""
    answer = cancel_run(ctx, team_id, run_id, CLI_USER)
    ok = answer.result in (CancelResult.CANCELLED, CancelResult.STOPPING)
    print(f"run {run_id}: {SAID[answer.result]}", file=sys.stdout if ok else sys.stderr, flush=True)
    if answer.result is CancelResult.CANCELLED:
        _mark_in_slack(ctx, team_id, uuid.UUID(run_id), answer.permalink)
    return 0 if ok else 1


def _mark_in_slack(ctx: AppContext, team_id: str, run_id: uuid.UUID, permalink: str | None) -> None:
    with transaction(ctx.sessions) as s:
        run = run_repo.get_run(s, team_id, run_id)
        if run is None or not run.channel_id or not run.thread_ts:
            return
        fields = (run.channel_id, run.thread_ts, run.pipeline_name, run.requested_by, run.input)
    try:
        from bot.slack.client import client_for
        from bot.slack.listeners.cancel import mark_cancelled

        client = client_for(ctx, team_id)
    except Exception as exc:  # noqa: BLE001 - Slack not configured here: the run is cancelled anyway
        log.warning("run %s cancelled, but its Slack message could not be marked: %s", run_id, exc)
        return
    channel_id, thread_ts, name, requester, input_text = fields
    mark_cancelled(ctx, client, run_id, channel_id, thread_ts, name, requester, input_text, CLI_USER, permalink)

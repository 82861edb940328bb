""" "Queued: N runs ahead" on the parent message of every run that waits, refreshed by the
workers' maintenance every PIPEBOT_QUEUE_STATUS_SECONDS.

Bounded work, whatever the queue holds:
* one statement reads every waiting run with its N (storage.repos.runs.queue_positions,
  over a partial index); nothing walks Redis;
* one worker per round does it (a Redis key taken with NX), however many workers run;
* a message is edited only when its N changed, and only for runs that have waited a
  round already (a run that starts at once is never shown as queued);
* chat.update is Tier 3 (about 50 a minute per workspace) and the runs' own reporters use
  it too, so each workspace gets at most ``PER_WORKSPACE_PER_ROUND`` edits a round (40 a
  minute at the default 3 s): messages never shown as queued go first, then those shown
  longest ago, so with 200 waiting every one of them is reached in turn.

Each edit happens under the run's message lock after checking, in PostgreSQL, that the
run is still queued (bot/slack/parent_status.py), so "Queued" never lands on a started run.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import parent_status
from bot.slack.blocks import runs as msgs
from bot.slack.client import client_for
from bot.slack.ratelimit.budget import as_progress
from core.context import AppContext
from storage.db import transaction
from storage.repos import runs as run_repo
from storage.states import RunStatus

log = logging.getLogger(__name__)

ROUND_KEY = "pipebot:queue-status:round"
PER_WORKSPACE_PER_ROUND = 2
# How long one "Queued" edit waits for its turn in the shared Slack budget (bot/slack/
# ratelimit/) while it holds the run's message lock: well under parent_status.LOCK_WAIT_S.
# It is refreshed every round, so it yields to the marks that are written once (running,
# ✅/❌) like progress does.
QUEUED_MARK_PATIENCE_S = 2.0
MAX_RUNS = 1000  # waiting runs looked at per round


def update_queue_positions(ctx: AppContext, *, now: datetime | None = None) -> int:
    """One round; returns how many messages were edited (0 when another worker has the round)."""
    every = ctx.settings.PIPEBOT_QUEUE_STATUS_SECONDS
    if not ctx.redis.set(ROUND_KEY, "1", nx=True, px=max(1, int(every * 900))):
        return 0
    now = now or datetime.now(UTC)
    with transaction(ctx.sessions) as s:
        rows = run_repo.queue_positions(s, now - timedelta(seconds=every), MAX_RUNS)
    if not rows:
        return 0
    shown = parent_status.shown_queued(ctx.redis, [str(r.id) for r in rows])
    changed = [r for r in rows if shown.get(str(r.id), (None, 0.0))[0] != r.ahead]
    changed.sort(key=lambda r: (str(r.id) in shown, shown.get(str(r.id), (0, 0.0))[1]))  # stable: queue order next
    used: dict[str, int] = defaultdict(int)
    clients: dict[str, WebClient | None] = {}
    edited = 0
    for row in changed:
        if used[row.team_id] >= PER_WORKSPACE_PER_ROUND:
            continue
        if row.team_id not in clients:
            clients[row.team_id] = _client(ctx, row.team_id)
        client = clients[row.team_id]
        if client is None:
            continue
        used[row.team_id] += 1
        edited += _show(ctx, client, row)
    return edited


def _client(ctx: AppContext, team_id: str) -> WebClient | None:
    try:
        return client_for(ctx, team_id)
    except Exception as exc:  # noqa: BLE001 - Slack not configured for it: its runs still run
        log.info("no Slack client for workspace %s: %s", team_id, exc)
        return None


def _show(ctx: AppContext, client: WebClient, row: Any) -> bool:
    run_id: uuid.UUID = row.id
    ts = parent_status.status_ts(ctx.redis, run_id) or row.thread_ts
    with parent_status.message_lock(ctx.redis, run_id) as taken:
        if not taken:
            return False
        with transaction(ctx.sessions) as s:
            if not run_repo.is_queued(s, row.team_id, run_id):
                return False
        text, blocks = msgs.parent_message(
            row.pipeline_name,
            row.requested_by,
            row.input,
            status=RunStatus.QUEUED,
            ahead=row.ahead,
            run_id=str(run_id),
            in_thread=ts == row.thread_ts,
        )
        try:  # after the marks that matter, a short wait: the lock is held, the next round tries again
            with as_progress(QUEUED_MARK_PATIENCE_S):
                client.chat_update(channel=row.channel_id, ts=ts, text=text, blocks=[b.to_dict() for b in blocks])
        except SlackApiError as exc:
            log.info("could not show the queue position of run %s: %s", run_id, exc.response.get("error"))
            return False
        parent_status.mark_queued(ctx.redis, run_id, row.ahead)
    return True


def start_queue_status(ctx: AppContext, stop: threading.Event) -> threading.Thread:
    """The refresher's thread, beside the worker's other maintenance."""

    def loop() -> None:
        while not stop.wait(ctx.settings.PIPEBOT_QUEUE_STATUS_SECONDS):
            try:
                update_queue_positions(ctx)
            except Exception:  # noqa: BLE001 - Redis or the database away: the next round tries again
                log.warning("queue positions not refreshed this round", exc_info=True)

    t = threading.Thread(target=loop, name="pipebot-queue-status", daemon=True)
    t.start()
    return t

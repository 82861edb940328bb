"""Opening the run modal (from the message shortcut and App Home's "Run…" button); its
submission is bot/slack/listeners/runs.py. The modal's memory is a RunModalState.

Message text longer than a modal input may hold (3,000) waits in Redis under a random token
(the state's ``stash``) and is shown as a preview instead of an editable field.
"""

from __future__ import annotations

import secrets
from dataclasses import replace

from slack_sdk import WebClient

from bot.slack.blocks import runs as msgs
from bot.slack.blocks.common import info_modal, preview
from bot.slack.blocks.limits import PLAIN_TEXT_INPUT_LIMIT
from bot.slack.listeners.support import open_modal
from bot.slack.modal_state import RunModalState
from core import pipelines as core_pipelines
from core.context import AppContext
from core.messages import COMMAND
from storage.db import transaction
from storage.repos import pipelines as pipeline_repo

STASH_TTL_S = 3600  # a long message's text waits this long for the modal's submission


def stash_key(token: str) -> str:
    return f"pipebot:slack:run-input:{token}"


def open_run_modal(
    ctx: AppContext,
    client: WebClient,
    trigger_id: str,
    team_id: str,
    *,
    state: RunModalState,
    selected_id: int | None = None,
    input_text: str | None = None,
    pick_channel: bool = False,
    file_names: tuple[str, ...] = (),
    offer_thread: bool = False,
) -> None:
    """Open the pick-a-pipeline modal. Message text longer than a modal input may hold (3,000)
    waits in Redis and is shown as a preview instead of an editable field. An expired
    trigger raises bot.slack.listeners.support.Reply with what to tell the user."""

    with transaction(ctx.sessions) as s:
        pipelines = list(pipeline_repo.list_pipelines(s, team_id))
        orphaned = {p.id for p in pipelines if core_pipelines.orphans(p)}
        if not pipelines:
            view = info_modal(
                "Run a pipeline",
                f"There are no pipelines in this workspace yet. Create one with `{COMMAND} pipeline new`.",
            )
            open_modal(client, trigger_id, view)
            return
        editable, note = True, None
        if input_text is not None and len(input_text) > PLAIN_TEXT_INPUT_LIMIT:
            token = secrets.token_urlsafe(16)
            ctx.redis.set(stash_key(token), input_text, ex=STASH_TTL_S)
            state = replace(state, stash=token)
            editable = False
            note = f"*Input:* the message ({len(input_text):,} characters)\n> {preview(input_text, 300)}"
        view = msgs.run_modal(
            pipelines,
            orphaned,
            metadata=state.encode(),
            selected_id=selected_id,
            input_text=input_text,
            input_editable=editable,
            input_note=note,
            pick_channel=pick_channel,
            file_names=file_names,
            from_message=state.from_message,
            offer_thread=offer_thread,
        )
    open_modal(client, trigger_id, view)


def stashed_input(ctx: AppContext, state: RunModalState) -> str:
    """The long message's text the modal was opened with ("" once it expired)."""
    raw = ctx.redis.get(stash_key(state.stash)) if state.stash else None
    return raw.decode() if isinstance(raw, bytes) else (raw or "")

"""The "Run a pipeline on this message" message shortcut (``run_on_message``).

The message's text is the input and the results go to its thread: the shortcut opens the
run modal (bot/slack/run_modal.py) with the message's place in its private_metadata.
Acked at once; the modal opens in Bolt's lazy listener, while the trigger_id is fresh.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient

from bot.slack.blocks.runs import MESSAGE_SHORTCUT
from bot.slack.file_refs import file_ids
from bot.slack.listeners.support import ack_only, told
from bot.slack.modal_state import RunModalState
from bot.slack.payloads import channel_of, team_of, user_of
from bot.slack.run_modal import open_run_modal
from bot.slack.seeing import warm
from bot.slack.text import decode_slack_text
from core.context import AppContext

log = logging.getLogger(__name__)

NOTHING_TO_RUN = "That message has no text or files to run a pipeline on."
#: More file ids than this would not fit the modal's state; core's own limit is far lower.
MAX_FILE_IDS = 100


def too_many_files(count: int) -> str:
    return f"That message has {count} files; a run takes far fewer. Share the ones that matter in a new message."


def open_from_message(ctx: AppContext, client: WebClient, body: Mapping[str, Any], respond: Respond) -> None:
    """The message shortcut: the message's text and files are the input, results go to its thread.

    Slack sends ``&``, ``<`` and ``>`` as entities in message text; the model should see
    the characters as typed (bot/slack/text.decode_slack_text). The files' ids wait in the
    modal's state and are completed with ``files.info`` on submission (a payload may carry
    Slack Connect stubs); the names shown are those the payload has."""
    message = body.get("message") or {}
    channel_id = channel_of(body) or ""
    text = decode_slack_text(message.get("text") or "")
    files = [f for f in message.get("files") or [] if isinstance(f, dict)]
    ids = file_ids(files)
    if not text.strip() and not ids:
        respond(text=NOTHING_TO_RUN, response_type="ephemeral", replace_original=False)
        return
    if len(ids) > MAX_FILE_IDS:
        respond(text=too_many_files(len(ids)), response_type="ephemeral", replace_original=False)
        return
    root = message.get("thread_ts") or message.get("ts")
    state = RunModalState(
        from_message=True,
        channel_id=channel_id,
        thread_ts=root,
        message_ts=message.get("ts"),
        channel_name=(body.get("channel") or {}).get("name"),
        file_ids=ids,
    )
    names = tuple(str(f.get("name") or f.get("title") or "a file") for f in files if f.get("id"))
    in_thread = bool(message.get("thread_ts") or message.get("reply_count"))
    open_run_modal(
        ctx,
        client,
        body.get("trigger_id") or "",
        team_of(body),
        state=state,
        input_text=text,
        file_names=names,
        offer_thread=in_thread,
    )
    warm(ctx, client, team_of(body), user_of(body))  # the submission checks where it posts


def shortcut(ctx: AppContext, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
    """Lazily, after ack_only: the run modal (a Reply, e.g. an expired trigger, is told)."""
    with told(client, body, "run_on_message"):
        open_from_message(ctx, client, body, respond)


def register(app: App, ctx: AppContext) -> None:
    """The message shortcut `run_on_message`."""
    app.shortcut(MESSAGE_SHORTCUT)(ack=ack_only, lazy=[partial(shortcut, ctx)])

"""Messages to pipebot in its Messages tab (``message`` events with ``channel_type: im``):
``run NAME text`` (files attached welcome) starts a run there, ``help`` explains, anything else
gets a friendly line. Edits, deletions, other bots' messages and pipebot's own posts are
ignored (NOTES §4: Bolt drops only our own; the rest is ours to drop).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.chat_runs import ChatMessage, run_from_chat
from bot.slack.chat_text import DM_FRIENDLY, DM_HELP, parse_chat_command
from bot.slack.listeners.support import OOPS, after_ack
from bot.slack.payloads import team_of
from core.context import AppContext
from core.runs.request import Origin

log = logging.getLogger(__name__)

#: A person's new message: no subtype, or one that carries files.
PERSON_SUBTYPES = (None, "file_share")


def is_person_dm(event: dict[str, Any]) -> bool:
    """A new message a person wrote to pipebot in a DM (not an edit, a deletion or a bot's)."""
    return (
        event.get("channel_type") == "im"
        and event.get("subtype") in PERSON_SUBTYPES
        and not event.get("bot_id")
        and bool(event.get("user"))
    )


def handle_dm(ctx: AppContext, client: WebClient, team_id: str, event: dict[str, Any]) -> None:
    """After the ack: answer in the DM, or start the run there."""
    channel = str(event.get("channel") or "")

    def say(text: str) -> None:
        try:
            client.chat_postMessage(channel=channel, text=text, unfurl_links=False, unfurl_media=False)
        except SlackApiError as exc:
            log.info("could not answer a DM: %s", exc.response.get("error"))

    try:
        command = parse_chat_command(str(event.get("text") or ""))
        if command.kind == "run":
            msg = ChatMessage(
                team_id=team_id,
                user_id=str(event.get("user") or ""),
                channel_id=channel,
                ts=str(event.get("ts") or ""),
                origin=Origin.DM,
                user_team_id=event.get("user_team") or event.get("team") or None,
                files=[f for f in event.get("files") or [] if isinstance(f, dict)],
            )
            run_from_chat(ctx, client, msg, command.args, say)
        elif command.kind == "help":
            say(DM_HELP)
        else:
            say(DM_FRIENDLY)
    except Exception:  # noqa: BLE001 - the person must hear something
        log.exception("DM in %s failed", channel)
        say(OOPS)


def message(ctx: AppContext, body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
    """Acked when this returns; only a person's new DM is answered (after the ack)."""
    if is_person_dm(event):
        after_ack(handle_dm, ctx, client, team_of(body), event)


def register(app: App, ctx: AppContext) -> None:
    """``message`` events (the manifest subscribes to ``message.im`` only)."""
    app.event("message")(partial(message, ctx))

"""``@pipebot …`` in a channel or a thread (the ``app_mention`` event): ``run NAME [text]``
starts a run whose messages go in the mention's thread, with the mention's files and, inside
a thread, the thread's earlier messages (bot/slack/chat_runs.py); ``help`` and anything else
get a short answer there, for the person who mentioned pipebot alone (an ephemeral).

Acked at once; the work runs after the ack. A retried delivery is dropped by the event_id
middleware (bot/slack/app.py), and the run's dedupe key (channel and message ts) holds even
past it.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.chat_runs import ChatMessage, run_from_chat
from bot.slack.chat_text import MENTION_HELP, MENTION_USAGE, parse_chat_command
from bot.slack.listeners.support import OOPS, after_ack, tell
from bot.slack.payloads import Actor, team_of
from core.context import AppContext
from core.runs.request import Origin

log = logging.getLogger(__name__)


def handle_mention(ctx: AppContext, client: WebClient, team_id: str, event: dict[str, Any]) -> None:
    """After the ack: answer or start the run."""
    msg = ChatMessage(
        team_id=team_id,
        user_id=str(event.get("user") or ""),
        channel_id=str(event.get("channel") or ""),
        ts=str(event.get("ts") or ""),
        origin=Origin.MENTION,
        thread_ts=event.get("thread_ts") or None,
        user_team_id=event.get("user_team") or event.get("team") or None,
        files=[f for f in event.get("files") or [] if isinstance(f, dict)],
    )
    to = Actor(team_id, msg.user_id, channel_id=msg.channel_id, thread_ts=msg.reply_thread)

    def say(text: str) -> None:
        tell(client, to, text)

    try:
        command = parse_chat_command(str(event.get("text") or ""))
        if command.kind == "run":
            run_from_chat(ctx, client, msg, command.args, say)
        elif command.kind == "help":
            say(MENTION_HELP)
        else:
            say(MENTION_USAGE)
    except Exception:  # noqa: BLE001 - the person must hear something
        log.exception("mention in %s failed", msg.channel_id)
        say(OOPS)


def app_mention(ctx: AppContext, body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
    """Acked when this returns; the work after (bot/slack/listeners/support.after_ack)."""
    if event.get("bot_id") or not event.get("user"):
        return  # another app mentioning pipebot: not a person asking
    after_ack(handle_mention, ctx, client, team_of(body), event)


def register(app: App, ctx: AppContext) -> None:
    """``app_mention``."""
    app.event("app_mention")(partial(app_mention, ctx))

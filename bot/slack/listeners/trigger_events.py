"""The events that start trigger runs (DESIGN §13): ``reaction_added`` (a reaction trigger's
emoji on a message) and ``message`` in channels (a message trigger's new message).

Acked at once: the ack path only filters the event and looks at the workspace's active
triggers (cached, bot/slack/trigger_runs.py); reading the message, the per-hour cap and the
run happen after the ack (bot/slack/listeners/support.after_ack).

What never starts a run (NOTES §4: Bolt drops only pipebot's own events): a reaction by a bot
or on a file; a message with a ``bot_id`` or a subtype other than a file share (edits,
deletions, joins, bots' posts), a reply in a thread (a "new message" is a top-level post),
one that mentions pipebot (that is a command: app_mention answers it), pipebot's own posts.
A run started here posts in the message's thread and only its result follows there, so no
run's output can start another run.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.slack.listeners.support import after_ack, tell
from bot.slack.payloads import Actor, team_of
from bot.slack.people import PersonUnknown, person
from bot.slack.text import decode_slack_text
from bot.slack.trigger_runs import (
    CannotRead,
    TriggeredMessage,
    active_triggers,
    claim,
    fetch_message,
    first_skip_this_hour,
    release,
    start_triggered_run,
    take_hourly_slot,
)
from core.context import AppContext
from core.runs.request import Origin
from core.triggers import texts
from core.triggers.store import MESSAGE, REACTION, TriggerView, emoji_name

log = logging.getLogger(__name__)

#: A person's new message: no subtype, or one that carries files.
PERSON_SUBTYPES = (None, "file_share")
CHANNEL_TYPES = ("channel", "group")  # message.channels and message.groups


# ---- reactions ------------------------------------------------------------------------------


def reaction_key(trigger: TriggerView, channel_id: str, ts: str) -> str:
    return f"reaction:{trigger.id}:{channel_id}:{ts}"


def handle_reaction(
    ctx: AppContext, client: WebClient, team_id: str, event: dict[str, Any], triggers: list[TriggerView]
) -> None:
    """After the ack: one run per trigger for the reacted message (the first reaction wins)."""
    user_id = str(event.get("user") or "")
    item = event.get("item") or {}
    channel_id, ts = str(item.get("channel") or ""), str(item.get("ts") or "")
    try:
        if person(ctx, client, team_id, user_id).gone:
            return  # a bot (or a deactivated account) reacting: not a person asking
    except PersonUnknown:
        log.info("could not tell whether %s is a bot; taking the reaction as a person's", user_id)
    mine = [(t, reaction_key(t, channel_id, ts)) for t in triggers]
    mine = [(t, key) for t, key in mine if claim(ctx, key)]
    if not mine:
        return
    to = Actor(team_id, user_id, channel_id=channel_id)
    try:
        message = fetch_message(client, channel_id, ts)
    except CannotRead:
        for _, key in mine:
            release(ctx, key)
        tell(client, to, texts.invite_to_read(f"<#{channel_id}>"))
        return
    except Exception:
        for _, key in mine:
            release(ctx, key)
        raise
    if message is None:
        return
    msg = TriggeredMessage(
        team_id=team_id,
        channel_id=channel_id,
        ts=ts,
        text=str(message.get("text") or ""),
        thread_ts=message.get("thread_ts") or None,
        author_id=message.get("user") or event.get("item_user"),
        author_team_id=message.get("team") or message.get("user_team"),
        files=[f for f in message.get("files") or [] if isinstance(f, dict)],
    )
    to = Actor(team_id, user_id, channel_id=channel_id, thread_ts=msg.reply_thread)
    for trigger, key in mine:
        detail: dict[str, object] = {"kind": "reaction", "id": trigger.id, "emoji": trigger.emoji, "by": user_id}
        try:
            started = start_triggered_run(
                ctx,
                client,
                trigger,
                msg,
                origin=Origin.REACTION,
                detail=detail,
                requested_by=user_id,
                dedupe_key=key,
                tell=lambda text: tell(client, to, text),
            )
        except Exception:
            release(ctx, key)
            raise
        if started is None:
            release(ctx, key)  # refused: a later reaction may try again once fixed
        elif started.note:
            tell(client, to, started.note)


def reaction_added(ctx: AppContext, body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
    """Acked when this returns: a reaction on a message that some active trigger waits for."""
    item = event.get("item") or {}
    if item.get("type") != "message" or not event.get("user") or not item.get("channel") or not item.get("ts"):
        return  # a reaction on a file, or a malformed event
    team_id = team_of(body)
    name = emoji_name(str(event.get("reaction") or "")).split("::", 1)[0]  # skin tones count as the emoji
    triggers = [t for t in active_triggers(ctx, team_id, REACTION) if t.emoji == name and t.listens_in(item["channel"])]
    if triggers:
        after_ack(handle_reaction, ctx, client, team_id, event, triggers)


# ---- new messages ---------------------------------------------------------------------------


def is_new_person_message(event: dict[str, Any], bot_user_id: str | None) -> bool:
    """A person's new top-level message in a channel, not addressed to pipebot."""
    text = str(event.get("text") or "")
    thread_ts = event.get("thread_ts")
    return (
        event.get("channel_type") in CHANNEL_TYPES
        and event.get("subtype") in PERSON_SUBTYPES
        and not event.get("bot_id")
        and bool(event.get("user"))
        and event.get("user") != bot_user_id
        and (not thread_ts or thread_ts == event.get("ts"))
        and not (bot_user_id and f"<@{bot_user_id}" in text)
    )


def message_key(trigger: TriggerView, channel_id: str, ts: str) -> str:
    return f"msg:{trigger.id}:{channel_id}:{ts}"


def handle_message(
    ctx: AppContext, client: WebClient, team_id: str, event: dict[str, Any], triggers: list[TriggerView]
) -> None:
    """After the ack: a run per trigger, within its Runs per hour."""
    msg = TriggeredMessage(
        team_id=team_id,
        channel_id=str(event.get("channel") or ""),
        ts=str(event.get("ts") or ""),
        text=str(event.get("text") or ""),
        author_id=str(event.get("user") or ""),
        author_team_id=event.get("user_team") or event.get("team") or None,
        files=[f for f in event.get("files") or [] if isinstance(f, dict)],
    )
    for trigger in triggers:
        key = message_key(trigger, msg.channel_id, msg.ts)
        if not claim(ctx, key):
            continue
        if not take_hourly_slot(ctx, trigger):
            _skipped(ctx, client, trigger, msg)
            continue
        detail: dict[str, object] = {
            "kind": "message",
            "id": trigger.id,
            "channel": msg.channel_id,
            "by": msg.author_id,
        }

        def told(text: str, trigger: TriggerView = trigger) -> None:
            log.info("message trigger %s did not start a run on %s: %s", trigger.id, msg.ts, text)

        try:
            start_triggered_run(
                ctx,
                client,
                trigger,
                msg,
                origin=Origin.MESSAGE_TRIGGER,
                detail=detail,
                requested_by=trigger.created_by,
                dedupe_key=key,
                tell=told,
            )
        except Exception:  # noqa: BLE001 - one trigger's failure does not keep the others from running
            log.exception("message trigger %s failed on %s in %s", trigger.id, msg.ts, msg.channel_id)


def _skipped(ctx: AppContext, client: WebClient, trigger: TriggerView, msg: TriggeredMessage) -> None:
    """Past the cap: nothing runs; the first skip of the hour is logged and told to the creator."""
    if not first_skip_this_hour(ctx, trigger):
        return
    log.warning("message trigger %s reached %s runs this hour; skipping messages", trigger.id, trigger.runs_per_hour)
    text = texts.runs_skipped(trigger.pipeline_name, f"<#{msg.channel_id}>", trigger.runs_per_hour)
    try:
        client.chat_postMessage(channel=trigger.created_by, text=text, unfurl_links=False)
    except Exception:  # noqa: BLE001 - the log line stands
        log.warning("could not tell %s that trigger %s skipped messages", trigger.created_by, trigger.id)


def channel_message(
    ctx: AppContext, body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Acked when this returns: a new message some active message trigger listens for."""
    if not is_new_person_message(event, context.bot_user_id):
        return
    team_id = team_of(body)
    channel_id = str(event.get("channel") or "")
    text = decode_slack_text(str(event.get("text") or ""))
    triggers = [t for t in active_triggers(ctx, team_id, MESSAGE) if t.listens_in(channel_id) and t.matches(text)]
    if triggers:
        after_ack(handle_message, ctx, client, team_id, event, triggers)


def _in_a_channel(event: dict[str, Any]) -> bool:
    """Channel messages are this module's; a DM's belong to bot/slack/listeners/dm.py."""
    return event.get("channel_type") in CHANNEL_TYPES


def register(app: App, ctx: AppContext) -> None:
    """``reaction_added`` and channel ``message`` events; registered before dm.py, whose
    ``message`` listener takes the rest (Bolt runs the first listener that matches)."""
    app.event("reaction_added")(partial(reaction_added, ctx))
    app.event("message", matchers=[_in_a_channel])(partial(channel_message, ctx))

"""Triggers in Slack (DESIGN §13): `/pipebot trigger new` (the modal, its **When** that
rebuilds it, its submission), `/pipebot triggers` (the list) and the list's Pause / Resume /
Delete. The rules are core's (core/triggers/store.py); this module asks Slack who the person
is (guests may make none; a trigger's creator or an admin may change it) and whether an emoji
exists, and says the answers.

A webhook's secret is shown once, in the modal that replaces the form (``response_action:
update``): never in private_metadata, a message or a log.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.admin import AdminCheckFailed, is_admin
from bot.slack.blocks import triggers as blocks
from bot.slack.emoji_check import emoji_exists
from bot.slack.listeners.support import (
    Reply,
    SaveResult,
    action_value,
    later,
    open_modal,
    submission,
    tell,
)
from bot.slack.payloads import Actor, team_of, user_of
from bot.slack.people import PersonUnknown, person
from bot.slack.ratelimit.budget import patience
from bot.slack.text import escape_mrkdwn
from bot.slack.trigger_runs import changed
from core.context import AppContext
from core.errors import ValidationFailed
from core.triggers import store, texts
from core.triggers.store import REACTION, WEBHOOK, TriggerDraft, TriggerRefused, TriggerView
from storage.db import transaction
from storage.repos import pipelines as pipeline_repo

log = logging.getLogger(__name__)

CHANNELS_CHECKED = 5  # picked channels looked up on save (conversations.info, Tier 3)
CHANNEL_CHECK_PATIENCE_S = 0.4  # per lookup: the submission must answer within 3 s
_EMOJI = re.compile(r"[a-z0-9_+'\-]{1,100}")

#: core's error keys → the modal's blocks (a key with no block shown lands on Pipeline)
_BLOCKS = {
    "pipeline": blocks.PIPELINE_BLOCK,
    "kind": blocks.KIND_BLOCK,
    "emoji": blocks.EMOJI_BLOCK,
    "matching": blocks.MATCHING_BLOCK,
    "runs_per_hour": blocks.PER_HOUR_BLOCK,
    "channels": blocks.CHANNELS_BLOCK,
    "name": blocks.NAME_BLOCK,
}


def _pipelines(ctx: AppContext, team_id: str) -> list[tuple[int, str]]:
    with transaction(ctx.sessions) as s:
        return [(p.id, p.name) for p in pipeline_repo.list_pipelines(s, team_id)]


def _guest(ctx: AppContext, client: WebClient, team_id: str, user_id: str) -> bool:
    """Guests and people of other organisations (Slack Connect) make no triggers. PersonUnknown
    (Slack would not say) goes up: the caller says it."""
    return not person(ctx, client, team_id, user_id).full_member_of(team_id)


def open_trigger_modal(
    ctx: AppContext,
    client: WebClient,
    trigger_id: str,
    team_id: str,
    user_id: str,
    *,
    channel_id: str | None = None,
    response_url: str | None = None,
) -> None:
    """`/pipebot trigger new`: the form, for full members only."""
    try:
        if _guest(ctx, client, team_id, user_id):
            raise Reply(texts.GUESTS_CANNOT_OPEN)
    except PersonUnknown as exc:
        raise Reply(str(exc)) from None
    pipelines = _pipelines(ctx, team_id)
    if not pipelines:
        raise Reply(escape_mrkdwn(texts.NO_PIPELINES))
    form = blocks.TriggerForm(channel_id=channel_id, response_url=response_url)
    open_modal(client, trigger_id, blocks.trigger_modal(pipelines, form))


def kind_chosen(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """**When** changed: the form rebuilt with that kind's fields (views.update)."""
    ack()
    later(client, body, "rebuilding the trigger form", rebuild_modal, ctx, client, body)


def rebuild_modal(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> None:
    view = body["view"]
    form = blocks.TriggerForm.from_view(view)
    chosen = action_value(body)  # the click itself says the kind, whatever the state holds
    if chosen in blocks.FIELDS:
        form.kind = chosen
    new_view = blocks.trigger_modal(_pipelines(ctx, team_of(body)), form)
    try:
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=new_view.to_dict())
    except SlackApiError as exc:
        if exc.response.get("error") != "hash_conflict":
            raise
        log.info("trigger form changed meanwhile (double click?); update skipped")


def save_trigger(
    ctx: AppContext, client: WebClient, body: Mapping[str, Any], context: BoltContext | None
) -> SaveResult:
    """Check and save the form; an error lands under the field it concerns."""
    team_id, user_id = team_of(body, context), user_of(body)
    form = blocks.TriggerForm.from_view(body["view"])
    try:
        is_guest = _guest(ctx, client, team_id, user_id)
    except PersonUnknown as exc:
        return _errors({blocks.PIPELINE_BLOCK: str(exc)})
    shown = {blocks.PIPELINE_BLOCK, blocks.KIND_BLOCK, *blocks.FIELDS.get(form.kind, ())}
    draft = TriggerDraft(
        kind=form.kind,
        pipeline_id=form.pipeline_id,
        channels=tuple(form.channels),
        emoji=form.emoji,
        matching=form.matching,
        runs_per_hour=form.runs_per_hour,
        name=form.name,
    )
    emoji = store.emoji_name(form.emoji)
    well_formed = bool(_EMOJI.fullmatch(emoji))  # a malformed name gets core's error instead
    if not is_guest and form.kind == REACTION and well_formed and not emoji_exists(ctx, client, team_id, emoji):
        return _errors({blocks.EMOJI_BLOCK: texts.emoji_unknown(emoji)})
    if not is_guest and (missing := _channels_without_pipebot(client, form)):
        refs = ", ".join(dict.fromkeys(missing))
        return _errors({blocks.CHANNELS_BLOCK: texts.not_in_channels(refs, webhook=form.kind == WEBHOOK)})
    try:
        view, secret = store.create(ctx, team_id, user_id, draft, is_guest=is_guest)
    except TriggerRefused as exc:
        return _errors({blocks.PIPELINE_BLOCK: str(exc)})
    except ValidationFailed as exc:
        errors: dict[str, str] = {}
        for key, message in exc.errors.items():
            block = _BLOCKS.get(key, blocks.PIPELINE_BLOCK)
            block = block if block in shown else blocks.PIPELINE_BLOCK
            errors[block] = f"{errors[block]} {message}" if block in errors else message
        return _errors(errors)
    changed(ctx, team_id)
    log.info("trigger %s (%s) made by %s in %s", view.id, view.kind, user_id, team_id)
    if view.kind == WEBHOOK and secret:
        url = f"{ctx.settings.public_url}/hooks/{view.id}"
        return {"response_action": "update", "view": blocks.webhook_created_view(view, url, secret).to_dict()}, None
    text = f"✅ Made the trigger: {blocks.trigger_line(view)}"
    to = Actor(team_id, user_id, channel_id=form.channel_id, response_url=form.response_url)
    return None, lambda client: tell(client, to, text)


def _channels_without_pipebot(client: WebClient, form: blocks.TriggerForm) -> list[str]:
    """The picked channels (``#name``) a trigger could never work in: for a reaction or a
    message, one pipebot is not in (Slack sends it no events from there); for a webhook, a
    private one it was not invited to (a public one it joins when it posts). Checked for the
    first few picks only (a modal has 3 s); Slack failing to say counts as fine."""
    missing = []
    for channel_id in form.channels[:CHANNELS_CHECKED]:
        try:
            with patience(CHANNEL_CHECK_PATIENCE_S):
                channel = client.conversations_info(channel=channel_id)["channel"]
        except SlackApiError as exc:
            if exc.response.get("error") == "channel_not_found":  # private, pipebot not in it
                missing.append("a private channel")
            continue
        if channel.get("is_member") or (form.kind == WEBHOOK and not channel.get("is_private")):
            continue
        missing.append(f"#{channel.get('name') or channel_id}")
    return missing


def _errors(errors: dict[str, str]) -> SaveResult:
    return {"response_action": "errors", "errors": errors}, None


# ---- the list -------------------------------------------------------------------------------


def list_message(ctx: AppContext, team_id: str, note: str | None = None) -> dict[str, Any]:
    text, list_blocks = blocks.triggers_message(store.list_triggers(ctx, team_id), note)
    return {"text": text, "blocks": list_blocks}


def show_triggers(ctx: AppContext, team_id: str, respond: Respond) -> None:
    """`/pipebot triggers`: the list, to the person alone."""
    respond(response_type="ephemeral", **list_message(ctx, team_id))


def _trigger_id(body: Mapping[str, Any]) -> str:
    try:
        return str(json.loads(action_value(body))["id"])
    except (ValueError, KeyError, TypeError):
        raise Reply(texts.STALE_BUTTON) from None


Change = Callable[..., TriggerView]


def change_trigger(ctx: AppContext, client: WebClient, body: Mapping[str, Any], respond: Respond, op: Change) -> None:
    """Pause / Resume / Delete from the list: by the creator, or else by an admin; the list
    is shown again with what happened."""
    team_id, user_id = team_of(body), user_of(body)
    trigger_id = _trigger_id(body)
    try:
        try:
            view = op(ctx, team_id, trigger_id, user_id)
        except TriggerRefused as exc:
            if str(exc) != texts.NOT_YOURS:
                raise
            try:
                admin = is_admin(ctx, client, user_id, team_id)
            except AdminCheckFailed as failed:
                raise Reply(str(failed)) from None
            if not admin:
                raise
            view = op(ctx, team_id, trigger_id, user_id, is_admin=True)
    except TriggerRefused as exc:
        raise Reply(escape_mrkdwn(str(exc))) from None
    changed(ctx, team_id)
    done = {store.pause: "⏸️ Paused", store.resume: "▶️ Resumed", store.delete: "🗑️ Deleted"}.get(op, "Changed")
    note = f"{done}: {blocks.trigger_line(view)}"
    respond(replace_original=True, **list_message(ctx, team_id, note))


def button(ctx: AppContext, op: Change, ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
    ack()
    later(client, body, "changing a trigger", change_trigger, ctx, client, body, respond, op)


def register(app: App, ctx: AppContext) -> None:
    """The form's submission and **When**, the list's buttons."""
    app.view(blocks.TRIGGER_CALLBACK)(submission(ctx, save_trigger, blocks.PIPELINE_BLOCK))
    app.action(blocks.KIND_ACTION)(partial(kind_chosen, ctx))
    app.action(blocks.TRIGGER_PAUSE)(partial(button, ctx, store.pause))
    app.action(blocks.TRIGGER_RESUME)(partial(button, ctx, store.resume))
    app.action(blocks.TRIGGER_DELETE)(partial(button, ctx, store.delete))

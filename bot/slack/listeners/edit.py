"""*Edit* on a result: a Slack form for text that fits it, the web editor for any other.

The button (on a run's final message, in the artifact modal, on App Home) opens a modal on
the artifact's latest version: **Part** (the final output or one step's output; changing
it refills the text), **Text** (prefilled) and an optional **Note**. Slack's inputs hold
3,000 characters, so a part longer than that is never put in one (it would be cut): the
person gets a link to the web editor instead, ephemeral so only they see it, made by
core/artifacts/editing.new_link (bound to them and the artifact, valid for minutes, single
use).

Saving goes through core/artifacts/editing.save_edit: an empty edit, an edit that changes
nothing, a note too long, and a version someone else saved meanwhile are inline errors that
keep what was typed. A saved version is announced in the run's thread. Whoever may see the
run's conversation may edit (bot/slack/seeing.py: a guest or someone of another organisation
only in the conversations they are in).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks import artifact_buttons as buttons
from bot.slack.blocks import edit as msgs
from bot.slack.blocks.common import info_modal
from bot.slack.listeners.support import SaveResult, action_value, later, show_view, submission, tell
from bot.slack.modal_state import EditState, StateUnreadable
from bot.slack.payloads import Actor, actor_of, team_of, user_of
from bot.slack.seeing import artifact_refusal
from core.artifacts import messages
from core.artifacts.editing import ArtifactNotFound, VersionConflict, new_link, save_edit
from core.artifacts.versions import EditRefused, clean_note, current_text, parse_target
from core.context import AppContext
from core.links import artifact_permalink
from core.messages import RESULT_DELETED
from storage.db import transaction
from storage.repos import artifact_versions as versions

log = logging.getLogger(__name__)


def _pipeline_name(content: Mapping[str, Any]) -> str:
    return str((content.get("pipeline") or {}).get("name") or "Run result")


def _thread_of(content: Mapping[str, Any]) -> tuple[str | None, str | None]:
    slack = content.get("slack") or {}
    return slack.get("channel_id"), slack.get("thread_ts")


def _send_link(
    ctx: AppContext,
    client: WebClient,
    click: Actor,
    artifact_id: str,
    base_version: int,
    part: msgs.Part,
    pipeline_name: str,
    *,
    channel_id: str | None = None,
    thread_ts: str | None = None,
) -> None:
    """The web editor's link, to the person who pressed *Edit* only."""
    url = new_link(ctx, click.team_id, artifact_id, click.user_id, base_version, part=part.key)
    text, blocks = msgs.edit_link_message(pipeline_name, part, url)
    to = replace(click, channel_id=channel_id or click.channel_id, thread_ts=thread_ts or click.thread_ts)
    tell(client, to, text, blocks)


def open_edit(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> None:
    """*Edit* clicked: the modal on the latest version, or the web editor's link when the final
    output is too long for Slack's input."""
    click = actor_of(body)
    ref = buttons.parse_ref(action_value(body))
    if ref is not None and (why := artifact_refusal(ctx, client, click.team_id, click.user_id, ref[0])) is not None:
        tell(client, click, why)
        return
    latest = None
    if ref is not None:
        with transaction(ctx.sessions) as s:
            latest = versions.latest_version(s, click.team_id, ref[0])
    if ref is None or latest is None:
        tell(client, click, messages.ARTIFACT_GONE if ref else buttons.STALE_BUTTON)
        return
    if latest.content.get("deleted"):
        tell(client, click, RESULT_DELETED)
        return
    artifact_id, name = str(latest.artifact_id), _pipeline_name(latest.content)
    parts = msgs.parts_of(latest.content)
    first = parts[0]
    if not first.fits:
        _send_link(ctx, client, click, artifact_id, latest.number, first, name)
        return
    metadata = EditState(artifact_id, latest.number, click.channel_id, click.thread_ts).encode()
    view = msgs.edit_modal(
        name,
        latest.number,
        parts,
        selected=first.key,
        text=current_text(latest.content, parse_target(first.key)),
        note=None,
        metadata=metadata,
    )
    show_view(client, click, view)


def _state(view: Mapping[str, Any]) -> Mapping[str, Any]:
    return (view.get("state") or {}).get("values") or {}


def _selected_part(values: Mapping[str, Any]) -> str:
    chosen = ((values.get(msgs.EDIT_PART_BLOCK) or {}).get(msgs.EDIT_PART_ACTION) or {}).get("selected_option")
    return str((chosen or {}).get("value") or msgs.OUTPUT_PART)


def _typed(values: Mapping[str, Any], block_id: str) -> str | None:
    state = (values.get(block_id) or {}).get("value")
    return None if state is None else (state.get("value") or "")


def change_part(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> None:
    """**Part** changed in the modal: refill the text with that part (a new block id, so Slack
    shows the new prefill), or, for a part too long for the form, send the editor's link."""
    view = body.get("view") or {}
    try:
        state = EditState.decode(view.get("private_metadata"))
    except StateUnreadable as exc:
        log.warning("edit modal with unreadable state: %s", exc.detail)
        return
    click = actor_of(body)
    values = _state(view)
    key = action_value(body) or _selected_part(values)  # the option just picked
    why = artifact_refusal(ctx, client, click.team_id, click.user_id, state.artifact_id)
    with transaction(ctx.sessions) as s:
        base = versions.get_version(s, click.team_id, state.artifact_id, state.version) if why is None else None
    if base is None:
        update: Any = info_modal("Edit result", why or messages.ARTIFACT_GONE)
    else:
        parts = msgs.parts_of(base.content)
        part = next((p for p in parts if p.key == key), parts[0])
        text = current_text(base.content, parse_target(part.key)) if part.fits else None
        if text is None:
            _send_link(
                ctx,
                client,
                click,
                str(base.artifact_id),
                base.number,
                part,
                _pipeline_name(base.content),
                channel_id=state.channel_id,
                thread_ts=state.thread_ts,
            )
        update = msgs.edit_modal(
            _pipeline_name(base.content),
            base.number,
            parts,
            selected=part.key,
            text=text,
            note=_typed(values, msgs.EDIT_NOTE_BLOCK),
            metadata=view.get("private_metadata", ""),
        )
    try:
        client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=update.to_dict())
    except SlackApiError as exc:  # hash_conflict: a newer update of the form won
        log.info("could not refill the edit form: %s", exc.response.get("error"))


def _announce(
    ctx: AppContext, client: WebClient, team_id: str, user_id: str, artifact_id: str, number: int, note: str | None
) -> None:
    """After a save: ``✏️ @user saved version N: note`` in the run's thread (or, for a run
    without one, a DM to the person who saved)."""
    with transaction(ctx.sessions) as s:
        row = versions.get_version(s, team_id, artifact_id, number)
    channel, thread_ts = _thread_of(row.content) if row is not None else (None, None)
    text = msgs.saved_reply(user_id, number, note, artifact_permalink(ctx, team_id, artifact_id))
    if channel and thread_ts:
        try:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, unfurl_links=False)
            return
        except SlackApiError as exc:
            log.info("could not post the saved version in its thread: %s", exc.response.get("error"))
    client.chat_postMessage(channel=user_id, text=text, unfurl_links=False)


def save(ctx: AppContext, client: WebClient, body: Mapping[str, Any], context: BoltContext | None) -> SaveResult:
    """The modal's submission: a new version, or inline errors that keep the text."""
    view = body.get("view") or {}
    values = _state(view)
    key = _selected_part(values)
    block = msgs.text_block_id(key)
    text = _typed(values, block)
    if text is None:
        return {"response_action": "errors", "errors": {msgs.EDIT_PART_BLOCK: msgs.EDIT_PICK_SHORTER}}, None
    try:
        state = EditState.decode(view.get("private_metadata"))
    except StateUnreadable as exc:
        log.warning("edit modal with unreadable state: %s", exc.detail)
        return {"response_action": "errors", "errors": {block: str(exc)}}, None
    team_id, user_id = team_of(body, context), user_of(body)
    if (why := artifact_refusal(ctx, client, team_id, user_id, state.artifact_id)) is not None:
        return {"response_action": "errors", "errors": {block: why}}, None
    artifact_id = state.artifact_id
    try:
        note = clean_note(_typed(values, msgs.EDIT_NOTE_BLOCK))
    except EditRefused as exc:
        return {"response_action": "errors", "errors": {msgs.EDIT_NOTE_BLOCK: str(exc)}}, None
    try:
        number = save_edit(
            ctx,
            team_id,
            artifact_id,
            base_version=state.version,
            target=key,
            text=text,
            author=user_id,
            note=note,
        )
    except EditRefused as exc:
        return {"response_action": "errors", "errors": {block: str(exc)}}, None
    except VersionConflict as exc:
        return {
            "response_action": "errors",
            "errors": {block: messages.VERSION_CONFLICT.format(version=exc.latest)},
        }, None
    except ArtifactNotFound:
        return {"response_action": "errors", "errors": {block: messages.ARTIFACT_GONE}}, None

    def follow_up(c: WebClient) -> None:
        _announce(ctx, c, team_id, user_id, artifact_id, number, note)

    return None, follow_up


def edit_clicked(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """*Edit*: the modal, or the web editor's link for a long output."""
    ack()
    later(client, body, "opening the edit form", open_edit, ctx, client, body)


def part_picked(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """The modal's **Part** select."""
    ack()
    later(client, body, "refilling the edit form", change_part, ctx, client, body)


def register(app: App, ctx: AppContext) -> None:
    """*Edit*, the modal's **Part** select and its submission."""
    app.action(buttons.EDIT_ARTIFACT)(partial(edit_clicked, ctx))
    app.action(msgs.EDIT_PART_ACTION)(partial(part_picked, ctx))
    app.view(msgs.EDIT_MODAL_CALLBACK)(submission(ctx, save, msgs.EDIT_PART_BLOCK))

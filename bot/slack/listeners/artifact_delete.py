"""*Delete* in the artifact's View modal: the requester or an admin deletes a run's result.

The button is shown only to them (bot/slack/listeners/artifacts.open_artifact asks
:func:`may_delete_here`), but a button's payload can be forged, so the click is checked
again here against the signed payload's user and workspace, never the button's value
alone. The delete itself is core/artifacts/deletion.py; the modal then shows the tombstone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.admin import AdminCheckFailed, is_admin
from bot.slack.blocks import artifacts as msgs
from bot.slack.blocks.common import info_modal, slack_date
from bot.slack.listeners.support import action_value, show_view, tell, told
from bot.slack.payloads import actor_of
from bot.slack.seeing import refusal
from core.artifacts.deletion import NotAllowed, delete_result
from core.context import AppContext
from core.links import artifact_permalink
from core.messages import ALREADY_DELETED, DELETE_REFUSED, deleted_by
from storage.db import transaction
from storage.repos import artifacts as artifact_repo

log = logging.getLogger(__name__)

GONE = "That artifact doesn't exist in this workspace any more."


def deleted_text(by: str, at: datetime) -> str:
    return f"🗑️ {deleted_by(f'<@{by}>', slack_date(at))}."


def may_delete_here(ctx: AppContext, client: WebClient, team_id: str, user_id: str, created_by: str | None) -> bool:
    """Whether to offer *Delete*: the run's requester (no Slack call), else an admin. When
    Slack cannot say who someone is, the button is not offered."""
    if created_by and created_by == user_id:
        return True
    try:
        return is_admin(ctx, client, user_id, team_id)
    except AdminCheckFailed:
        return False


def delete_clicked(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> None:
    """Check who clicked, delete, and turn the modal into the tombstone."""
    click = actor_of(body)
    artifact_id = action_value(body)
    with transaction(ctx.sessions) as s:
        art = artifact_repo.get_artifact(s, click.team_id, artifact_id)
        created_by = art.created_by if art is not None else None
        channel_id = art.channel_id if art is not None else None
    if art is None:
        tell(client, click, GONE)
        return
    # Who may not see the run's conversation may not delete it either (the one rule, DESIGN §10).
    if (why := refusal(ctx, client, click.team_id, click.user_id, channel_id)) is not None:
        tell(client, click, why)
        return
    admin = False
    if created_by != click.user_id:
        try:
            admin = is_admin(ctx, client, click.user_id, click.team_id)
        except AdminCheckFailed as exc:
            tell(client, click, str(exc))
            return
    try:
        done = delete_result(ctx, click.team_id, artifact_id, click.user_id, admin=admin)
    except NotAllowed:
        done = None
    if done is None:
        log.info("refused a delete of an artifact by someone who may not")
        if click.in_modal and click.trigger_id:
            show_view(client, click, info_modal("Run result", DELETE_REFUSED))
        else:
            tell(client, click, DELETE_REFUSED)
        return
    with transaction(ctx.sessions) as s:
        art = artifact_repo.get_artifact(s, click.team_id, artifact_id)
        view = msgs.artifact_modal(art, artifact_permalink(ctx, click.team_id, str(art.id))) if art else None
    view_id = (body.get("view") or {}).get("id")
    if view is not None and view_id:
        try:  # the modal the click came from becomes the tombstone
            client.views_update(view_id=view_id, view=view.to_dict())
        except SlackApiError as exc:
            log.info("could not update the artifact modal: %s", exc.response.get("error"))
    if done.already or not view_id:
        tell(client, click, ALREADY_DELETED if done.already else deleted_text(done.by, done.at))


def clicked(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """*Delete* (after Slack's confirmation): acked at once, the delete right after."""
    ack()
    with told(client, body, "deleting an artifact"):
        delete_clicked(ctx, client, body)


def register(app: App, ctx: AppContext) -> None:
    app.action(msgs.DELETE_ARTIFACT)(partial(clicked, ctx))

"""*Compare* on a result: a short summary in Slack, with the link to the compare page.

What is compared, in this order: the latest version with version 1 when the artifact was
edited; else the parent it branched from (the version it branched from) with it; else
another run of the same pipeline, picked in a modal (at most 100, newest first). The
summary goes to the person who clicked: ephemeral in the conversation, or in a modal when
the click came from a modal or App Home.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.models.blocks import Block

from bot.slack.blocks import artifact_buttons as buttons
from bot.slack.blocks import compare as msgs
from bot.slack.blocks.common import name_md
from bot.slack.blocks.limits import SELECT_OPTIONS_LIMIT
from bot.slack.listeners.support import (
    SaveResult,
    ack_only,
    action_value,
    later,
    selected_value,
    show_view,
    submission,
    tell,
)
from bot.slack.modal_state import CompareState, StateUnreadable
from bot.slack.payloads import Actor, actor_of, team_of, user_of
from bot.slack.seeing import MembershipUnknown, artifact_refusal, sight_of
from core.artifacts import messages
from core.artifacts.diff import compare
from core.context import AppContext
from core.formatting import format_datetime
from core.links import compare_permalink
from core.messages import RESULT_DELETED
from storage.db import transaction
from storage.repos import artifact_versions as versions
from storage.repos import lineage
from storage.repos.artifact_versions import VersionRow

log = logging.getLogger(__name__)


def _name(row: VersionRow) -> str:
    return str((row.content.get("pipeline") or {}).get("name") or "Run result")


def summary(
    ctx: AppContext, team_id: str, left: VersionRow, right: VersionRow, left_label: str, right_label: str
) -> tuple[str, list[Block]]:
    """The Slack summary of ``left`` → ``right`` with the signed link to the compare page."""
    url = compare_permalink(ctx, team_id, str(left.artifact_id), left.number, str(right.artifact_id), right.number)
    return msgs.compare_summary(_name(right), left_label, right_label, compare(left.content, right.content), url)


def start_compare(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> None:
    """*Compare* clicked: decide what to compare and answer, or open the picker."""
    click = actor_of(body)
    ref = buttons.parse_ref(action_value(body))
    if ref is None:
        tell(client, click, buttons.STALE_BUTTON)
        return
    try:  # the clicker must see this run, and the picker lists only runs they may see
        sight = sight_of(ctx, client, click.team_id, click.user_id)
    except MembershipUnknown as exc:
        tell(client, click, str(exc))
        return
    if (why := artifact_refusal(ctx, client, click.team_id, click.user_id, ref[0])) is not None:
        tell(client, click, why)
        return
    pair: tuple[VersionRow, VersionRow, str, str] | None = None
    candidates: list[Any] = []
    with transaction(ctx.sessions) as s:
        latest = versions.latest_version(s, click.team_id, ref[0])
        if latest is None:
            tell(client, click, messages.ARTIFACT_GONE)
            return
        if latest.content.get("deleted"):
            tell(client, click, RESULT_DELETED)
            return
        parent = lineage.parent_of(s, click.team_id, latest.artifact_id)
        if latest.number > 1:
            first = versions.get_version(s, click.team_id, latest.artifact_id, 1)
            if first is not None:
                pair = (first, latest, "version 1", f"version {latest.number}")
        elif parent is not None and parent.artifact_id is not None:
            source = (
                versions.get_version(s, click.team_id, parent.artifact_id, parent.version)
                if parent.version
                else versions.latest_version(s, click.team_id, parent.artifact_id)
            )
            if source is not None and not source.content.get("deleted"):  # a deleted parent: pick another
                step = f" from step {parent.step}" if parent.step else ""
                pair = (source, latest, f"parent (version {source.number})", f"this branch{step}")
        if pair is None:
            candidates = list(
                lineage.related_artifacts(
                    s, click.team_id, latest.artifact_id, limit=SELECT_OPTIONS_LIMIT, scope=sight.scope
                )
            )
    if pair is not None:
        _deliver(client, click, *summary(ctx, click.team_id, *pair))
    elif candidates:
        metadata = CompareState(str(latest.artifact_id)).encode()
        show_view(client, click, msgs.compare_picker(_name(latest), candidates, metadata=metadata))
    else:
        tell(client, click, msgs.NOTHING_TO_COMPARE.format(pipeline=name_md(_name(latest))))


def _deliver(client: WebClient, click: Actor, text: str, blocks: list[Block]) -> None:
    if click.channel_id:
        tell(client, click, text, blocks)
    else:
        show_view(client, click, msgs.compare_modal(blocks))


def pick(ctx: AppContext, client: WebClient, body: Mapping[str, Any], context: BoltContext | None) -> SaveResult:
    """The picker's submission: the modal becomes the summary."""
    view = body.get("view") or {}
    team_id = team_of(body, context)
    try:
        clicked = CompareState.decode(view.get("private_metadata")).artifact_id
    except StateUnreadable as exc:
        return {"response_action": "errors", "errors": {msgs.COMPARE_PICK_BLOCK: str(exc)}}, None
    picked = selected_value((view.get("state") or {}).get("values") or {}, msgs.COMPARE_PICK_BLOCK)
    if clicked and picked and (why := artifact_refusal(ctx, client, team_id, user_of(body), clicked, picked)):
        return {"response_action": "errors", "errors": {msgs.COMPARE_PICK_BLOCK: why}}, None
    with transaction(ctx.sessions) as s:
        left = versions.latest_version(s, team_id, picked) if picked else None
        right = versions.latest_version(s, team_id, clicked) if clicked else None
    if left is None or right is None:
        return {"response_action": "errors", "errors": {msgs.COMPARE_PICK_BLOCK: msgs.COMPARE_GONE}}, None
    if left.content.get("deleted") or right.content.get("deleted"):
        return {"response_action": "errors", "errors": {msgs.COMPARE_PICK_BLOCK: RESULT_DELETED}}, None
    when = format_datetime(left.content.get("created_at") or left.created_at)
    _, blocks = summary(ctx, team_id, left, right, f"run of {when}", "this run")
    return {"response_action": "update", "view": msgs.compare_modal(blocks).to_dict()}, None


def compare_clicked(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """*Compare*: the summary, or the picker when there is more than one candidate."""
    ack()
    later(client, body, "comparing", start_compare, ctx, client, body)


def register(app: App, ctx: AppContext) -> None:
    """*Compare*, the picker's submission, and the acks of the lifecycle's URL buttons."""
    app.action(buttons.COMPARE_ARTIFACT)(partial(compare_clicked, ctx))
    app.action(buttons.OPEN_LINK)(ack_only)  # the editor's and the compare page's URL buttons
    app.view(msgs.COMPARE_PICK_CALLBACK)(submission(ctx, pick, msgs.COMPARE_PICK_BLOCK))

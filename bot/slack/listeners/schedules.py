"""Schedules in Slack (DESIGN §13): `/pipebot schedule new` (the form and its submission),
`/pipebot schedules` (the list) and its *Pause* / *Resume* / *Delete* buttons.

Every rule lives in core/schedules/store.py; this module turns Slack's payloads into its
calls and its refusals into inline errors or ephemeral answers. Slack-only checks are here:
guests may create none, and the channel must be one the creator is in and the bot can post
in (a private channel it was not invited to is refused now, not at 9:00 tomorrow).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.admin import AdminCheckFailed, is_admin
from bot.slack.blocks import schedules as blocks
from bot.slack.blocks.common import encode_metadata, info_modal
from bot.slack.listeners.support import (
    Reply,
    SaveResult,
    action_value,
    checked,
    ephemeral,
    field_errors,
    later,
    open_modal,
    selected_value,
    submission,
    tell,
    text_value,
)
from bot.slack.payloads import Actor, team_of, user_of
from bot.slack.people import PersonUnknown, person
from bot.slack.seeing import NOT_YOURS, MembershipUnknown, refusal, sight_of, warm
from core.context import AppContext
from core.errors import ValidationFailed
from core.messages import COMMAND
from core.schedules import store, texts
from core.schedules.store import ScheduleDraft, ScheduleRefused, ScheduleView
from storage.db import transaction
from storage.repos import pipelines as pipeline_repo

log = logging.getLogger(__name__)

#: A zone Slack does not give (a bot, a lookup that failed): the form shows it, the person changes it.
FALLBACK_TZ = "UTC"


# ---- who may make one, in which zone ------------------------------------------------------------


def guest_problem(ctx: AppContext, client: WebClient, team_id: str, user_id: str) -> str | None:
    """Guests and people of other organisations make no schedules (a schedule runs as its
    creator, unattended, for as long as it lives)."""
    try:
        who = person(ctx, client, team_id, user_id)
    except PersonUnknown as exc:
        return str(exc)
    return None if who.full_member_of(team_id) else texts.GUESTS_CANNOT


def slack_timezone(client: WebClient, user_id: str) -> str:
    """The person's time zone as Slack has it (users.info ``tz``), for the form's default."""
    try:
        tz = client.users_info(user=user_id)["user"].get("tz")
    except (SlackApiError, KeyError, TypeError):
        log.info("no Slack time zone for %s", user_id)
        return FALLBACK_TZ
    return tz if isinstance(tz, str) and tz else FALLBACK_TZ


def bot_cannot_post(client: WebClient, channel_id: str) -> str | None:
    """Why the bot could not post the runs in ``channel_id`` (None: it can; a public channel it
    is not in yet is joined when the first run posts, bot/slack/run_post.py)."""
    try:
        chan = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        if error in ("channel_not_found", "not_in_channel"):
            return texts.NOT_IN_CHANNEL
        log.info("could not check channel %s for a schedule: %s", channel_id, error)
        return None  # Slack is busy: the first run says it if it cannot post
    if chan.get("is_archived"):
        return texts.CHANNEL_ARCHIVED
    private = chan.get("is_private") or chan.get("is_im") or chan.get("is_mpim")
    return texts.NOT_IN_CHANNEL if private and not chan.get("is_member") else None


# ---- /pipebot schedule new ----------------------------------------------------------------------


def open_schedule_modal(
    ctx: AppContext,
    client: WebClient,
    trigger_id: str,
    team_id: str,
    user_id: str,
    *,
    channel_id: str | None = None,
    response_url: str | None = None,
) -> None:
    """The form, with the creator's Slack time zone and the command's channel filled in."""
    if (why := guest_problem(ctx, client, team_id, user_id)) is not None:
        raise Reply(why)
    with transaction(ctx.sessions) as s:
        pipelines = list(pipeline_repo.list_pipelines(s, team_id))
    if not pipelines:
        open_modal(client, trigger_id, info_modal(texts.MODAL_TITLE, texts.NO_PIPELINES.format(command=COMMAND)))
        return
    view = blocks.schedule_modal(
        pipelines,
        timezone=slack_timezone(client, user_id),
        channel_id=channel_id,
        metadata=encode_metadata({"c": channel_id, "r": response_url}),
    )
    open_modal(client, trigger_id, view)
    warm(ctx, client, team_id, user_id)  # the submission's channel check then reads the cache


def _metadata(raw: str | None) -> dict[str, Any]:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _channel_problem(ctx: AppContext, client: WebClient, team_id: str, user_id: str, channel_id: str) -> str | None:
    why = refusal(ctx, client, team_id, user_id, channel_id)
    if why == NOT_YOURS:
        return texts.NOT_IN_CHANNEL
    return why or bot_cannot_post(client, channel_id)


def save_schedule(
    ctx: AppContext, client: WebClient, body: Mapping[str, Any], context: BoltContext | None = None
) -> SaveResult:
    """Check and save; each problem under its field, and on success the next three times."""
    view = body.get("view") or {}
    team_id, user_id = team_of(body, context), user_of(body)
    values = (view.get("state") or {}).get("values") or {}
    meta = _metadata(view.get("private_metadata"))
    if (why := guest_problem(ctx, client, team_id, user_id)) is not None:
        return {"response_action": "errors", "errors": {blocks.PIPELINE_BLOCK: why}}, None
    raw_id = selected_value(values, blocks.PIPELINE_BLOCK)
    channel_id = ((values.get(blocks.CHANNEL_BLOCK) or {}).get("value") or {}).get("selected_conversation") or ""
    draft = ScheduleDraft(
        pipeline_id=int(raw_id) if raw_id.isdigit() else None,
        cron=text_value(values, blocks.CRON_BLOCK),
        timezone=text_value(values, blocks.TIMEZONE_BLOCK).strip(),
        channel_id=channel_id,
        input=text_value(values, blocks.INPUT_BLOCK),
        digest=checked(values, blocks.DIGEST_BLOCK),
    )
    errors: dict[str, str] = {}
    if not draft.input.strip() and not draft.digest:  # a digest's runs read the channel instead
        errors[blocks.INPUT_BLOCK] = texts.INPUT_OR_DIGEST
    if channel_id and (why := _channel_problem(ctx, client, team_id, user_id, channel_id)) is not None:
        errors[blocks.CHANNEL_BLOCK] = why
    try:
        if errors:  # the cron and zone are still checked, so every field's problem shows at once
            _check_times(ctx, team_id, draft)
            raise ValidationFailed({})
        saved, times = store.create(ctx, team_id, user_id, draft)
    except ValidationFailed as exc:
        found = field_errors(exc.errors, tuple(blocks.FIELD_BLOCKS), "pipeline")
        errors = {**{blocks.FIELD_BLOCKS[k]: v for k, v in found.items()}, **errors}
        return {"response_action": "errors", "errors": errors}, None
    to = Actor(team_id, user_id, channel_id=meta.get("c"), response_url=meta.get("r"))
    return None, lambda c: tell(c, to, blocks.scheduled_text(saved, times))


def _check_times(ctx: AppContext, team_id: str, draft: ScheduleDraft) -> None:
    """The cron and time zone alone (ValidationFailed keyed ``cron`` / ``timezone``)."""
    if draft.cron.strip():
        store.preview(draft.cron, draft.timezone, min_minutes=store.min_minutes(ctx, team_id))


# ---- /pipebot schedules and its buttons ---------------------------------------------------------


def visible_schedules(ctx: AppContext, client: WebClient, team_id: str, user_id: str) -> list[ScheduleView]:
    """The workspace's schedules whose channel the person can see (DESIGN §10), and their own
    whatever Slack says (when it will not say, only their own)."""
    views = store.list_schedules(ctx, team_id)
    try:
        sight = sight_of(ctx, client, team_id, user_id)
    except MembershipUnknown:
        return [v for v in views if v.created_by == user_id]
    return [v for v in views if v.created_by == user_id or sight.sees(team_id, v.channel_id)]


def list_message(
    ctx: AppContext, client: WebClient, team_id: str, user_id: str, note: str | None = None
) -> dict[str, Any]:
    """The list as an ephemeral reply (``respond`` keyword arguments)."""
    text, shown = blocks.schedules_message(visible_schedules(ctx, client, team_id, user_id), note)
    return ephemeral(text, shown)


def show_schedules(ctx: AppContext, client: WebClient, team_id: str, user_id: str, respond: Respond) -> None:
    """`/pipebot schedules`."""
    respond(**list_message(ctx, client, team_id, user_id))


Change = Callable[..., ScheduleView]


def change_schedule(
    ctx: AppContext,
    change: Change,
    done: Callable[[str], str],
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
) -> None:
    """*Pause*, *Resume* or *Delete*: the creator or an admin; the list is shown again with
    what was done, and a refusal is said privately (the list stays)."""
    ack()
    team_id, user_id, schedule_id = team_of(body), user_of(body), action_value(body)

    def work() -> None:
        try:
            try:
                view = change(ctx, team_id, schedule_id, user_id)
            except ScheduleRefused as exc:
                if str(exc) != texts.NOT_YOURS or not _is_admin(ctx, client, team_id, user_id):
                    raise
                view = change(ctx, team_id, schedule_id, user_id, is_admin=True)
        except ScheduleRefused as exc:
            respond(text=str(exc), response_type="ephemeral", replace_original=False)
            return
        respond(**list_message(ctx, client, team_id, user_id, done(view.pipeline_name)), replace_original=True)

    later(client, body, "changing a schedule", work)


def _is_admin(ctx: AppContext, client: WebClient, team_id: str, user_id: str) -> bool:
    try:
        return is_admin(ctx, client, user_id, team_id)
    except AdminCheckFailed:
        return False


def register(app: App, ctx: AppContext) -> None:
    """The form's submission and the list's buttons (the commands come through commands.py)."""
    app.view(blocks.SCHEDULE_CALLBACK)(submission(ctx, save_schedule, blocks.PIPELINE_BLOCK))
    app.action(blocks.PAUSE)(partial(change_schedule, ctx, store.pause, texts.paused))
    app.action(blocks.RESUME)(partial(change_schedule, ctx, store.resume, texts.resumed))
    app.action(blocks.DELETE)(partial(change_schedule, ctx, store.delete, texts.deleted))

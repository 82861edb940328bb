"""Block Kit for schedules (DESIGN §13): the *New schedule* modal, the `/pipebot schedules`
list with *Pause* / *Resume* / *Delete*, App Home's short section, and the "Scheduled …"
answer. Pure builders; every text comes from core/schedules/texts.py.

Times are shown with Slack's ``<!date^…>`` (each reader sees their own zone) and a fallback
written in the schedule's zone, which the line names.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    CheckboxesElement,
    ConfirmObject,
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.blocks.common import INPUT, button, form_modal, one_line, section
from bot.slack.blocks.limits import OPTION_TEXT_LIMIT, PLAIN_TEXT_INPUT_LIMIT, SELECT_OPTIONS_LIMIT
from bot.slack.text import clip, escape_mrkdwn
from core.messages import COMMAND
from core.schedules import texts
from core.schedules.store import ScheduleView

SCHEDULE_CALLBACK = "pipebot_schedule_save"
PIPELINE_BLOCK = "schedule_pipeline"
CRON_BLOCK = "schedule_cron"
TIMEZONE_BLOCK = "schedule_timezone"
CHANNEL_BLOCK = "schedule_channel"
INPUT_BLOCK = "schedule_input"
DIGEST_BLOCK = "schedule_digest"
DIGEST_VALUE = "digest"
#: store.create's ValidationFailed keys → the modal's blocks.
FIELD_BLOCKS = {
    "pipeline": PIPELINE_BLOCK,
    "cron": CRON_BLOCK,
    "timezone": TIMEZONE_BLOCK,
    "channel": CHANNEL_BLOCK,
    "input": INPUT_BLOCK,
}

PAUSE = "pipebot_schedule_pause"
RESUME = "pipebot_schedule_resume"
DELETE = "pipebot_schedule_delete"
#: A list message holds 50 blocks: a header line and two blocks per schedule.
LIST_MAX = 24
HOME_MAX = 10


def schedule_modal(pipelines: Sequence[Any], *, timezone: str, channel_id: str | None, metadata: str) -> View:
    """The form: Pipeline, Cron, Time zone (the creator's, filled in), Channel (where the
    command came from), Input, and the digest checkbox."""
    shown = list(pipelines)[:SELECT_OPTIONS_LIMIT]
    options = [Option(value=str(p.id), text=clip(one_line(p.name, 70), OPTION_TEXT_LIMIT)) for p in shown]
    digest = Option(
        value=DIGEST_VALUE,
        text=clip(texts.DIGEST_OPTION, OPTION_TEXT_LIMIT),
        description=clip(texts.DIGEST_DESCRIPTION, OPTION_TEXT_LIMIT),
    )
    blocks: list[Block] = [
        InputBlock(
            block_id=PIPELINE_BLOCK,
            label="Pipeline",
            element=StaticSelectElement(action_id=INPUT, placeholder="Pick a pipeline", options=options),
        ),
        InputBlock(
            block_id=CRON_BLOCK,
            label="Cron",
            hint=texts.CRON_HINT,
            element=PlainTextInputElement(action_id=INPUT, placeholder="0 9 * * 1-5", max_length=120),
        ),
        InputBlock(
            block_id=TIMEZONE_BLOCK,
            label="Time zone",
            hint=texts.TIMEZONE_HINT,
            element=PlainTextInputElement(
                action_id=INPUT, placeholder="Europe/Berlin", initial_value=timezone or None, max_length=64
            ),
        ),
        InputBlock(
            block_id=CHANNEL_BLOCK,
            label="Channel",
            hint=texts.CHANNEL_HINT,
            element=ConversationSelectElement(
                action_id=INPUT,
                placeholder="Pick a channel",
                initial_conversation=channel_id if channel_id and channel_id[:1] in "CG" else None,
                filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
            ),
        ),
        InputBlock(
            block_id=INPUT_BLOCK,
            label="Input",
            optional=True,
            hint=texts.INPUT_HINT,
            element=PlainTextInputElement(action_id=INPUT, multiline=True, max_length=PLAIN_TEXT_INPUT_LIMIT),
        ),
        InputBlock(
            block_id=DIGEST_BLOCK,
            label="Digest",
            optional=True,
            element=CheckboxesElement(action_id=INPUT, options=[digest]),
        ),
    ]
    return form_modal(SCHEDULE_CALLBACK, texts.MODAL_TITLE, "Save", metadata, blocks)


def when(at: datetime, tz: str) -> str:
    """``<!date^…>`` with a fallback in the schedule's zone ("Tue 8 Dec 09:00")."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    try:
        local = at.astimezone(ZoneInfo(tz))
    except (ValueError, KeyError):
        local = at
    fallback = f"{local:%a} {local.day} {local:%b %H:%M}"
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def scheduled_text(view: ScheduleView, times: Sequence[datetime]) -> str:
    """The answer to a saved schedule: its next three times."""
    shown = ", ".join(when(t, view.timezone) for t in times) or "never"
    return (
        f"⏰ Scheduled *{escape_mrkdwn(view.pipeline_name)}* in <#{view.channel_id}>: next at {shown} "
        f"({escape_mrkdwn(view.timezone)}). `{COMMAND} schedules` lists, pauses and deletes schedules."
    )


def schedule_line(view: ScheduleView) -> str:
    """One schedule as a line: pipeline, cron, zone, channel, next time or why it is paused."""
    head = (
        f"*{escape_mrkdwn(one_line(view.pipeline_name, 80))}* · `{escape_mrkdwn(view.cron)}` "
        f"({escape_mrkdwn(view.timezone)}) · <#{view.channel_id}>"
    )
    if view.paused:
        return f"⏸️ {head}\n{escape_mrkdwn(texts.paused_note(view.paused_reason))}"
    nxt = when(view.next_fire_at, view.timezone) if view.next_fire_at else "not scheduled"
    digest = " · with the channel's messages" if view.digest else ""
    return f"⏰ {head}\nnext {nxt} · by <@{view.created_by}>{digest}"


def _buttons(view: ScheduleView) -> ActionsBlock:
    toggle = button("Resume", RESUME, value=view.id) if view.paused else button("Pause", PAUSE, value=view.id)
    delete = button("Delete", DELETE, value=view.id, style="danger")
    delete.confirm = ConfirmObject(
        title=texts.DELETE_CONFIRM_TITLE, text=texts.DELETE_CONFIRM_TEXT, confirm="Delete", deny="Keep it"
    )
    return ActionsBlock(block_id=f"schedule_{view.id}", elements=[toggle, delete])


def schedules_message(views: Sequence[ScheduleView], note: str | None = None) -> tuple[str, list[Block]]:
    """`/pipebot schedules`: each schedule with *Pause* or *Resume* and *Delete*."""
    if not views:
        text = texts.NONE_YET.format(command=COMMAND)
        return text, [section((f"{escape_mrkdwn(note)}\n" if note else "") + text)]
    head = f"*{texts.LIST_TITLE} ({len(views)})*"
    if note:
        head = f"{escape_mrkdwn(note)}\n{head}"
    blocks: list[Block] = [section(head)]
    for view in views[:LIST_MAX]:
        blocks += [section(clip(schedule_line(view), 2900)), _buttons(view)]
    if len(views) > LIST_MAX:
        blocks[0] = section(f"{head} · showing the first {LIST_MAX}")
    return f"{texts.LIST_TITLE} ({len(views)})", blocks


def home_lines(views: Sequence[ScheduleView]) -> str:
    """App Home's section: the first few schedules, one line each."""
    if not views:
        return texts.NONE_YET.format(command=COMMAND)
    lines = [schedule_line(v).replace("\n", " · ") for v in views[:HOME_MAX]]
    if len(views) > HOME_MAX:
        lines.append(f"…and {len(views) - HOME_MAX} more: `{COMMAND} schedules`")
    return clip("\n".join(lines), 2900)

"""Block Kit for the settings modal: provider API keys, never shown back, and the
workspace's limits (daily spend, runs per person per hour, public links; DESIGN §10).

Pure builders. Each key field's hint says only whether a key is configured and its last
four characters; a blank field keeps the stored key, the Remove box deletes it. The limit
fields show the limits as they are, so saving keys leaves them unchanged and saving limits
needs no key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    InputBlock,
    Option,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from bot.slack.blocks.common import INPUT, context, form_modal
from bot.slack.blocks.limits import (
    HINT_TEXT_LIMIT,
    OPTION_TEXT_LIMIT,
)
from bot.slack.modal_state import SettingsState
from bot.slack.text import clip, escape_mrkdwn
from core.schedules import texts as schedule_texts
from providers.registry import PROVIDER_IDS, PROVIDER_NAMES
from storage.repos.workspaces import Limits

SETTINGS_CALLBACK = "pipebot_settings_save"
DAILY_LIMIT_BLOCK = "daily_limit_usd"
PER_HOUR_BLOCK = "runs_per_person_hour"
PUBLIC_LINKS_BLOCK = "public_links"
PUBLIC_LINKS_OPTION = "on"
PUBLIC_LINKS_TEXT = "Anyone with the link can open public-channel runs"
MIN_SCHEDULE_BLOCK = "min_schedule_minutes"


def key_block(provider: str) -> str:
    return f"{provider}_key"


def remove_block(provider: str) -> str:
    return f"{provider}_remove"


_PLACEHOLDERS = {"anthropic": "sk-ant-…", "openai": "sk-…"}


def settings_modal(
    status: Mapping[str, str],
    stored: Iterable[str],
    *,
    state: SettingsState | None = None,
    notes: Mapping[str, str] | None = None,
    limits: Limits | None = None,
    min_schedule_minutes: int | None = None,
) -> View:
    """Provider keys, never shown back: each hint says only whether a key is configured and
    its last four characters. A blank field keeps the stored key; Remove deletes it.
    ``notes`` (block_id → message) shows errors found after the modal was acked; ``limits``
    fills the limit fields."""
    stored = set(stored)
    notes = notes or {}
    blocks: list[Block] = [
        context(
            "Keys are encrypted at rest, checked with the provider before they are "
            "saved, and never shown again. Leave a field empty to keep the current key."
        )
    ]
    for provider in PROVIDER_IDS:
        name = PROVIDER_NAMES[provider]
        configured = status.get(provider, "not configured")
        hint = f"{name}: {configured}." + (" Leave empty to keep it." if provider in stored else "")
        blocks.append(
            InputBlock(
                block_id=key_block(provider),
                label=f"{name} API key",
                optional=True,
                hint=clip(hint, HINT_TEXT_LIMIT),
                element=PlainTextInputElement(
                    action_id=INPUT, max_length=500, placeholder=f"Paste a new {name} key ({_PLACEHOLDERS[provider]})"
                ),
            )
        )
        if key_block(provider) in notes:
            blocks.append(context(f"⚠️ {escape_mrkdwn(notes[key_block(provider)])}"))
        if provider in stored:
            blocks.append(
                InputBlock(
                    block_id=remove_block(provider),
                    label=f"Remove the {name} key",
                    optional=True,
                    element=CheckboxesElement(
                        action_id=INPUT,
                        options=[
                            Option(
                                value="remove", text=clip(f"Delete the stored {name} key ({state})", OPTION_TEXT_LIMIT)
                            )
                        ],
                    ),
                )
            )
    blocks.extend(limit_blocks(limits or Limits()))
    blocks.append(min_schedule_block(min_schedule_minutes))
    return form_modal(SETTINGS_CALLBACK, "pipebot settings", "Save", (state or SettingsState()).encode(), blocks)


def limit_blocks(limits: Limits) -> list[Block]:
    """The workspace's limits, filled in as they are (empty: no limit)."""
    public = Option(value=PUBLIC_LINKS_OPTION, text=clip(PUBLIC_LINKS_TEXT, OPTION_TEXT_LIMIT))
    return [
        InputBlock(
            block_id=DAILY_LIMIT_BLOCK,
            label="Daily limit (USD)",
            optional=True,
            hint=clip(
                "Runs are refused once the workspace has spent this much today (UTC day); admins are told at 80 %. "
                "Empty: no limit.",
                HINT_TEXT_LIMIT,
            ),
            element=PlainTextInputElement(
                action_id=INPUT,
                max_length=20,
                placeholder="e.g. 25.00",
                initial_value=f"{limits.daily_limit_usd:.2f}" if limits.daily_limit_usd is not None else None,
            ),
        ),
        InputBlock(
            block_id=PER_HOUR_BLOCK,
            label="Runs per person per hour",
            optional=True,
            hint=clip("How many runs one person may start in any 60 minutes. Empty: no limit.", HINT_TEXT_LIMIT),
            element=PlainTextInputElement(
                action_id=INPUT,
                max_length=10,
                placeholder="e.g. 20",
                initial_value=str(limits.runs_per_person_hour) if limits.runs_per_person_hour is not None else None,
            ),
        ),
        InputBlock(
            block_id=PUBLIC_LINKS_BLOCK,
            label="Links to runs",
            optional=True,
            hint=clip(
                "Off: a link opens a run only for people signed in with Slack who can see its channel.",
                HINT_TEXT_LIMIT,
            ),
            element=CheckboxesElement(
                action_id=INPUT, options=[public], initial_options=[public] if limits.public_links else None
            ),
        ),
    ]


def min_schedule_block(minutes: int | None) -> InputBlock:
    """**Shortest schedule interval (minutes)** (DESIGN §13): crons more frequent are refused."""
    return InputBlock(
        block_id=MIN_SCHEDULE_BLOCK,
        label=schedule_texts.MIN_MINUTES_LABEL,
        optional=True,
        hint=clip(schedule_texts.MIN_MINUTES_HINT, HINT_TEXT_LIMIT),
        element=PlainTextInputElement(
            action_id=INPUT, max_length=5, placeholder="1", initial_value=str(minutes) if minutes else None
        ),
    )

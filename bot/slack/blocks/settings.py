"""Block Kit for the settings modal: provider API keys, never shown back.

Pure builders. Each key field's hint says only whether a key is configured and its last
four characters; a blank field keeps the stored key, the Remove box deletes it.
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
from providers.registry import PROVIDER_IDS, PROVIDER_NAMES

SETTINGS_CALLBACK = "pipebot_settings_save"


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
) -> View:
    """Provider keys, never shown back: each hint says only whether a key is configured and
    its last four characters. A blank field keeps the stored key; Remove deletes it.
    ``notes`` (block_id → message) shows errors found after the modal was acked."""
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
    return form_modal(SETTINGS_CALLBACK, "pipebot settings", "Save", (state or SettingsState()).encode(), blocks)

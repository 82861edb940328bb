"""Block Kit for triggers (DESIGN §13): the `/pipebot trigger new` modal, the view that shows a
webhook's URL and secret once, and the `/pipebot triggers` list with Pause / Resume / Delete.

Pure builders. The modal shows only the fields of the chosen **When**: Slack cannot hide an
input, so choosing another kind rebuilds the view (views.update, bot/slack/listeners/triggers.py)
from :func:`trigger_modal` with the picks made so far.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ConversationFilter,
    ConversationMultiSelectElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.blocks.common import (
    INPUT,
    context_dict,
    encode_metadata,
    form_modal,
    header_dict,
    modal_title,
    one_line,
    section,
    section_dict,
)
from bot.slack.blocks.limits import OPTION_TEXT_LIMIT, SELECT_OPTIONS_LIMIT
from bot.slack.text import escape_mrkdwn
from core.triggers import texts
from core.triggers.store import DEFAULT_RUNS_PER_HOUR, MESSAGE, REACTION, WEBHOOK, TriggerView

TRIGGER_CALLBACK = "pipebot_trigger_new"
SECRET_CALLBACK = "pipebot_trigger_secret"
PIPELINE_BLOCK = "pipeline"
KIND_BLOCK = "kind"
EMOJI_BLOCK = "emoji"
MATCHING_BLOCK = "matching"
PER_HOUR_BLOCK = "runs_per_hour"
CHANNELS_BLOCK = "channels"
NAME_BLOCK = "name"
KIND_ACTION = "trigger_kind"  # the When radio: choosing one rebuilds the modal
TRIGGER_PAUSE = "pipebot_trigger_pause"
TRIGGER_RESUME = "pipebot_trigger_resume"
TRIGGER_DELETE = "pipebot_trigger_delete"
LIST_MAX = 20  # triggers shown, two blocks each (50 blocks per message: a note, a header, items, footers)

_KIND_LABELS = {REACTION: texts.WHEN_REACTION, MESSAGE: texts.WHEN_MESSAGE, WEBHOOK: texts.WHEN_WEBHOOK}
#: Which inputs each kind shows (Pipeline and When always come first).
FIELDS = {
    REACTION: (EMOJI_BLOCK, CHANNELS_BLOCK),
    MESSAGE: (MATCHING_BLOCK, PER_HOUR_BLOCK, CHANNELS_BLOCK),
    WEBHOOK: (NAME_BLOCK, CHANNELS_BLOCK),
}


@dataclass
class TriggerForm:
    """The modal's picks, read from a view's state (or empty for a new form). ``channel_id``
    and ``response_url``: where the command was typed (for the confirmation)."""

    kind: str = REACTION
    pipeline_id: int | None = None
    emoji: str = ""
    matching: str = ""
    runs_per_hour: str = str(DEFAULT_RUNS_PER_HOUR)
    channels: list[str] = field(default_factory=list)
    name: str = ""
    channel_id: str | None = None
    response_url: str | None = None

    @classmethod
    def from_view(cls, view: Mapping[str, Any]) -> TriggerForm:
        """What a submitted (or re-dispatched) view holds; anything unreadable counts as empty."""
        values = ((view.get("state") or {}).get("values")) or {}
        try:
            meta = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            meta = {}
        meta = meta if isinstance(meta, dict) else {}

        def state(block: str, action: str = INPUT) -> Mapping[str, Any]:
            found = (values.get(block) or {}).get(action)
            return found if isinstance(found, Mapping) else {}

        kind = str((state(KIND_BLOCK, KIND_ACTION).get("selected_option") or {}).get("value") or "")
        raw_pipeline = str((state(PIPELINE_BLOCK).get("selected_option") or {}).get("value") or "")
        channels = state(CHANNELS_BLOCK).get("selected_conversations") or []
        return cls(
            kind=kind or str(meta.get("k") or REACTION),
            pipeline_id=int(raw_pipeline) if raw_pipeline.isdigit() else None,
            emoji=str(state(EMOJI_BLOCK).get("value") or ""),
            matching=str(state(MATCHING_BLOCK).get("value") or ""),
            runs_per_hour=str(state(PER_HOUR_BLOCK).get("value") or ""),
            channels=[str(c) for c in channels if isinstance(c, str)],
            name=str(state(NAME_BLOCK).get("value") or ""),
            channel_id=meta.get("c"),
            response_url=meta.get("r"),
        )

    def metadata(self) -> str:
        return encode_metadata({"k": self.kind, "c": self.channel_id, "r": self.response_url})


def _option(text: str, value: str) -> Option:
    return Option(text=one_line(text, OPTION_TEXT_LIMIT), value=value)


def _text_input(block_id: str, label: str, hint: str, value: str, *, optional: bool) -> InputBlock:
    """Block ids stay the same across rebuilds: Slack keeps what was typed in a block it knows."""
    return InputBlock(
        block_id=block_id,
        label=label,
        hint=hint,
        optional=optional,
        element=PlainTextInputElement(action_id=INPUT, initial_value=value or None, max_length=200),
    )


def trigger_modal(pipelines: Sequence[tuple[int, str]], form: TriggerForm) -> View:
    """The form of `/pipebot trigger new` for ``form.kind``, keeping ``form``'s picks."""
    options = [_option(name, str(pid)) for pid, name in pipelines[:SELECT_OPTIONS_LIMIT]]
    picked = next((o for o in options if o.value == str(form.pipeline_id)), None)
    kinds = [_option(label, kind) for kind, label in _KIND_LABELS.items()]
    blocks: list[Block] = [
        InputBlock(
            block_id=PIPELINE_BLOCK,
            label="Pipeline",
            element=StaticSelectElement(
                action_id=INPUT, placeholder="Pick a pipeline", options=options, initial_option=picked
            ),
        ),
        InputBlock(
            block_id=KIND_BLOCK,
            label="When",
            dispatch_action=True,
            element=RadioButtonsElement(
                action_id=KIND_ACTION,
                options=kinds,
                initial_option=next(o for o in kinds if o.value == form.kind),
            ),
        ),
    ]
    for block_id in FIELDS.get(form.kind, FIELDS[REACTION]):
        if block_id == EMOJI_BLOCK:
            blocks.append(_text_input(EMOJI_BLOCK, "Emoji", texts.HINT_EMOJI, form.emoji, optional=False))
        elif block_id == MATCHING_BLOCK:
            blocks.append(
                _text_input(
                    MATCHING_BLOCK,
                    "Matching",
                    f"{texts.HINT_MATCHING} {texts.HINT_MESSAGE}",
                    form.matching,
                    optional=True,
                )
            )
        elif block_id == PER_HOUR_BLOCK:
            blocks.append(
                _text_input(
                    PER_HOUR_BLOCK,
                    "Runs per hour",
                    texts.HINT_RUNS_PER_HOUR,
                    form.runs_per_hour or str(DEFAULT_RUNS_PER_HOUR),
                    optional=True,
                )
            )
        elif block_id == NAME_BLOCK:
            blocks.append(_text_input(NAME_BLOCK, "Name", texts.HINT_NAME, form.name, optional=True))
        elif block_id == CHANNELS_BLOCK:
            webhook = form.kind == WEBHOOK
            blocks.append(
                InputBlock(
                    block_id=CHANNELS_BLOCK,
                    label="Channel" if webhook else "Channels",
                    hint=texts.HINT_WEBHOOK_CHANNEL if webhook else texts.HINT_CHANNELS,
                    optional=not webhook,
                    element=ConversationMultiSelectElement(
                        action_id=INPUT,
                        placeholder="Pick a channel" if webhook else "Every channel pipebot is in",
                        initial_conversations=form.channels or None,
                        filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
                    ),
                )
            )
    return form_modal(TRIGGER_CALLBACK, "New trigger", "Save", form.metadata(), blocks)


def webhook_created_view(view: TriggerView, url: str, secret: str) -> View:
    """Shown once, in place of the form: the URL, the secret and a curl line. The secret is in
    this view only (never in private_metadata, never in a message)."""
    curl = (
        f'curl -X POST "{url}" -H "Authorization: Bearer {secret}" '
        '-H "Content-Type: application/json" -d \'{"text": "hello"}\''
    )
    name = escape_mrkdwn(view.name)
    blocks: list[Block] = [
        section(f"✅ Webhook *{name}* runs *{escape_mrkdwn(view.pipeline_name)}*."),
        section(f"*URL*\n`{url}`"),
        section(f"*Secret*\n`{secret}`"),
        section(f"⚠️ {escape_mrkdwn(texts.SECRET_ONCE)}"),
        section(f"*Try it*\n```{curl}```"),
    ]
    return View(
        type="modal", callback_id=SECRET_CALLBACK, title=modal_title("Webhook made"), close="Done", blocks=blocks
    )


def when_md(view: TriggerView) -> str:
    """What a trigger listens for, in mrkdwn (``:memo:`` shows as the emoji)."""
    if view.kind == REACTION:
        return f"reaction :{view.emoji}:"
    if view.kind == MESSAGE:
        matching = f" matching “{escape_mrkdwn(one_line(view.matching, 60))}”" if view.matching else ""
        return f"new message{matching} (≤ {view.runs_per_hour}/hour)"
    return f"webhook *{escape_mrkdwn(view.name)}*"


def channels_md(channels: Sequence[str]) -> str:
    if not channels:
        return "every channel pipebot is in"
    shown = ", ".join(f"<#{c}>" for c in channels[:10])
    return shown + (f" and {len(channels) - 10} more" if len(channels) > 10 else "")


def trigger_line(view: TriggerView) -> str:
    paused = " · ⏸️ paused" if view.paused else ""
    gone = " · ⚠️ pipeline deleted" if view.pipeline_id is None else ""
    return (
        f"*{escape_mrkdwn(view.pipeline_name)}* on {when_md(view)} in {channels_md(view.channels)}"
        f" · by <@{view.created_by}>{paused}{gone}"
    )


def _buttons(view: TriggerView) -> dict[str, Any]:
    value = json.dumps({"id": view.id})
    toggle = (
        ButtonElement(action_id=TRIGGER_RESUME, text="Resume", value=value)
        if view.paused
        else ButtonElement(action_id=TRIGGER_PAUSE, text="Pause", value=value)
    )
    delete = ButtonElement(
        action_id=TRIGGER_DELETE,
        text="Delete",
        style="danger",
        value=value,
        confirm=ConfirmObject(
            title="Delete this trigger?",
            text=f"{view.pipeline_name} will no longer run on {_KIND_LABELS.get(view.kind, view.kind)}."[:300],
            confirm="Delete",
            deny="Keep it",
            style="danger",
        ),
    )
    return ActionsBlock(block_id=f"trigger_{view.id}", elements=[toggle, delete]).to_dict()


def triggers_message(views: Sequence[TriggerView], note: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The list: one line per trigger and its buttons (only its creator or an admin may use them)."""
    blocks: list[dict[str, Any]] = []
    if note:
        blocks.append(section_dict(note))
    if not views:
        blocks.append(section_dict(escape_mrkdwn(texts.NO_TRIGGERS)))
        return note or texts.NO_TRIGGERS, blocks
    blocks.append(header_dict(f"Triggers ({len(views)})"))
    for view in views[:LIST_MAX]:
        blocks.append(section_dict(trigger_line(view)))
        blocks.append(_buttons(view))
    if len(views) > LIST_MAX:
        blocks.append(context_dict(f"and {len(views) - LIST_MAX} more (delete some to see them)"))
    blocks.append(context_dict("Only a trigger's creator or a workspace admin can pause, resume or delete it."))
    return note or f"{len(views)} trigger(s)", blocks

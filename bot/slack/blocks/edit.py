"""Block Kit for editing an artifact from Slack: the edit modal (which part, its text, a
note), the ephemeral link to the web editor for a part too long for a Slack form, and the
thread's note of a saved version.

Pure builders (no I/O). Names and model output are untrusted and go into mrkdwn through
``escape_mrkdwn``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, InputBlock, Option, PlainTextInputElement, StaticSelectElement
from slack_sdk.models.views import View

from bot.slack.blocks.artifact_buttons import OPEN_LINK
from bot.slack.blocks.common import button, context, form_modal, name_md, one_line, section
from bot.slack.blocks.limits import OPTION_TEXT_LIMIT, PLAIN_TEXT_INPUT_LIMIT, SECTION_TEXT_LIMIT, SELECT_OPTIONS_LIMIT
from bot.slack.text import clip, escape_mrkdwn
from core.artifacts.versions import NOTE_LIMIT

# ---- callback ids, action ids, block ids --------------------------------------------------------

EDIT_MODAL_CALLBACK = "pipebot_artifact_edit"
EDIT_PART_ACTION = "artifact_edit_part"  # the Part select: changing it refills the text
EDIT_PART_BLOCK = "edit_part"
EDIT_TEXT_BLOCK = "edit_text"  # + the part ("edit_text:step:2"), so a new part gets a new prefill
EDIT_NOTE_BLOCK = "edit_note"

OUTPUT_PART = "output"


# ---- texts --------------------------------------------------------------------------------------

EDIT_TOO_LONG = (
    "{part} is {length:,} characters long, more than a Slack form holds ({limit:,}): "
    "edit it on the web instead. {link_label} works for a few minutes and only for you."
)
EDIT_LINK_SENT = (
    "{part} is {length:,} characters long, more than a Slack form holds ({limit:,}). "
    "I sent you a link to the web editor (only you can see it); or pick another part."
)
EDIT_PICK_SHORTER = "This part is too long for a Slack form: use the link I sent you, or pick another part."
EDIT_HINT = "Saving makes a new version; the earlier ones stay as they are."


# ---- the edit modal -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One editable text of a version: the final output or one step's output."""

    key: str  # "output" | "step:N" (core/artifacts/versions.py)
    label: str  # "Final output" | "Step 2 · Writer"
    length: int

    @property
    def fits(self) -> bool:
        return self.length <= PLAIN_TEXT_INPUT_LIMIT


def parts_of(content: dict[str, Any]) -> list[Part]:
    """The parts an edit can change, final output first (at most a select's 100 options)."""
    parts = [Part(OUTPUT_PART, "Final output", len(content.get("output") or ""))]
    for st in content.get("steps") or []:
        agent = (st.get("agent") or {}).get("name") or "?"
        parts.append(
            Part(
                f"step:{st.get('position')}",
                f"Step {st.get('position')} · {one_line(agent, 60)}",
                len(st.get("output") or ""),
            )
        )
    return parts[:SELECT_OPTIONS_LIMIT]


def text_block_id(key: str) -> str:
    return f"{EDIT_TEXT_BLOCK}:{key}"


def _part_option(part: Part) -> Option:
    size = "" if part.fits else f" ({part.length:,} chars: web editor)"
    return Option(value=part.key, text=clip(part.label + size, OPTION_TEXT_LIMIT))


def edit_modal(
    pipeline_name: str,
    version: int,
    parts: Sequence[Part],
    *,
    selected: str,
    text: str | None,
    note: str | None,
    metadata: str,
) -> View:
    """The edit form: which part (the select refills the text), the text, an optional note.

    ``text`` None means the selected part is too long for a Slack input: the form says a
    link to the web editor was sent, and has no text field until another part is picked.
    """
    options = [_part_option(p) for p in parts]
    initial = next((o for o in options if o.value == selected), options[0])
    current = next((p for p in parts if p.key == selected), parts[0])
    blocks: list[Block] = [
        context(f"{name_md(pipeline_name)} · editing version {version}. {EDIT_HINT}"),
        InputBlock(
            block_id=EDIT_PART_BLOCK,
            label="Part",
            dispatch_action=True,
            element=StaticSelectElement(action_id=EDIT_PART_ACTION, options=options, initial_option=initial),
        ),
    ]
    if text is not None:
        blocks.append(
            InputBlock(
                block_id=text_block_id(current.key),
                label="Text",
                element=PlainTextInputElement(
                    action_id="value", multiline=True, max_length=PLAIN_TEXT_INPUT_LIMIT, initial_value=text or None
                ),
            )
        )
    else:
        blocks.append(
            section(
                EDIT_LINK_SENT.format(
                    part=escape_mrkdwn(current.label), length=current.length, limit=PLAIN_TEXT_INPUT_LIMIT
                )
            )
        )
    blocks.append(
        InputBlock(
            block_id=EDIT_NOTE_BLOCK,
            label="Note",
            optional=True,
            hint="What changed, for the list of versions.",
            element=PlainTextInputElement(
                action_id="value",
                max_length=NOTE_LIMIT,
                initial_value=note or None,
                placeholder="e.g. fixed the figures in the second paragraph",
            ),
        )
    )
    return form_modal(EDIT_MODAL_CALLBACK, "Edit result", "Save version", metadata, blocks)


def edit_link_message(pipeline_name: str, part: Part, url: str) -> tuple[str, list[Block]]:
    """The ephemeral note with the web editor's link (only the person who pressed *Edit*)."""
    text = EDIT_TOO_LONG.format(
        part=escape_mrkdwn(part.label), length=part.length, limit=PLAIN_TEXT_INPUT_LIMIT, link_label="The link"
    )
    blocks: list[Block] = [
        section(f"✏️ {name_md(pipeline_name)}: {text}"),
        ActionsBlock(elements=[button("Open the editor", OPEN_LINK, url=url)]),
    ]
    return clip(f"✏️ {pipeline_name}: {text}", SECTION_TEXT_LIMIT), blocks


def saved_reply(user_id: str, version: int, note: str | None, permalink: str | None) -> str:
    """The thread's short note of a saved edit: ``✏️ @user saved version N: note``."""
    text = f"✏️ <@{user_id}> saved version {version}"
    if note:
        text += f": {escape_mrkdwn(one_line(note, 300))}"
    if permalink:
        text += f" · <{escape_mrkdwn(permalink).replace('|', '%7C')}|open it>"
    return text

"""Block Kit for an artifact's life after its run: the *Edit*, *Re-run from…* and *Compare*
buttons, the 👍/👎 feedback buttons, the edit modal, the compare summary and picker, and
the card a pasted permalink unfurls into.

Pure builders (no I/O). Button values carry ``{artifact_id}:{version}``, never anything a
listener trusts for tenancy: every listener reads the workspace from the signed payload.
Names and model output are untrusted and go into mrkdwn through ``escape_mrkdwn``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextActionsBlock,
    FeedbackButtonObject,
    FeedbackButtonsElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.blocks.common import (
    STATUS_EMOJI,
    button,
    context,
    form_modal,
    md,
    model_label,
    models_text,
    name_md,
    one_line,
    section,
    slack_date,
)
from bot.slack.blocks.limits import (
    OPTION_TEXT_LIMIT,
    PLAIN_TEXT_INPUT_LIMIT,
    SECTION_TEXT_LIMIT,
    SELECT_OPTIONS_LIMIT,
)
from bot.slack.blocks.rerun import RERUN_ACTION as RERUN_ARTIFACT  # noqa: F401 - the listeners' name for it
from bot.slack.blocks.rerun import rerun_button
from bot.slack.text import clip, escape_mrkdwn
from core.artifacts.diff import Comparison, Delta, DiffOp, StepComparison, StepSide
from core.artifacts.versions import NOTE_LIMIT
from core.formatting import format_cost, format_datetime, format_duration, format_tokens, format_usd

# ---- action ids, callback ids, block ids --------------------------------------------------------

EDIT_ARTIFACT = "artifact_edit"  # button value: "{artifact_id}:{version}"
COMPARE_ARTIFACT = "artifact_compare"  # button value: "{artifact_id}:{version}"
FEEDBACK = "artifact_feedback"  # feedback_buttons; values "up:{id}:{v}" / "down:{id}:{v}"
EDIT_MODAL_CALLBACK = "pipebot_artifact_edit"
EDIT_PART_ACTION = "artifact_edit_part"  # the Part select: changing it refills the text
EDIT_PART_BLOCK = "edit_part"
EDIT_TEXT_BLOCK = "edit_text"  # + the part ("edit_text:step:2"), so a new part gets a new prefill
EDIT_NOTE_BLOCK = "edit_note"
COMPARE_PICK_CALLBACK = "pipebot_compare_pick"
COMPARE_PICK_BLOCK = "compare_with"
COMPARE_VIEW_CALLBACK = "pipebot_compare"
OPEN_LINK = "artifact_lifecycle_link"  # URL buttons (editor, compare page) still send an action: acked

OUTPUT_PART = "output"
COMPARE_STEPS_SHOWN = 20  # a summary lists at most this many steps; the page has all

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
NOTHING_TO_COMPARE = (
    "Nothing to compare {pipeline} with yet: it has one version, no parent, and no other run of its pipeline."
)
COMPARE_GONE = "One of the two artifacts was deleted, or belongs to another workspace."
STALE_BUTTON = "That button is out of date. Open the artifact again from `/pipebot artifacts`."


# ---- button values ------------------------------------------------------------------------------


def artifact_ref(artifact_id: Any, version: int) -> str:
    """The value of the lifecycle buttons: which artifact, and which version it showed."""
    return f"{artifact_id}:{int(version)}"


def parse_ref(value: str) -> tuple[str, int] | None:
    """``(artifact_id, version)`` from :func:`artifact_ref`'s value, or None for anything else."""
    head, sep, tail = (value or "").rpartition(":")
    if not sep or not head or not tail.isdigit() or int(tail) < 1:
        return None
    return head, int(tail)


Vote = Literal["up", "down"]


def parse_feedback(value: str) -> tuple[int, str, int] | None:
    """``(+1 | -1, artifact_id, version)`` from a feedback button's value, or None."""
    kind, sep, rest = (value or "").partition(":")
    ref = parse_ref(rest) if sep else None
    if kind not in ("up", "down") or ref is None:
        return None
    return (1 if kind == "up" else -1), ref[0], ref[1]


def lifecycle_buttons(artifact_id: Any, version: int, *, edit: bool = True) -> list[ButtonElement]:
    """*Edit*, *Re-run from…* and *Compare* for one version of an artifact."""
    ref = artifact_ref(artifact_id, version)
    out = [button("Edit", EDIT_ARTIFACT, value=ref)] if edit else []
    out += [rerun_button(str(artifact_id), int(version)), button("Compare", COMPARE_ARTIFACT, value=ref)]
    return out


def feedback_block(artifact_id: Any, version: int) -> ContextActionsBlock:
    """👍/👎 with Slack's feedback buttons (they toggle: a second click on the same clears)."""
    ref = artifact_ref(artifact_id, version)
    return ContextActionsBlock(
        elements=[
            FeedbackButtonsElement(
                action_id=FEEDBACK,
                positive_button=FeedbackButtonObject(text="👍", accessibility_label="Good result", value=f"up:{ref}"),
                negative_button=FeedbackButtonObject(text="👎", accessibility_label="Bad result", value=f"down:{ref}"),
            )
        ]
    )


def votes_text(up: int, down: int) -> str:
    """``👍 3 · 👎 1`` for lists; empty when nobody voted."""
    return f"👍 {up} · 👎 {down}" if up or down else ""


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


# ---- compare ------------------------------------------------------------------------------------


def _words(ops: Sequence[DiffOp], kind: str) -> int:
    return sum(len(re.findall(r"\w+", op.text)) for op in ops if op.op == kind)


def _signed(value: int | Decimal, shown: str) -> str:
    return f"+{shown}" if value > 0 else f"−{shown}"


def _cost_delta(delta: Delta[Decimal]) -> str:
    text = f"{format_cost(delta.left)} → {format_cost(delta.right)}"
    diff = delta.difference
    if diff is not None and diff != 0:
        text += f" ({_signed(diff, format_usd(abs(diff)))})"
    return text


def _int_delta(delta: Delta[int], fmt: Any) -> str:
    text = f"{fmt(delta.left)} → {fmt(delta.right)}"
    diff = delta.difference
    if diff is not None and diff != 0:
        text += f" ({_signed(diff, fmt(abs(diff)))})"
    return text


def _tokens(side: StepSide | None) -> int | None:
    if side is None or (side.tokens_in is None and side.tokens_out is None):
        return None
    return (side.tokens_in or 0) + (side.tokens_out or 0)


def _step_line(step: StepComparison) -> str:
    left, right = step.left, step.right
    who = right or left
    assert who is not None
    head = f"Step {step.position} · {escape_mrkdwn(one_line(who.agent or '?', 60))}"
    if left is None or right is None:
        return f"➕ {head}: only on the {'right' if left is None else 'left'}"
    changed = step.changed
    parts = [f"{'✏️' if changed else '▫️'} {head}: {'changed' if changed else 'unchanged'}"]
    if changed:
        parts[0] += f" (+{_words(step.diff, 'insert')} / −{_words(step.diff, 'delete')} words)"
    if left.model != right.model:
        parts.append(
            f"{escape_mrkdwn(left.model_display or model_label(left.model))} → "
            f"{escape_mrkdwn(right.model_display or model_label(right.model))}"
        )
    reused = " (reused)" if right.reused else ""
    parts.append(_cost_delta(Delta(left.cost_usd, right.cost_usd)) + reused)
    parts.append(_int_delta(Delta(_tokens(left), _tokens(right)), format_tokens) + " tokens")
    parts.append(_int_delta(Delta(left.latency_ms, right.latency_ms), format_duration))
    return " · ".join(parts)


def _sum(a: int | None, b: int | None) -> int | None:
    return None if a is None and b is None else (a or 0) + (b or 0)


def compare_summary(
    pipeline_name: str, left_label: str, right_label: str, comparison: Comparison, url: str
) -> tuple[str, list[Block]]:
    """A short comparison for Slack: per step changed or unchanged with its cost, tokens and
    time, the final output, the totals' differences, and the link to the compare page."""
    out_changed = comparison.output_changed
    output = (
        f"✏️ Final output: changed (+{_words(comparison.output_diff, 'insert')} / "
        f"−{_words(comparison.output_diff, 'delete')} words)"
        if out_changed
        else "▫️ Final output: unchanged"
    )
    lines = [_step_line(st) for st in comparison.steps[:COMPARE_STEPS_SHOWN]]
    if len(comparison.steps) > COMPARE_STEPS_SHOWN:
        lines.append(f"…and {len(comparison.steps) - COMPARE_STEPS_SHOWN} more steps on the compare page.")
    tokens = Delta(
        _sum(comparison.tokens_in.left, comparison.tokens_out.left),
        _sum(comparison.tokens_in.right, comparison.tokens_out.right),
    )
    totals = (
        f"*Total* · {_cost_delta(comparison.cost_usd)} · {_int_delta(tokens, format_tokens)} tokens · "
        f"{_int_delta(comparison.duration_ms, format_duration)}"
    )
    head = f"🔍 {name_md(pipeline_name)}: {escape_mrkdwn(left_label)} → {escape_mrkdwn(right_label)}"
    blocks: list[Block] = [section(head), section(output)]
    body = ""
    for line in lines:  # packed into few sections: 50 blocks per message
        line = clip(line, 1000)
        if body and len(body) + len(line) + 1 > SECTION_TEXT_LIMIT - 100:
            blocks.append(section(body))
            body = ""
        body = f"{body}\n{line}" if body else line
    if body:
        blocks.append(section(body))
    blocks.append(section(totals))
    blocks.append(ActionsBlock(elements=[button("Open the comparison", OPEN_LINK, url=url)]))
    changed = sum(1 for st in comparison.steps if st.changed)
    text = (
        f"Compare {pipeline_name}: {left_label} → {right_label}: {changed} of {len(comparison.steps)} "
        f"steps changed, final output {'changed' if out_changed else 'unchanged'}"
    )
    return clip(text, SECTION_TEXT_LIMIT), blocks


def compare_modal(blocks: Sequence[Block]) -> View:
    """The summary in a modal, for a click that came from a modal or App Home (no channel)."""
    return View(
        type="modal",
        callback_id=COMPARE_VIEW_CALLBACK,
        title=PlainTextObject(text="Compare"),
        close=PlainTextObject(text="Close"),
        blocks=list(blocks),
    )


def compare_picker(pipeline_name: str, candidates: Sequence[Any], *, metadata: str) -> View:
    """Pick another run of the same pipeline to compare with (≤ 100 options, newest first)."""
    options = []
    for row in list(candidates)[:SELECT_OPTIONS_LIMIT]:
        emoji = STATUS_EMOJI.get(row.status, "•")
        label = f"{emoji} {format_datetime(row.created_at)} · {row.status} · {format_cost(row.cost_usd)}"
        if getattr(row, "latest_version", 1) > 1:
            label += f" · v{row.latest_version}"
        options.append(Option(value=str(row.id), text=clip(label, OPTION_TEXT_LIMIT)))
    blocks: list[Block] = [
        context(
            f"{name_md(pipeline_name)} has one version and no parent: compare it with another run of the same pipeline."
        ),
        InputBlock(
            block_id=COMPARE_PICK_BLOCK,
            label="Compare with",
            element=StaticSelectElement(action_id="value", placeholder="Pick a run", options=options),
        ),
    ]
    return form_modal(COMPARE_PICK_CALLBACK, "Compare with…", "Compare", metadata, blocks)


# ---- the unfurl card ----------------------------------------------------------------------------


def unfurl_card(
    *,
    artifact_id: Any,
    pipeline_name: str,
    status: str,
    version: int,
    latest: int,
    cost_usd: Decimal | None,
    models: Sequence[str],
    created_at: datetime | None,
    permalink: str,
) -> dict[str, Any]:
    """What a pasted permalink unfurls into: pipeline, status, version, cost, models, date,
    with *Re-run from…* and *Compare* for the version the link shows."""
    emoji = STATUS_EMOJI.get(status, "•")
    shown = f"{version} of {latest}" if latest > 1 else "1"
    fields = [
        md(f"*Status*\n{emoji} {status}"),
        md(f"*Version*\n{shown}"),
        md(f"*Cost*\n{format_cost(cost_usd)}"),
        md(f"*Models*\n{escape_mrkdwn(models_text(list(models)))}"),
        md(f"*Date*\n{slack_date(created_at)}"),
    ]
    link = f"<{escape_mrkdwn(permalink).replace('|', '%7C')}|{escape_mrkdwn(one_line(pipeline_name, 80))}>"
    blocks: list[Block] = [
        SectionBlock(text=md(f"{emoji} *{link}*"), fields=fields),
        ActionsBlock(elements=lifecycle_buttons(artifact_id, version, edit=False)),
    ]
    return {"blocks": [b.to_dict() for b in blocks]}

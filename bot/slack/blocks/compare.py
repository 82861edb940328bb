"""Block Kit for comparing two versions or runs in Slack: the short summary (per step,
final output, totals, the link to the compare page), the same in a modal, and the picker
of another run when a version has nothing to compare with.

Pure builders (no I/O); the numbers come from ``core.artifacts.diff``, which the web page
renders too. Names and model output are untrusted and go into mrkdwn through ``escape_mrkdwn``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, InputBlock, Option, PlainTextObject, StaticSelectElement
from slack_sdk.models.views import View

from bot.slack.blocks.artifact_buttons import OPEN_LINK
from bot.slack.blocks.common import STATUS_EMOJI, button, context, form_modal, model_label, name_md, one_line, section
from bot.slack.blocks.limits import OPTION_TEXT_LIMIT, SECTION_TEXT_LIMIT, SELECT_OPTIONS_LIMIT
from bot.slack.text import clip, escape_mrkdwn
from core.artifacts import messages
from core.artifacts.diff import Comparison, Delta, DiffOp, StepComparison, StepSide
from core.formatting import format_cost, format_datetime, format_duration, format_tokens, format_usd

# ---- callback ids, block ids ---------------------------------------------------------------------

COMPARE_PICK_CALLBACK = "pipebot_compare_pick"
COMPARE_PICK_BLOCK = "compare_with"
COMPARE_VIEW_CALLBACK = "pipebot_compare"

COMPARE_STEPS_SHOWN = 20  # a summary lists at most this many steps; the page has all


# ---- texts --------------------------------------------------------------------------------------

NOTHING_TO_COMPARE = (
    "Nothing to compare {pipeline} with yet: it has one version, no parent, and no other run of its pipeline."
)
COMPARE_GONE = "One of the two artifacts was deleted, or belongs to another workspace."


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
    tools = f" · 🛠️ {escape_mrkdwn(step.tool_calls.text)}" if step.tool_calls is not None else ""
    if left is None or right is None:
        return f"➕ {head}: only on the {'right' if left is None else 'left'}{tools}"
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
    return " · ".join(parts) + tools


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
    if comparison.coarse:
        blocks.append(context(f"⚠️ {messages.COMPARE_COARSE}"))
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

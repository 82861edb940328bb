"""The compare page's view-model: two artifacts (or two versions of one) side by side.

The difference itself comes from core/artifacts/diff.py; this only words it: which side is
which, the per-step facts (model, tokens, cost, time), and the totals with their signed
differences. Diff runs stay plain text: the template marks them ``<ins>``/``<del>`` and
autoescape escapes their text, so no HTML is ever built from model output here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from bot.web.inputs_view import files_line, thread_line
from bot.web.view import tombstone_line
from core.artifacts import messages
from core.artifacts.diff import Comparison, Delta, DiffOp, StepSide, compare
from core.artifacts.tool_call_diff import ToolCallsDiff
from core.formatting import UNKNOWN, format_duration, format_tokens, format_usd
from core.runs.artifact import Artifact

Side = Literal["left", "right"]


@dataclass(frozen=True)
class SideView:
    """One side's header: which artifact and version, and its own permalink."""

    label: str
    title: str
    created: str
    href: str


@dataclass(frozen=True)
class StepSideView:
    agent: str
    model: str
    tokens: str
    cost: str
    latency: str
    status: str
    reused: bool


@dataclass(frozen=True)
class StepCompareView:
    position: int
    left: StepSideView | None
    right: StepSideView | None
    left_ops: list[DiffOp]
    right_ops: list[DiffOp]
    changed: bool
    facts_changed: list[str]
    # How the step's tool calls differ (None: neither side made any).
    tool_calls: ToolCallsDiff | None = None


@dataclass(frozen=True)
class TotalRow:
    label: str
    left: str
    right: str
    difference: str


@dataclass(frozen=True)
class PickLink:
    label: str
    href: str


@dataclass(frozen=True)
class ComparePage:
    title: str
    left: SideView
    right: SideView
    output_left: list[DiffOp]
    output_right: list[DiffOp]
    output_changed: bool
    steps: list[StepCompareView]
    totals: list[TotalRow]
    signature: str
    left_version: int
    right_version: int
    left_versions: list[int]
    right_versions: list[int]
    swap_href: str
    related: list[PickLink] = field(default_factory=list)
    # One line per side whose result was deleted (there is nothing of it to compare).
    deleted: list[str] = field(default_factory=list)
    #: The page says why the diff is coarse (core/artifacts/diff.py gave up the word match).
    coarse_notice: str | None = None
    #: Whether the two runs took in the same files and thread context (bot/web/inputs_view.py).
    inputs: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return (
            not self.deleted
            and not self.output_changed
            and not any(s.changed or (s.tool_calls is not None and not s.tool_calls.same) for s in self.steps)
        )


def side_ops(ops: list[DiffOp], side: Side) -> list[DiffOp]:
    """The runs one column shows: the left keeps what was deleted, the right what was inserted."""
    drop = "insert" if side == "left" else "delete"
    return [op for op in ops if op.op != drop]


def _tokens(side: StepSide) -> str:
    if side.tokens_in is None and side.tokens_out is None:
        return UNKNOWN
    return f"{format_tokens(side.tokens_in)} in · {format_tokens(side.tokens_out)} out"


def _step_side(side: StepSide | None) -> StepSideView | None:
    if side is None:
        return None
    return StepSideView(
        agent=side.agent or "Unnamed agent",
        model=side.model_display or side.model or UNKNOWN,
        tokens=_tokens(side),
        cost=format_usd(side.cost_usd),
        latency=format_duration(side.latency_ms),
        status=(side.status or "").capitalize() or UNKNOWN,
        reused=side.reused,
    )


def _facts_changed(left: StepSideView | None, right: StepSideView | None) -> list[str]:
    if left is None or right is None:
        return ["Only in the left side" if right is None else "Only in the right side"]
    names = {"agent": "agent", "model": "model"}
    return [f"{label} changed" for key, label in names.items() if getattr(left, key) != getattr(right, key)]


def _signed(value: Decimal | int, text: str) -> str:
    if value == 0:
        return "no change"
    return ("+" if value > 0 else "−") + text


def _row_usd(label: str, d: Delta[Decimal]) -> TotalRow:
    diff = d.difference
    return TotalRow(
        label,
        format_usd(d.left),
        format_usd(d.right),
        UNKNOWN if diff is None else _signed(diff, format_usd(abs(diff))),
    )


def _row_int(label: str, d: Delta[int], fmt: str) -> TotalRow:
    def show(v: int | None) -> str:
        return format_duration(v) if fmt == "ms" else format_tokens(v)

    diff = d.difference
    return TotalRow(label, show(d.left), show(d.right), UNKNOWN if diff is None else _signed(diff, show(abs(diff))))


def totals(c: Comparison) -> list[TotalRow]:
    """Cost, tokens and duration of both sides and right minus left."""
    return [
        _row_usd("Cost", c.cost_usd),
        _row_int("Input tokens", c.tokens_in, "tokens"),
        _row_int("Output tokens", c.tokens_out, "tokens"),
        _row_int("Duration", c.duration_ms, "ms"),
    ]


def compare_page(
    left: Artifact,
    right: Artifact,
    *,
    left_side: SideView,
    right_side: SideView,
    left_content: dict[str, object],
    right_content: dict[str, object],
    signature: str,
    left_version: int,
    right_version: int,
    left_versions: list[int],
    right_versions: list[int],
    swap_href: str,
    related: list[PickLink],
) -> ComparePage:
    """Everything the compare template shows, from two stored contents."""
    c = compare(left_content, right_content)
    steps = []
    for st in c.steps:
        lv, rv = _step_side(st.left), _step_side(st.right)
        steps.append(
            StepCompareView(
                position=st.position,
                left=lv,
                right=rv,
                left_ops=side_ops(st.diff, "left"),
                right_ops=side_ops(st.diff, "right"),
                changed=st.changed,
                facts_changed=_facts_changed(lv, rv),
                tool_calls=st.tool_calls,
            )
        )
    title = left.pipeline_name or "Untitled pipeline"
    deleted = [
        f"The {name} side's result was deleted ({tombstone_line(art)}): there is nothing of it to compare."
        for name, art in (("left", left), ("right", right))
        if art.deleted
    ]
    return ComparePage(
        title=f"Compare · {title} · pipebot",
        left=left_side,
        right=right_side,
        output_left=side_ops(c.output_diff, "left"),
        output_right=side_ops(c.output_diff, "right"),
        output_changed=c.output_changed,
        steps=steps,
        totals=totals(c),
        signature=signature,
        left_version=left_version,
        right_version=right_version,
        left_versions=left_versions,
        right_versions=right_versions,
        swap_href=swap_href,
        related=related,
        deleted=deleted,
        coarse_notice=messages.COMPARE_COARSE if c.coarse else None,
        inputs=[] if deleted else [files_line(left, right), thread_line(left, right)],
    )

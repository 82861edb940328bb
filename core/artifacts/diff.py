"""Word-level differences between two texts, and the compare model of two artifact contents.

The diff works on tokens that keep every character (runs of word characters, of punctuation,
of whitespace), so joining a side's tokens gives back that text exactly and a renderer can
show both sides from one list. Cost is bounded for long outputs: the common head and tail are
cut off first, the rest is matched by segments (lines, and sentences in long lines), and only
changed segments are matched word by word (paired one to one where as many changed on both
sides); a changed stretch longer than :data:`EXACT_WORD_LIMIT` tokens with no segment in common
is shown deleted and inserted whole, so no input makes the word match quadratic. Figures:
bench/bench_artifact_diff.py.

No HTML here: escaping is the renderer's job (Jinja2 autoescape).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from difflib import SequenceMatcher
from typing import Any, Generic, Literal, NamedTuple, TypeVar

__all__ = [
    "Comparison",
    "Delta",
    "DiffOp",
    "StepComparison",
    "StepSide",
    "compare",
    "diff_words",
    "side_text",
]

Op = Literal["equal", "insert", "delete"]

#: The longest changed region (tokens on a side) matched word by word. A longer one has no
#: line or sentence in common with the other side: it is shown deleted and inserted whole.
EXACT_WORD_LIMIT = 2000

# A word or a run of punctuation with the whitespace after it: a lone-space token would match
# everywhere and make every match quadratic.
_TOKEN = re.compile(r"\w+\s*|[^\w\s]+\s*|\s+")
# Segments for the first, coarse match: lines, and sentences inside long lines, so that a text
# without line breaks is not one segment. Cut after the boundary, so segments keep every character.
_SEGMENT = re.compile(r"(?<=\n)|(?<=[.!?] )")


class DiffOp(NamedTuple):
    """A run of text that both sides share (``equal``), only the right has (``insert``) or
    only the left has (``delete``)."""

    op: Op
    text: str


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


class _Builder:
    """Collects ops, merging neighbours of the same kind so a renderer gets few, long runs."""

    def __init__(self) -> None:
        self.ops: list[DiffOp] = []

    def add(self, op: Op, text: str) -> None:
        if not text:
            return
        if self.ops and self.ops[-1].op == op:
            self.ops[-1] = DiffOp(op, self.ops[-1].text + text)
        else:
            self.ops.append(DiffOp(op, text))


def _replace(out: _Builder, old: str, new: str) -> None:
    """A deletion then an insertion; the whitespace both end with (tokens carry their trailing
    whitespace) is shared, so a changed last word of a line does not mark the line break."""
    wa, wb = old[len(old.rstrip()) :], new[len(new.rstrip()) :]
    common = 0
    while common < min(len(wa), len(wb)) and wa[-1 - common] == wb[-1 - common]:
        common += 1
    if common and old.strip() and new.strip():
        out.add("delete", old[:-common])
        out.add("insert", new[:-common])
        out.add("equal", old[-common:])
    else:
        out.add("delete", old)
        out.add("insert", new)


def _words(out: _Builder, a: list[str], b: list[str]) -> None:
    """Word-level match of two changed regions (token lists)."""
    if not a or not b:
        out.add("delete", "".join(a))
        out.add("insert", "".join(b))
        return
    if len(a) > EXACT_WORD_LIMIT or len(b) > EXACT_WORD_LIMIT:
        # no line or sentence in common over this long a stretch: the texts differ here as a
        # whole, and a word match would cost quadratic time to find scattered common words
        out.add("delete", "".join(a))
        out.add("insert", "".join(b))
        return
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.add("equal", "".join(a[i1:i2]))
        else:
            _replace(out, "".join(a[i1:i2]), "".join(b[j1:j2]))


def _segments(text: str) -> list[str]:
    return [seg for seg in _SEGMENT.split(text) if seg]


def _lines(out: _Builder, a: str, b: str) -> None:
    """Segment-level match (lines and sentences), then words inside each changed block."""
    la, lb = _segments(a), _segments(b)
    if len(la) <= 1 or len(lb) <= 1:
        _words(out, _tokens(a), _tokens(b))
        return
    # autojunk: segments that recur everywhere (blank lines between paragraphs, a repeated
    # heading) anchor no match, only extend one; matching on them made a 200 KB pair 4x slower
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, la, lb, autojunk=True).get_opcodes():
        if tag == "equal":
            out.add("equal", "".join(la[i1:i2]))
        elif i2 - i1 == j2 - j1:
            # as many segments on both sides: each was edited in place, pair them up
            for sa, sb in zip(la[i1:i2], lb[j1:j2], strict=True):
                _words(out, _tokens(sa), _tokens(sb))
        else:
            _words(out, _tokens("".join(la[i1:i2])), _tokens("".join(lb[j1:j2])))


def diff_words(left: str | None, right: str | None) -> list[DiffOp]:
    """The word-level difference from ``left`` to ``right`` as ops in order; ``None`` reads as
    empty (a step that did not run)."""
    a, b = left or "", right or ""
    out = _Builder()
    if a == b:
        out.add("equal", a)
        return out.ops
    # the common head and tail, cut at token boundaries, cost nothing to match
    ta, tb = _tokens(a), _tokens(b)
    head = 0
    while head < len(ta) and head < len(tb) and ta[head] == tb[head]:
        head += 1
    tail = 0
    while tail < len(ta) - head and tail < len(tb) - head and ta[-1 - tail] == tb[-1 - tail]:
        tail += 1
    out.add("equal", "".join(ta[:head]))
    _lines(out, "".join(ta[head : len(ta) - tail]), "".join(tb[head : len(tb) - tail]))
    out.add("equal", "".join(ta[len(ta) - tail :]))
    return out.ops


def side_text(ops: list[DiffOp], side: Literal["left", "right"]) -> str:
    """One side's text back from the ops (left: equal + delete; right: equal + insert)."""
    drop = "insert" if side == "left" else "delete"
    return "".join(op.text for op in ops if op.op != drop)


# ---- the compare model --------------------------------------------------------------------

N = TypeVar("N", int, Decimal)


@dataclass(frozen=True)
class Delta(Generic[N]):
    """A figure on both sides and ``right - left`` (None when either side is unknown)."""

    left: N | None
    right: N | None

    @property
    def difference(self) -> N | None:
        if self.left is None or self.right is None:
            return None
        return self.right - self.left


@dataclass(frozen=True)
class StepSide:
    """One step of one side, as compared: who ran it, on what, at what cost and speed.
    ``reused`` marks a branch's step taken from its parent without a model call."""

    position: int
    agent: str
    model: str
    model_display: str
    status: str | None
    tokens_in: int | None
    tokens_out: int | None
    cost_usd: Decimal | None
    latency_ms: int | None
    reused: bool


@dataclass(frozen=True)
class StepComparison:
    """A step matched by position; a side is None where that artifact has no such step."""

    position: int
    left: StepSide | None
    right: StepSide | None
    diff: list[DiffOp]

    @property
    def changed(self) -> bool:
        return any(op.op != "equal" for op in self.diff)


@dataclass(frozen=True)
class Comparison:
    output_diff: list[DiffOp]
    steps: list[StepComparison]
    cost_usd: Delta[Decimal]
    tokens_in: Delta[int]
    tokens_out: Delta[int]
    duration_ms: Delta[int]

    @property
    def output_changed(self) -> bool:
        return any(op.op != "equal" for op in self.output_diff)


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _side(step: dict[str, Any]) -> StepSide:
    usage = step.get("usage") or {}
    agent = step.get("agent") or {}
    model = str(step.get("model") or "")
    return StepSide(
        position=int(step["position"]),
        agent=str(agent.get("name") or ""),
        model=model,
        model_display=str(step.get("model_display") or model),
        status=step.get("status"),
        tokens_in=_int(usage.get("input_tokens")),
        tokens_out=_int(usage.get("output_tokens")),
        cost_usd=_decimal(step.get("cost_usd")),
        latency_ms=_int(step.get("latency_ms")),
        reused=bool(step.get("reused")),
    )


def compare(left: dict[str, Any], right: dict[str, Any]) -> Comparison:
    """Two artifact contents (or two versions of one) side by side: the final output's diff,
    every step by position (output diff, model, tokens, cost, time), and the totals. The final
    output is usually the last step's output on both sides: a pair of texts already diffed is
    not diffed again."""
    done: dict[tuple[str, str], list[DiffOp]] = {}

    def diff_once(a: str | None, b: str | None) -> list[DiffOp]:
        key = (a or "", b or "")
        if key not in done:
            done[key] = diff_words(a, b)
        return done[key]

    lsteps = {int(st["position"]): st for st in left.get("steps") or []}
    rsteps = {int(st["position"]): st for st in right.get("steps") or []}
    steps = []
    for position in sorted(lsteps.keys() | rsteps.keys()):
        ls, rs = lsteps.get(position), rsteps.get(position)
        steps.append(
            StepComparison(
                position=position,
                left=_side(ls) if ls else None,
                right=_side(rs) if rs else None,
                diff=diff_once((ls or {}).get("output"), (rs or {}).get("output")),
            )
        )
    lu, ru = left.get("usage") or {}, right.get("usage") or {}
    return Comparison(
        output_diff=diff_once(left.get("output"), right.get("output")),
        steps=steps,
        cost_usd=Delta(_decimal(left.get("cost_usd")), _decimal(right.get("cost_usd"))),
        tokens_in=Delta(_int(lu.get("input_tokens")), _int(ru.get("input_tokens"))),
        tokens_out=Delta(_int(lu.get("output_tokens")), _int(ru.get("output_tokens"))),
        duration_ms=Delta(_int(left.get("duration_ms")), _int(right.get("duration_ms"))),
    )

"""Word-level differences between two texts, and the compare model of two artifact contents.

The diff works on tokens that keep every character (runs of word characters, of punctuation,
of whitespace), so joining a side's tokens gives back that text exactly and a renderer can
show both sides from one list. The common head and tail are cut off first, the rest is
matched by segments (lines, and sentences in long lines), and only changed segments are
matched word by word (paired one to one where as many changed on both sides).

Bounded work. difflib's matcher is quadratic on some inputs: two 350 KB texts of the same
distinct lines, each neighbouring pair swapped, took 8 to 40 s of CPU (every match found is
one line long, and each costs a pass over what is left). So every match of one compare draws
on one :class:`Work` budget, counted in the matcher's own probes (:data:`WORK_LIMIT`), and
the diff turns *coarse* instead of slow:

* segments that cannot be matched within the budget are matched by a linear-ish rule
  instead (patience: the segments found once on each side, kept in order by a longest
  increasing subsequence; what lies between them is removed and added whole);
* a changed region that cannot be matched word by word within what is left, or that is
  longer than :data:`EXACT_WORD_LIMIT` tokens, is shown removed and added whole;
* past :data:`TEXT_LIMIT` characters in one compare (ten steps of long model outputs), a
  pair of texts is only cut at its common head and tail.

``Work.coarse`` then says so, and the compare page and Slack's summary say it to the reader
(``Comparison.coarse``). What stays is linear in the texts' size (tokenising, the head and
tail, the patience rule), and the texts are bounded: an edit holds 512 KB
(core/artifacts/editing.py). Figures: bench/bench_artifact_diff.py.

No HTML here: escaping is the renderer's job (Jinja2 autoescape).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from difflib import Match, SequenceMatcher
from typing import Any, Generic, Literal, NamedTuple, TypeVar

from core.artifacts.tool_call_diff import ToolCallsDiff, tool_calls_diff

__all__ = [
    "WORK_LIMIT",
    "Comparison",
    "Delta",
    "DiffOp",
    "StepComparison",
    "StepSide",
    "Work",
    "compare",
    "diff_words",
    "side_text",
]

Op = Literal["equal", "insert", "delete"]

#: The longest changed region (tokens on a side) matched word by word. A longer one has no
#: line or sentence in common with the other side: it is shown deleted and inserted whole.
EXACT_WORD_LIMIT = 2000

#: The matching work one compare may do, in matcher probes (a probe is one element looked at,
#: or one candidate position of a match tried): about 0.3 s of CPU on this project's 2-core
#: machine (5 million probes a second). Ordinary edits of 200 KB outputs take a small part of it
#: (bench/bench_artifact_diff.py); past it, the rest of the compare is coarse.
WORK_LIMIT = 1_200_000
#: The characters (both sides) one compare matches by tokens at all: tokenising and cutting
#: into segments is linear but not free (about 0.25 s for a pair of 512 KB texts). A maximal
#: edit against its base fits; past it, a pair is cut at its common head and tail (compared
#: in C, by halving) and the middle is shown removed and added whole.
TEXT_LIMIT = 1_200_000
#: What setting up one matcher costs, in probes (building its index and opcodes): many tiny
#: regions are paid for like one large one.
MATCHER_SETUP = 100

# A word or a run of punctuation with the whitespace after it: a lone-space token would match
# everywhere and make every match quadratic.
_TOKEN = re.compile(r"\w+\s*|[^\w\s]+\s*|\s+")
# Segments for the first, coarse match: lines, and sentences inside long lines, so that a text
# without line breaks is not one segment. Cut after the boundary, so segments keep every character.
_SEGMENT = re.compile(r".*?(?:\n|[.!?] )|.+", re.DOTALL)


class DiffOp(NamedTuple):
    """A run of text that both sides share (``equal``), only the right has (``insert``) or
    only the left has (``delete``)."""

    op: Op
    text: str


class _OverBudget(Exception):
    """The compare's matching budget is spent: the caller falls back to a coarser rule."""


@dataclass
class Work:
    """The matching budget of one compare, shared by every text it diffs. ``spent`` counts
    matcher probes and never passes ``limit`` (a match that would is abandoned before it
    runs on); ``coarse`` is set once any part of the diff fell back to a coarser rule."""

    limit: int = WORK_LIMIT
    spent: int = 0
    coarse: bool = False
    text_limit: int = TEXT_LIMIT
    text_spent: int = 0

    def take_text(self, n: int) -> bool:
        """Whether ``n`` more characters may be matched by tokens (and count them if so)."""
        if self.text_spent + n > self.text_limit:
            self.coarse = True
            return False
        self.text_spent += n
        return True

    @property
    def exhausted(self) -> bool:
        """Not even one more matcher fits: what is left is shown whole without trying."""
        return self.spent + MATCHER_SETUP > self.limit

    def charge(self, n: int) -> None:
        if self.spent + n > self.limit:
            self.coarse = True
            raise _OverBudget
        self.spent += n


class _Matcher(SequenceMatcher[str]):
    """difflib's matcher, charging each longest-match search to a :class:`Work` before it
    runs. The charge is an upper bound of that search's probes: the positions it scans on
    both sides plus every candidate position of ``b`` its elements of ``a`` have (a prefix sum,
    so charging costs O(1))."""

    def __init__(self, a: list[str], b: list[str], *, autojunk: bool, work: Work) -> None:
        work.charge(MATCHER_SETUP + len(a) + len(b))  # building the index of b
        self._work = work
        self._sizes = (len(a), len(b))
        super().__init__(None, a, b, autojunk=autojunk)
        # difflib's index of b (element -> positions), without the junk autojunk dropped:
        # what find_longest_match iterates over (not in typeshed's stub of the class)
        b2j: dict[str, list[int]] = self.b2j  # type: ignore[attr-defined]
        prefix = [0]
        total = 0
        for x in a:
            total += len(b2j.get(x, ()))
            prefix.append(total)
        self._candidates = prefix

    def find_longest_match(self, alo: int = 0, ahi: int | None = None, blo: int = 0, bhi: int | None = None) -> Match:
        ahi = self._sizes[0] if ahi is None else ahi
        bhi = self._sizes[1] if bhi is None else bhi
        self._work.charge((ahi - alo) + (bhi - blo) + self._candidates[ahi] - self._candidates[alo])
        return super().find_longest_match(alo, ahi, blo, bhi)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


class _Builder:
    """Collects ops, merging neighbours of the same kind so a renderer gets few, long runs.
    A run's pieces are joined once, when it ends: appending to a growing string would be
    quadratic on a long run of small pieces."""

    def __init__(self) -> None:
        self._done: list[DiffOp] = []
        self._op: Op | None = None
        self._parts: list[str] = []

    def add(self, op: Op, text: str) -> None:
        if not text:
            return
        if op != self._op:
            self._flush()
            self._op = op
        self._parts.append(text)

    def _flush(self) -> None:
        if self._op is not None and self._parts:
            self._done.append(DiffOp(self._op, "".join(self._parts)))
        self._parts = []

    @property
    def ops(self) -> list[DiffOp]:
        self._flush()
        self._op = None
        return self._done


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


def _words(out: _Builder, a: list[str], b: list[str], work: Work) -> None:
    """Word-level match of two changed regions (token lists), or the whole of each when that
    is too long or the budget does not cover it."""
    if not a or not b:
        out.add("delete", "".join(a))
        out.add("insert", "".join(b))
        return
    if len(a) > EXACT_WORD_LIMIT or len(b) > EXACT_WORD_LIMIT:
        # no line or sentence in common over this long a stretch: the texts differ here as a
        # whole, and a word match would cost quadratic time to find scattered common words
        work.coarse = True
        _replace(out, "".join(a), "".join(b))
        return
    try:
        opcodes = _Matcher(a, b, autojunk=False, work=work).get_opcodes()
    except _OverBudget:
        _replace(out, "".join(a), "".join(b))
        return
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            out.add("equal", "".join(a[i1:i2]))
        else:
            _replace(out, "".join(a[i1:i2]), "".join(b[j1:j2]))


def _segments(text: str) -> list[str]:
    return _SEGMENT.findall(text)


def _patience(la: list[str], lb: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Opcodes of a segment match in O(n log n), for when the fine match is over budget: the
    segments found exactly once on each side are anchors, kept where their order agrees (a
    longest increasing subsequence), each widened over equal neighbours; the stretches
    between anchors are ``replace`` (removed and added whole)."""
    ca, cb = Counter(la), Counter(lb)
    where_b = {seg: j for j, seg in enumerate(lb) if cb[seg] == 1}
    pairs = [(i, where_b[seg]) for i, seg in enumerate(la) if ca[seg] == 1 and seg in where_b]
    # longest increasing subsequence of the b positions (patience sorting, with back links)
    tails: list[int] = []  # tails[k]: the pair ending the best run of length k+1 found so far
    tail_js: list[int] = []  # its b position (increasing in k)
    back: list[int] = [-1] * len(pairs)
    for n, (_, j) in enumerate(pairs):
        k = bisect_left(tail_js, j)
        if k > 0:
            back[n] = tails[k - 1]
        if k == len(tails):
            tails.append(n)
            tail_js.append(j)
        else:
            tails[k], tail_js[k] = n, j
    anchors: list[tuple[int, int]] = []
    n = tails[-1] if tails else -1
    while n >= 0:
        anchors.append(pairs[n])
        n = back[n]
    anchors.reverse()
    ops: list[tuple[str, int, int, int, int]] = []
    i = j = 0
    for ai, bj in [*anchors, (len(la), len(lb))]:
        if ai < i or bj < j:
            continue  # swallowed by the widening of the previous anchor
        # widen backwards over equal neighbours, down to where the previous stretch ended
        s_i, s_j = ai, bj
        while s_i > i and s_j > j and la[s_i - 1] == lb[s_j - 1]:
            s_i, s_j = s_i - 1, s_j - 1
        if s_i > i or s_j > j:
            ops.append(("replace" if s_i > i and s_j > j else "delete" if s_i > i else "insert", i, s_i, j, s_j))
        e_i, e_j = ai, bj
        while e_i < len(la) and e_j < len(lb) and la[e_i] == lb[e_j]:
            e_i, e_j = e_i + 1, e_j + 1
        if e_i > s_i:
            ops.append(("equal", s_i, e_i, s_j, e_j))
        i, j = e_i, e_j
    return ops


def _lines(out: _Builder, a: str, b: str, work: Work) -> None:
    """Segment-level match (lines and sentences), then words inside each changed block."""
    la, lb = _segments(a), _segments(b)
    if len(la) <= 1 or len(lb) <= 1:
        _words(out, _tokens(a), _tokens(b), work)
        return
    opcodes: list[tuple[str, int, int, int, int]]
    try:
        # autojunk: segments that recur everywhere (blank lines between paragraphs, a repeated
        # heading) anchor no match, only extend one; matching on them made a 200 KB pair 4x slower
        opcodes = list(_Matcher(la, lb, autojunk=True, work=work).get_opcodes())
    except _OverBudget:
        opcodes = _patience(la, lb)
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            out.add("equal", "".join(la[i1:i2]))
        elif work.exhausted:
            work.coarse = True
            _replace(out, "".join(la[i1:i2]), "".join(lb[j1:j2]))
        elif i2 - i1 == j2 - j1:
            # as many segments on both sides: each was edited in place, pair them up
            for sa, sb in zip(la[i1:i2], lb[j1:j2], strict=True):
                if sa == sb:  # the coarse rule pairs equal segments too
                    out.add("equal", sa)
                else:
                    _words(out, _tokens(sa), _tokens(sb), work)
        else:
            _words(out, _tokens("".join(la[i1:i2])), _tokens("".join(lb[j1:j2])), work)


def diff_words(left: str | None, right: str | None, work: Work | None = None) -> list[DiffOp]:
    """The word-level difference from ``left`` to ``right`` as ops in order; ``None`` reads as
    empty (a step that did not run). ``work`` is the budget to draw on (a fresh one of
    :data:`WORK_LIMIT` when None); afterwards its ``coarse`` says whether the fine match was
    given up anywhere."""
    work = Work() if work is None else work
    a, b = left or "", right or ""
    out = _Builder()
    if a == b:
        out.add("equal", a)
        return out.ops
    if not work.take_text(len(a) + len(b)):
        _quick(out, a, b)
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
    _lines(out, "".join(ta[head : len(ta) - tail]), "".join(tb[head : len(tb) - tail]), work)
    out.add("equal", "".join(ta[len(ta) - tail :]))
    return out.ops


def _quick(out: _Builder, a: str, b: str) -> None:
    """The coarsest diff, for texts past the compare's :data:`TEXT_LIMIT`: the common head and
    tail (found by halving, each probe one slice comparison in C), the middle whole."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # a[:lo] == b[:lo]
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if a[:mid] == b[:mid] else (lo, mid - 1)
    head = lo
    lo, hi = 0, min(len(a), len(b)) - head
    while lo < hi:  # the last lo characters are the same
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if a[len(a) - mid :] == b[len(b) - mid :] else (lo, mid - 1)
    tail = lo
    out.add("equal", a[:head])
    out.add("delete", a[head : len(a) - tail])
    out.add("insert", b[head : len(b) - tail])
    out.add("equal", a[len(a) - tail :])


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
    # How the step's tool calls differ (core/artifacts/tool_call_diff.py); None: no calls on either side.
    tool_calls: ToolCallsDiff | None = None

    @property
    def changed(self) -> bool:
        return any(op.op != "equal" for op in self.diff)


@dataclass(frozen=True)
class Comparison:
    """``coarse``: some text differs in too many places to be matched word by word within
    the compare's budget, and is shown removed and added in larger pieces (the page and the
    Slack summary say so)."""

    output_diff: list[DiffOp]
    steps: list[StepComparison]
    cost_usd: Delta[Decimal]
    tokens_in: Delta[int]
    tokens_out: Delta[int]
    duration_ms: Delta[int]
    coarse: bool = False

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
    not diffed again.

    All the diffs draw on one :class:`Work` budget, the final output's first (it is what a
    reader looks at first); ``Comparison.coarse`` says whether any fell back."""
    done: dict[tuple[str, str], list[DiffOp]] = {}
    work = Work()

    def diff_once(a: str | None, b: str | None) -> list[DiffOp]:
        key = (a or "", b or "")
        if key not in done:
            done[key] = diff_words(a, b, work)
        return done[key]

    output_diff = diff_once(left.get("output"), right.get("output"))

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
                tool_calls=tool_calls_diff(position, ls, rs),
            )
        )
    lu, ru = left.get("usage") or {}, right.get("usage") or {}
    return Comparison(
        output_diff=output_diff,
        steps=steps,
        cost_usd=Delta(_decimal(left.get("cost_usd")), _decimal(right.get("cost_usd"))),
        tokens_in=Delta(_int(lu.get("input_tokens")), _int(ru.get("input_tokens"))),
        tokens_out=Delta(_int(lu.get("output_tokens")), _int(ru.get("output_tokens"))),
        duration_ms=Delta(_int(left.get("duration_ms")), _int(right.get("duration_ms"))),
        coarse=work.coarse,
    )

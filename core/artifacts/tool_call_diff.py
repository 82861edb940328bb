"""Where two runs' tool calls differ, step by step (DESIGN §12 "Live and recorded"; compare).

Two calls are the same call when their kind, name and arguments are the same (arguments
compared as JSON values, so key order does not matter); results, durations and fees are
what a call gave, not what was asked, and may differ between two identical calls (a web
page changed, a server was slower). A step's calls are the same when both sides made the
same calls as many times; in another order is said as such.

The words live here, once, for the Slack summary and the compare page alike. They are plain
text and carry the calls' summaries (core/tool_calls.summary), which hold what a model
wrote: the renderer escapes them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.tool_calls import summary

__all__ = ["ToolCallsDiff", "tool_calls_diff"]

#: How many calls found on one side only a difference names (the page lists them, a summary
#: line counts them).
NAMED_CALLS = 5


def _calls(step: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    raw = (step or {}).get("tool_calls")
    return [dict(c) for c in raw if isinstance(c, Mapping)] if isinstance(raw, list) else []


def _key(call: Mapping[str, Any]) -> tuple[str, str, str]:
    """What makes two calls the same call: kind, name and arguments (as a JSON value)."""
    args = call.get("arguments")
    if isinstance(args, str):  # arguments stored as the JSON text the model wrote
        try:
            args = json.loads(args)
        except ValueError:
            pass
    try:
        args_text = json.dumps(args, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        args_text = str(args)
    return (str(call.get("kind") or ""), str(call.get("name") or call.get("label") or ""), args_text)


def _plural(n: int) -> str:
    return f"{n} tool call{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class ToolCallsDiff:
    """One step's tool calls on both sides. ``only_left`` / ``only_right``: the summaries of
    the calls one side made and the other did not (as many times), in the order made."""

    position: int
    left: int  # how many calls each side made
    right: int
    same: bool
    in_order: bool  # the same calls in the same order (only meaningful when ``same``)
    only_left: list[str] = field(default_factory=list)
    only_right: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """ "Same tool calls (3)", "3 tool calls vs 1", "2 tool calls on each side, 1 different"."""
        if self.same:
            same = f"Same tool calls ({self.left})"
            return same if self.in_order else f"{same}, in another order"
        if self.left != self.right:
            return f"{_plural(self.left)} vs {self.right}"
        return f"{_plural(self.left)} on each side, {len(self.only_left)} different"

    @property
    def step_text(self) -> str:
        """The same, naming the step: "Step 2: 3 tool calls vs 1"."""
        text = self.text
        return f"Step {self.position}: {text[0].lower() + text[1:] if self.same else text}"


def _only(calls: Sequence[dict[str, Any]], other: Counter[tuple[str, str, str]]) -> list[str]:
    """The summaries of ``calls`` that ``other`` does not account for, in order."""
    left = Counter(other)
    out = []
    for call in calls:
        key = _key(call)
        if left[key] > 0:
            left[key] -= 1
        else:
            out.append(summary(call))
    return out


def tool_calls_diff(
    position: int, left: Mapping[str, Any] | None, right: Mapping[str, Any] | None
) -> ToolCallsDiff | None:
    """How one step's calls differ between two artifacts' steps (None for a missing step);
    None when neither side made any, so that runs without tools read as they always did, and
    when a branch took the step over from its source (``reused``: it made no call of its own,
    so there is nothing to set against the source's)."""
    if any((step or {}).get("reused") for step in (left, right)):
        return None
    lc, rc = _calls(left), _calls(right)
    if not lc and not rc:
        return None
    lkeys, rkeys = [_key(c) for c in lc], [_key(c) for c in rc]
    same = Counter(lkeys) == Counter(rkeys)
    return ToolCallsDiff(
        position=position,
        left=len(lc),
        right=len(rc),
        same=same,
        in_order=lkeys == rkeys,
        only_left=_only(lc, Counter(rkeys)),
        only_right=_only(rc, Counter(lkeys)),
    )

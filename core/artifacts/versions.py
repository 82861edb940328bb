"""What an edit may change, and how it makes the next version's content.

An edit replaces the final output (``"output"``) or one step's output (``"step:N"``, N the
step's 1-based position) and leaves everything else of the content as it was. Version N+1 is
version N's content with that one text replaced: a new dict, the base is never changed. The
content's own ``"version"`` key is the format of the content, not the artifact's version
number (that is ``artifacts.latest_version``), so it is carried over untouched.

The final output is the last step's output: while the two agree, an edit of either changes
both, so a page, an export or a branch never shows two different "last" texts.

Refusals raise :class:`EditRefused` with a text from core/artifacts/messages.py.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from core.artifacts import messages
from core.text import clean_text

__all__ = ["NOTE_LIMIT", "EditRefused", "EditTarget", "apply_edit", "clean_note", "current_text", "parse_target"]

#: The longest note a version keeps (the column is varchar(500)).
NOTE_LIMIT = 500

_TARGET = re.compile(r"^(?:output|step:([1-9][0-9]*))$")


class EditRefused(ValueError):
    """An edit that cannot become a version; ``str()`` is the message to show."""


@dataclass(frozen=True)
class EditTarget:
    """Which text an edit replaces: the final output (``step`` None) or one step's output."""

    step: int | None = None

    @property
    def key(self) -> str:
        """The stored form (``artifact_versions.edited``): ``"output"`` or ``"step:N"``."""
        return "output" if self.step is None else f"step:{self.step}"


def parse_target(value: str) -> EditTarget:
    """``"output"`` or ``"step:N"`` as an :class:`EditTarget`; anything else is refused."""
    match = _TARGET.match(value or "")
    if match is None:
        raise EditRefused(messages.BAD_TARGET.format(target=value))
    return EditTarget(int(match.group(1)) if match.group(1) else None)


def _normalise(text: str) -> str:
    """Browsers send a textarea's line breaks as CRLF: an unchanged form must read unchanged."""
    return clean_text(text).replace("\r\n", "\n")


def _step_index(content: dict[str, Any], step: int) -> int:
    steps = content.get("steps") or []
    for i, st in enumerate(steps):
        if st.get("position") == step:
            return i
    if not steps:
        raise EditRefused(messages.NO_STEPS.format(step=step))
    raise EditRefused(messages.STEP_OUT_OF_RANGE.format(step=step, count=len(steps)))


def current_text(content: dict[str, Any], target: EditTarget) -> str:
    """The text the target names in ``content`` ("" where there is none yet, e.g. the output
    of a failed run): what an editor is prefilled with."""
    if target.step is None:
        return content.get("output") or ""
    return content["steps"][_step_index(content, target.step)].get("output") or ""


def apply_edit(content: dict[str, Any], target: EditTarget, new_text: str, *, base_version: int) -> dict[str, Any]:
    """The content of the version after ``base_version``: ``content`` with the target's text
    replaced by ``new_text`` (cleaned of NUL and lone surrogates; any length is kept whole).

    Refused: an empty edit, an edit that changes nothing, a step this artifact does not have.
    """
    text = _normalise(new_text)
    if not text.strip():
        raise EditRefused(messages.EMPTY_EDIT)
    old = current_text(content, target)  # refuses a step out of range
    if text == _normalise(old):
        raise EditRefused(messages.NO_CHANGE.format(version=base_version))
    new = copy.deepcopy(content)
    steps = new.get("steps") or []
    last = steps[-1] if steps else None
    mirrored = last is not None and (last.get("output") or "") == (new.get("output") or "")
    if target.step is None:
        new["output"] = text
        if mirrored and last is not None:
            last["output"] = text
    else:
        step = steps[_step_index(new, target.step)]
        step["output"] = text
        if mirrored and step is last:
            new["output"] = text
    return new


def clean_note(note: str | None) -> str | None:
    """A version's optional note: trimmed, None when blank, refused past :data:`NOTE_LIMIT`."""
    if note is None:
        return None
    note = _normalise(note).strip()
    if not note:
        return None
    if len(note) > NOTE_LIMIT:
        raise EditRefused(messages.NOTE_TOO_LONG.format(length=len(note), limit=NOTE_LIMIT))
    return note

"""The web editor's view-models: the form (with any message and the person's own text), and
the page of a refused edit link.

The text in the form is what the person typed whenever a save was refused (empty, no change,
someone saved meanwhile), so nothing typed is ever lost by a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PartLink:
    """One editable part (the final output, or a step's output) and the editor URL for it."""

    label: str
    href: str
    current: bool


@dataclass(frozen=True)
class EditorPage:
    title: str
    pipeline: str
    action: str
    target: str
    target_label: str
    text: str
    note: str
    csrf: str
    base_version: int
    latest: int
    user: str
    parts: list[PartLink] = field(default_factory=list)
    error: str = ""
    can_save: bool = True
    latest_href: str | None = None

    @property
    def stale(self) -> bool:
        """Someone saved after the version this link edits: saving will be refused."""
        return self.latest > self.base_version


@dataclass(frozen=True)
class RefusalPage:
    """A refused link or save: a heading and why. It has no field for the posted text on
    purpose: a refusal never shows it back (bot/web/editor_routes.py says why)."""

    heading: str
    message: str


def part_label(target: str) -> str:
    """``"Final output"`` or ``"Step 2 output"`` for an edit target."""
    return "Final output" if target == "output" else f"Step {target.removeprefix('step:')} output"

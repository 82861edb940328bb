"""The artifact page's lifecycle part: which version is shown, the other versions, where the
artifact branched from, what branched from it, and the 👍/👎 of the shown version.

Pure: the route reads storage and passes rows and URL builders in; this decides the words.
Every string is plain text for the template to escape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.formatting import format_datetime
from core.runs.artifact import iso_text

#: The longest value of a branch's "what changed" shown on the page (the input can be long).
CHANGE_TEXT_LIMIT = 120

_CHANGE_LABELS = {"agent": "Agent", "model": "Model", "input": "Input"}


@dataclass(frozen=True)
class VersionItem:
    number: int
    author: str
    created: str
    created_iso: str | None
    note: str
    changed: str
    href: str
    shown: bool


@dataclass(frozen=True)
class ParentView:
    """Where a branch came from; ``href`` is None once the parent was deleted, or when the
    viewer may not see it (``hidden``: the page says so without naming it)."""

    href: str | None
    version: int | None
    step: int | None
    changes: list[str]
    compare_href: str | None
    hidden: bool = False


@dataclass(frozen=True)
class BranchItem:
    href: str
    compare_href: str
    title: str
    created: str
    step: int | None
    version: int | None
    changes: list[str]


@dataclass(frozen=True)
class LifecycleView:
    shown: int
    latest: int
    versions: list[VersionItem]
    parent: ParentView | None
    branches: list[BranchItem]
    up: int
    down: int
    previous_compare_href: str | None
    compare_href: str

    @property
    def is_latest(self) -> bool:
        return self.shown == self.latest

    @property
    def label(self) -> str:
        """``"Version 2 of 3"``, or ``"Version 3 (latest)"``."""
        if self.latest <= 1:
            return "Version 1"
        return f"Version {self.shown} (latest)" if self.is_latest else f"Version {self.shown} of {self.latest}"


def changed_text(edited: str | None) -> str:
    """What a version changed, from its stored edit target (``output``, ``step:N``)."""
    if edited is None:
        return "As the run produced it"
    if edited == "output":
        return "Edited the final output"
    if edited.startswith("step:"):
        return f"Edited the output of step {edited[5:]}"
    return f"Edited {edited}"


def _short(value: Any) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= CHANGE_TEXT_LIMIT else text[: CHANGE_TEXT_LIMIT - 1] + "…"


def change_lines(changes: Mapping[str, Any] | None) -> list[str]:
    """A branch's recorded changes as lines (``"Model: gpt-5"``); unknown keys shown as stored."""
    lines = []
    for key, value in (changes or {}).items():
        if value is None or value == "":
            continue
        label = _CHANGE_LABELS.get(str(key), str(key).replace("_", " ").capitalize())
        if isinstance(value, Mapping):
            value = value.get("name") or value.get("to") or value.get("ref") or dict(value)
        lines.append(f"{label}: {_short(value)}")
    return lines


def lifecycle_view(
    *,
    shown: int,
    latest: int,
    versions: Sequence[Any],
    parent: Any | None,
    branches: Sequence[Any],
    up: int,
    down: int,
    version_href: Callable[[int], str],
    parent_href: Callable[[str, int | None], str],
    compare_href: Callable[..., str],
    artifact_id: str,
    parent_visible: bool = True,
) -> LifecycleView:
    """The lifecycle part of the page. ``versions`` are storage's ``VersionInfo`` (newest
    first), ``parent`` its ``Parent``, ``branches`` its ``ArtifactSummary`` rows.
    ``compare_href(left_id, right_id, av, bv)`` builds a signed compare link. ``branches``
    are the ones the viewer may see; ``parent_visible`` False links no parent. It stays one
    function: one pass that lays out the page's lifecycle panel in display order.
    """
    items = [
        VersionItem(
            number=v.number,
            author=(v.author or "").strip(),
            created=format_datetime(v.created_at),
            created_iso=iso_text(v.created_at),
            note=(v.note or "").strip(),
            changed=changed_text(v.edited),
            href=version_href(v.number),
            shown=v.number == shown,
        )
        for v in versions
    ]
    parent_view = None
    if parent is not None:
        pid = str(parent.artifact_id) if parent.artifact_id and parent_visible else None
        parent_view = ParentView(
            href=parent_href(pid, parent.version) if pid else None,
            version=parent.version,
            step=parent.step,
            changes=change_lines(parent.changes),
            compare_href=compare_href(pid, artifact_id, parent.version, shown) if pid else None,
            hidden=bool(parent.artifact_id) and not parent_visible,
        )
    branch_items = [
        BranchItem(
            href=parent_href(str(b.id), None),
            compare_href=compare_href(artifact_id, str(b.id), b.parent_version, None),
            title=b.pipeline_name or "Branch",
            created=format_datetime(b.created_at),
            step=b.branched_from_step,
            version=b.parent_version,
            changes=change_lines(b.branch_changes),
        )
        for b in branches
    ]
    previous = compare_href(artifact_id, artifact_id, shown - 1, shown) if shown > 1 else None
    return LifecycleView(
        shown=shown,
        latest=latest,
        versions=items,
        parent=parent_view,
        branches=branch_items,
        up=up,
        down=down,
        previous_compare_href=previous,
        compare_href=compare_href(artifact_id, artifact_id, shown, shown),
    )


__all__ = ["BranchItem", "LifecycleView", "ParentView", "VersionItem", "change_lines", "changed_text", "lifecycle_view"]

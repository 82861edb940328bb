"""Block Kit for the buttons on an artifact after its run: *Edit*, *Re-run from…* and
*Compare* for one version, the 👍/👎 feedback buttons, and the values they carry.

Pure builders (no I/O). Button values carry ``{artifact_id}:{version}``, never anything a
listener trusts for tenancy: every listener reads the workspace from the signed payload.
The edit modal, the compare views and the unfurl card live beside this module
(``edit.py``, ``compare.py``, ``unfurl.py``) and share its ids.
"""

from __future__ import annotations

from typing import Any, Literal

from slack_sdk.models.blocks import ButtonElement, ContextActionsBlock, FeedbackButtonObject, FeedbackButtonsElement

from bot.slack.blocks.common import button
from bot.slack.blocks.rerun import rerun_button

# ---- action ids ---------------------------------------------------------------------------------

EDIT_ARTIFACT = "artifact_edit"  # button value: "{artifact_id}:{version}"
COMPARE_ARTIFACT = "artifact_compare"  # button value: "{artifact_id}:{version}"
FEEDBACK = "artifact_feedback"  # feedback_buttons; values "up:{id}:{v}" / "down:{id}:{v}"
OPEN_LINK = "artifact_lifecycle_link"  # URL buttons (editor, compare page) still send an action: acked

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

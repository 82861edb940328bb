"""Block Kit for artifacts: the list (`/pipebot artifacts`, with paging and 👍/👎 counts) and
the View modal.

Pure builders. Lists carry only list columns; the modal shows the output cut to Slack's
limits with the permalink to the whole artifact, and the *Edit*, *Re-run from…* and
*Compare* buttons (bot/slack/blocks/artifact_buttons.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    DividerBlock,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.slack.blocks.artifact_buttons import lifecycle_buttons, votes_text
from bot.slack.blocks.common import (
    STATUS_EMOJI,
    button,
    context,
    link,
    md,
    model_label,
    models_text,
    name_md,
    one_line,
    preview,
    section,
    slack_date,
)
from bot.slack.blocks.limits import SECTION_TEXT_LIMIT
from bot.slack.text import clip, escape_mrkdwn, fit_message, split_for_stream
from core.formatting import format_cost, format_duration
from core.messages import DELETE_CONFIRM, deleted_by
from storage.states import RunStatus, StepStatus

ARTIFACT_MODAL_CALLBACK = "pipebot_artifact"
VIEW_ARTIFACT = "artifact_view"  # button value: the artifact id
# Paging buttons, value {"p": pipeline id | null, "o": offset}. Two action_ids: Slack refuses an
# actions block whose elements share one (invalid_blocks). "Next" keeps the original id, so the
# buttons of lists posted before still work.
ARTIFACTS_PAGE = "artifacts_page"
ARTIFACTS_PREVIOUS_PAGE = "artifacts_page_previous"
OPEN_ARTIFACT_LINK = "artifact_open_link"  # URL buttons still send an action; it is only acked
MODAL_OUTPUT_BUDGET = 8_700
DELETE_ARTIFACT = "artifact_delete"  # the View modal's Delete, value: the artifact id
DELETED_MARK = (
    "_deleted_"  # where a list would show a deleted result's content  # artifact modal: three sections of ≤ 2,900
)


def artifact_line(row: Any, permalink: str | None, votes: Any = None) -> str:
    """One artifact in a list: date, pipeline, status, cost, 👍/👎 (``votes``: up, down), link."""
    emoji = STATUS_EMOJI.get(row.status, "•")
    parts = [f"{emoji} {name_md(row.pipeline_name)}", slack_date(row.created_at), row.status, format_cost(row.cost_usd)]
    if getattr(row, "deleted_at", None) is not None:
        parts.append(DELETED_MARK)
    if votes is not None and votes_text(votes.up, votes.down):
        parts.append(votes_text(votes.up, votes.down))
    line = " · ".join(parts)
    if permalink:
        line += f"\n{link(permalink, 'open the artifact')}"
    return line


def artifact_list_message(
    rows: Sequence[Any],
    permalink_for: Callable[[Any], str | None],
    *,
    title: str,
    next_value: str | None = None,
    prev_value: str | None = None,
    empty: str = "No artifacts yet.",
    votes: Mapping[Any, Any] | None = None,
) -> tuple[str, list[Block]]:
    """`/pipebot artifacts`: each row with a View button; Previous/Next when there are more.
    ``votes``: artifact id → its 👍/👎 counts (artifacts nobody voted on are absent)."""
    if not rows:
        return empty, [section(empty)]
    blocks: list[Block] = [section(title)]
    for row in rows:
        blocks.append(
            section(
                artifact_line(row, permalink_for(row), (votes or {}).get(row.id)),
                accessory=button("View", VIEW_ARTIFACT, value=str(row.id)),
            )
        )
    nav = []
    if prev_value:
        nav.append(button("Previous page", ARTIFACTS_PREVIOUS_PAGE, value=prev_value))
    if next_value:
        nav.append(button("Next page", ARTIFACTS_PAGE, value=next_value))
    if nav:
        blocks.append(ActionsBlock(block_id="artifacts_nav", elements=nav))
    return clip(re.sub(r"[*]", "", title), SECTION_TEXT_LIMIT), blocks


def delete_button(artifact_id: Any) -> ButtonElement:
    """*Delete*, behind Slack's own confirmation dialog (the listener checks who clicked)."""
    confirm = ConfirmObject(
        title="Delete this result?", text=DELETE_CONFIRM, confirm="Delete", deny="Keep it", style="danger"
    )
    element = button("Delete", DELETE_ARTIFACT, value=str(artifact_id), style="danger")
    element.confirm = confirm
    return element


def _tombstone_blocks(artifact: Any, fields: list[Any]) -> list[Block]:
    """What a deleted result's modal shows: the run's facts and who deleted it, when."""
    who = f"<@{artifact.deleted_by}>" if artifact.deleted_by else "someone"
    return [
        SectionBlock(fields=fields),
        DividerBlock(),
        section(f"🗑️ {deleted_by(who, slack_date(artifact.deleted_at))}. Its output, input and versions are gone."),
    ]


def artifact_modal(artifact: Any, permalink: str | None, *, can_delete: bool = False) -> View:
    """A view-only modal: what ran, what it cost, the output cut to Slack's limits with the link.
    ``can_delete``: the viewer started the run or is an admin, so *Delete* is offered. A
    deleted result shows its tombstone instead of content, and no buttons."""
    content = artifact.content or {}
    emoji = STATUS_EMOJI.get(artifact.status, "•")
    fields = [
        md(f"*Pipeline*\n{escape_mrkdwn(artifact.pipeline_name)}"),
        md(f"*Status*\n{emoji} {artifact.status}"),
        md(f"*Date*\n{slack_date(artifact.created_at)}"),
        md(f"*Cost*\n{format_cost(artifact.cost_usd)}"),
        md(f"*Models*\n{escape_mrkdwn(models_text(artifact.models or []))}"),
        md(f"*Time*\n{format_duration(content.get('duration_ms'))}"),
    ]
    if artifact.created_by:
        fields.append(md(f"*Requested by*\n<@{artifact.created_by}>"))
    if getattr(artifact, "deleted_at", None) is not None:
        return _view(_tombstone_blocks(artifact, fields))
    blocks: list[Block] = [SectionBlock(fields=fields)]
    if content.get("input"):
        blocks.append(context(f"*Input:* {preview(content['input'], 500)}"))
    blocks.append(DividerBlock())
    if artifact.status == RunStatus.FAILED:
        err = (content.get("error") or {}).get("message") or "The run failed."
        blocks.append(section(f"❌ {escape_mrkdwn(err)}"))
    output = (content.get("output") or "").strip()
    if output:
        body = fit_message(escape_mrkdwn(output), permalink, MODAL_OUTPUT_BUDGET)
        for piece in split_for_stream(body, SECTION_TEXT_LIMIT - 100)[:3]:
            if piece.strip():
                blocks.append(section(piece))
    elif artifact.status == RunStatus.SUCCEEDED:
        blocks.append(section("_The last step returned no text._"))
    step_lines = []
    for st in (content.get("steps") or [])[:10]:
        agent = (st.get("agent") or {}).get("name") or "?"
        icon = {StepStatus.SUCCEEDED: "✅", StepStatus.FAILED: "❌"}.get(st.get("status"), "◻️")
        step_lines.append(
            f"{icon} Step {st.get('position')} · {escape_mrkdwn(one_line(agent, 80))} · "
            f"{escape_mrkdwn(st.get('model_display') or model_label(st.get('model')))} · "
            f"{format_cost(st.get('cost_usd'))} · {format_duration(st.get('latency_ms'))}"
        )
    if step_lines:
        blocks.append(context("\n".join(step_lines)))
    elements = [button("Open full artifact", OPEN_ARTIFACT_LINK, url=permalink)] if permalink else []
    elements += lifecycle_buttons(
        artifact.id, getattr(artifact, "latest_version", None) or 1, edit=artifact.status == RunStatus.SUCCEEDED
    )
    if can_delete:
        elements.append(delete_button(artifact.id))
    blocks.append(ActionsBlock(elements=elements))
    return _view(blocks)


def _view(blocks: list[Block]) -> View:
    return View(
        type="modal",
        callback_id=ARTIFACT_MODAL_CALLBACK,
        title=PlainTextObject(text="Run result"),
        close=PlainTextObject(text="Close"),
        blocks=blocks,
    )

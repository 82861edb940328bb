"""Block Kit for the App Home tab: pipelines with Run/Edit, agents, recent runs with Cancel
(queued or running) or View and the lifecycle buttons (Edit, Re-run from…, Compare).

Pure builders; never more than Slack's 100 blocks per Home tab, whatever the workspace holds.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, DividerBlock, HeaderBlock
from slack_sdk.models.views import View

from bot.slack.blocks.artifact_buttons import lifecycle_buttons
from bot.slack.blocks.artifacts import DELETED_MARK, VIEW_ARTIFACT
from bot.slack.blocks.common import (
    STATUS_EMOJI,
    button,
    context,
    model_label,
    name_md,
    preview,
    section,
    slack_date,
)
from bot.slack.blocks.limits import VIEW_BLOCKS_LIMIT
from bot.slack.blocks.runs import cancel_button
from bot.slack.blocks.schedules import home_lines
from bot.slack.text import clip, escape_mrkdwn
from core.formatting import format_cost
from core.messages import COMMAND, status_words
from storage.states import RunStatus

HOME_RUN_PIPELINE = "home_run_pipeline"  # button value: the pipeline id
HOME_EDIT_PIPELINE = "home_edit_pipeline"  # button value: the pipeline id
HOME_NEW_AGENT = "home_new_agent"
HOME_NEW_PIPELINE = "home_new_pipeline"
HOME_PIPELINES_MAX = 20
HOME_RUNS_MAX = 10


def _pipeline_home_text(pipeline: Any, orphaned_positions: set[int]) -> str:
    flow = []
    for st in pipeline.steps:
        if st.position in orphaned_positions:
            flow.append(f"⚠️ ~{escape_mrkdwn(st.agent_name)}~ (deleted)")
        else:
            flow.append(escape_mrkdwn(st.agent_name))
    head = f"{'⚠️ ' if orphaned_positions else ''}{name_md(pipeline.name)}"
    text = f"{head}\n{' → '.join(flow) or 'no steps'}"
    if orphaned_positions:
        text += "\n_Uses a deleted agent: edit it and pick another before running it._"
    return text


def _packed_lines(lines: Sequence[str], sections: int = 2, size: int = 2900) -> tuple[list[Block], int]:
    """Lines packed into at most ``sections`` sections; returns the blocks and how many fit."""
    out: list[list[str]] = [[]]
    used = 0
    shown = 0
    for line in lines:
        line = clip(line, size)
        if used + len(line) + 1 > size:
            if len(out) >= sections:
                break
            out.append([])
            used = 0
        out[-1].append(line)
        used += len(line) + 1
        shown += 1
    return [section("\n".join(chunk)) for chunk in out if chunk], shown


def _intro_blocks() -> list[Block]:
    """What pipebot is, and the buttons that create an agent or a pipeline."""
    return [
        HeaderBlock(text="pipebot"),
        section(
            f"Run AI agents and pipelines right here in Slack. `{COMMAND} help` lists every command; "
            "results land in a thread with a link to the full artifact."
        ),
        ActionsBlock(
            block_id="home_new",
            elements=[
                button("New agent", HOME_NEW_AGENT, value="new"),
                button("New pipeline", HOME_NEW_PIPELINE, value="new"),
            ],
        ),
    ]


def _pipeline_blocks(pipelines: Sequence[Any], orphans: Mapping[int, set[int]], room: int) -> list[Block]:
    """Each pipeline with Run/Edit (two blocks each, at most ``room`` pipelines), and how many
    are left out."""
    blocks: list[Block] = []
    shown = list(pipelines)[: min(HOME_PIPELINES_MAX, room)]
    for p in shown:
        positions = orphans.get(p.id, set())
        blocks.append(section(_pipeline_home_text(p, positions)))
        blocks.append(
            ActionsBlock(
                block_id=f"pipeline_{p.id}",
                elements=[
                    button("Run…", HOME_RUN_PIPELINE, value=str(p.id), style=None if positions else "primary"),
                    button("Edit", HOME_EDIT_PIPELINE, value=str(p.id)),
                ],
            )
        )
    if len(pipelines) > len(shown):
        blocks.append(context(f"…and {len(pipelines) - len(shown)} more: `{COMMAND} pipelines` lists them all."))
    return blocks


def _agent_blocks(agents: Sequence[Any]) -> list[Block]:
    """The agents packed into a few sections, and how many did not fit."""
    if not agents:
        return [section(f"No agents yet. Create one with `{COMMAND} agent new`.")]
    lines = [f"*{escape_mrkdwn(a.name)}* — {escape_mrkdwn(model_label(a.model))}" for a in agents]
    blocks, fit = _packed_lines(lines)
    if fit < len(lines):
        blocks.append(context(f"…and {len(lines) - fit} more: `{COMMAND} agents` lists them all."))
    return blocks


def _run_blocks(
    runs: Sequence[Any],
    artifact_ids: Mapping[Any, Any],
    artifact_versions: Mapping[Any, int],
    room: int,
    deleted: Collection[Any] = (),
) -> list[Block]:
    """The recent runs in at most ``room`` blocks: a run in flight with Cancel, a finished one
    with View and the lifecycle buttons of its artifact's latest version."""
    blocks: list[Block] = []
    for run in list(runs)[:HOME_RUNS_MAX]:
        if len(blocks) + 2 > room:
            break
        emoji = STATUS_EMOJI.get(run.status, "•")
        line = (
            f"{emoji} {name_md(run.pipeline_name)} · {slack_date(run.created_at)} · {status_words(run.status)}"
            f" · {format_cost(run.cost_usd)}"
        )
        if run.requested_by:
            line += f" · <@{run.requested_by}>"
        gone = run.id in deleted  # a deleted result: nothing of its text is shown
        line += f"\n> {DELETED_MARK}" if gone else f"\n> {preview(run.input, 120)}"
        art = artifact_ids.get(run.id)
        if run.status in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING):
            blocks.append(section(line, accessory=cancel_button(str(run.id))))
            continue
        blocks.append(section(line, accessory=button("View", VIEW_ARTIFACT, value=str(art)) if art else None))
        if art and not gone:
            version = artifact_versions.get(run.id, 1)
            blocks.append(
                ActionsBlock(
                    block_id=f"run_{run.id}",
                    elements=lifecycle_buttons(art, version, edit=run.status == RunStatus.SUCCEEDED),
                )
            )
    return blocks


def home_view(
    agents: Sequence[Any],
    pipelines: Sequence[Any],
    orphans: Mapping[int, set[int]],
    runs: Sequence[Any],
    artifact_ids: Mapping[Any, Any],
    artifact_versions: Mapping[Any, int] | None = None,
    deleted: Collection[Any] = (),
    schedules: Sequence[Any] | None = None,
) -> View:
    """The App Home tab: pipelines (⚠️ when orphaned) with Run/Edit, agents, recent runs with
    View, *Edit*, *Re-run from…* and *Compare*.

    ``orphans``: pipeline id → positions whose agent was deleted; ``artifact_ids``: run id →
    artifact id; ``artifact_versions``: run id → its artifact's latest version (1 if absent);
    ``deleted``: run ids whose result was deleted (listed as deleted, with View only).
    Never more than 100 blocks: lists are capped and say how many are left out.
    """
    blocks: list[Block] = [*_intro_blocks(), DividerBlock(), HeaderBlock(text=f"Pipelines ({len(pipelines)})")]
    # agents header/sections/context, runs header, runs with their buttons, notes
    tail_reserve = 6 + 1 + 2 * HOME_RUNS_MAX + 2 + (3 if schedules is not None else 0)
    if not pipelines:
        blocks.append(section(f"No pipelines yet. Chain agents into one with `{COMMAND} pipeline new`."))
    room = max(0, (VIEW_BLOCKS_LIMIT - len(blocks) - tail_reserve - 1) // 2)
    blocks += _pipeline_blocks(pipelines, orphans, room)
    blocks += [DividerBlock(), HeaderBlock(text=f"Agents ({len(agents)})"), *_agent_blocks(agents)]
    if schedules is not None:  # DESIGN §13: a short section; `/pipebot schedules` changes them
        blocks += [DividerBlock(), HeaderBlock(text=f"Schedules ({len(schedules)})"), section(home_lines(schedules))]
    blocks += [DividerBlock(), HeaderBlock(text="Recent runs")]
    if not runs:
        blocks.append(section(f"No runs yet. Try `{COMMAND} run NAME your input…` in a channel."))
    blocks += _run_blocks(runs, artifact_ids, artifact_versions or {}, VIEW_BLOCKS_LIMIT - len(blocks), deleted)
    return View(type="home", blocks=blocks[:VIEW_BLOCKS_LIMIT])

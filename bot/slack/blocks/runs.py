"""Block Kit for runs: the message that opens a run's thread, its progress, its final
result, and the run modal (message shortcut, App Home's "Run…").

Pure builders. Model output is untrusted: in mrkdwn it goes through ``escape_mrkdwn``, in
markdown blocks through ``safe_markdown``; nothing is sent that Slack would reject (text
is cut at a clean boundary with a link to the full artifact, and the blocks are measured
against the ~13k characters Slack accepts in practice).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    CheckboxesElement,
    ConversationFilter,
    ConversationSelectElement,
    InputBlock,
    MarkdownBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.blocks.artifact_buttons import feedback_block, lifecycle_buttons
from bot.slack.blocks.artifacts import OPEN_ARTIFACT_LINK
from bot.slack.blocks.common import (
    STATUS_EMOJI,
    blocks_size,
    button,
    context,
    fit_markdown,
    form_modal,
    link,
    model_label,  # noqa: F401 - the reporter reads it from here
    models_text,
    name_md,
    one_line,
    preview,
    safe_markdown,
    section,
)
from bot.slack.blocks.limits import (
    MARKDOWN_BLOCK_BUDGET,
    MESSAGE_BLOCKS_JSON_BUDGET,
    OPTION_TEXT_LIMIT,
    PLAIN_TEXT_INPUT_LIMIT,
    PRACTICAL_MESSAGE_LIMIT,
    SECTION_TEXT_LIMIT,
    SELECT_OPTIONS_LIMIT,
    TASK_TEXT_LIMIT,
    TASK_TITLE_LIMIT,
)
from bot.slack.blocks.origin import origin_line
from bot.slack.text import clip, escape_mrkdwn, fit_message
from core.formatting import format_cost, format_duration, format_tokens
from core.messages import COMMAND, status_words
from core.runs.cancel_watch import KIND as CANCELLED
from core.runs.cancel_watch import cancelled_message
from storage.states import RunStatus

MESSAGE_SHORTCUT = "run_on_message"  # manifest: message shortcut callback_id
RUN_MODAL_CALLBACK = "pipebot_run_modal"  # the pick-a-pipeline modal (shortcut and Home)
PIPELINE_BLOCK = "pipeline"
INPUT_BLOCK = "input"
CHANNEL_BLOCK = "channel"
EXTRA_BLOCK = "extra"  # the message shortcut's "Extra instructions"
THREAD_BLOCK = "thread"  # the message shortcut's "Include the thread"
INCLUDE_THREAD = "include_thread"  # that checkbox's option value
EXTRA_LABEL = "Extra instructions"
FIELD = "value"  # action_id of every input in the run modal
#: Marks pipebot's result messages (the footer's block id, and the message metadata's event
#: type), so a thread read as a run's context keeps them and leaves out progress and status.
RESULT_MARK = "pipebot_result"
RUN_CANCEL = "run_cancel"  # the Cancel button (value: the run id), message and Home
CANCEL_LABEL = "Cancel"
WAITING_IN_THREAD = "The approval and what it waits on are in the thread 🧵"
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")


def queued_text(ahead: int) -> str:
    """How a queued run says where it is in the queue (see core.runs.cancel for what N counts;
    a run waiting for approval holds no place in it)."""
    return f"Queued: {ahead} run{'' if ahead == 1 else 's'} ahead"


def mention(user_id: str | None) -> str | None:
    """``<@U…>`` for a Slack user id; None for anything else (``cli``, nothing)."""
    return f"<@{user_id}>" if user_id and _USER_ID.match(user_id) else None


def failure_reason_md(
    reason: str | None, error_kind: str | None = None, cancelled_by: str | None = None, limit: int = 300
) -> str:
    """A failed run's reason for mrkdwn: escaped, except that a cancelled run names who
    cancelled it with a mention."""
    who = mention(cancelled_by) if error_kind == CANCELLED else None
    if who is not None:
        return cancelled_message(who)
    return preview(reason or "", limit)


def cancel_button(run_id: str) -> Any:
    return button(CANCEL_LABEL, RUN_CANCEL, value=run_id, style="danger")


# ---- the run's parent message in the channel ----------------------------------------------


def parent_message(
    pipeline_name: str,
    user_id: str | None,
    input_text: str,
    *,
    status: str = RunStatus.RUNNING,
    duration_ms: int | None = None,
    cost: Decimal | None = None,
    permalink: str | None = None,
    reason: str | None = None,
    in_thread: bool = True,
    run_id: str | None = None,
    ahead: int | None = None,
    error_kind: str | None = None,
    cancelled_by: str | None = None,
    origin: Mapping[str, Any] | None = None,
) -> tuple[str, list[Block]]:
    """The message that opens the run's thread; "Queued: N runs ahead" while it waits, then
    running (or waiting for approval, DESIGN §12), then ✅/❌ when the run ends. A queued,
    running or waiting run with a ``run_id`` has a Cancel button (Cancel works while waiting).

    ``status``: queued (``ahead`` runs before it) | running | waiting | succeeded | failed |
    rejected (the run could not start). ``origin``: what started a run nobody typed (its line
    comes from bot/slack/blocks/origin.py).
    """
    who = f" for <@{user_id}>" if user_id else ""
    name = name_md(pipeline_name)
    if status == RunStatus.SUCCEEDED:
        head = f"✅ {name}{who} finished in {format_duration(duration_ms)} · {format_cost(cost)}"
    elif status == RunStatus.FAILED:
        head = f"❌ {name}{who} failed"
        if reason:
            head += f": {failure_reason_md(reason, error_kind, cancelled_by)}"
    elif status == "rejected":
        head = f"❌ {name}{who} could not start"
        if reason:
            head += f": {preview(reason, 300)}"
    elif status == RunStatus.QUEUED:
        head = f"⏳ {queued_text(ahead or 0)} · {name}{who}"
    elif status == RunStatus.WAITING:
        head = f"{STATUS_EMOJI[RunStatus.WAITING]} {name}{who} is {status_words(status)}"
    else:
        head = f"⏳ Running {name}{who}…"
    if permalink:
        head += f" · {link(permalink, 'artifact')}"
    blocks: list[Block] = [section(head)]
    note = f"> {preview(input_text)}" if input_text.strip() or not origin else ""
    if started_by := origin_line(origin):  # a self-started run names where it came from
        note = f"{started_by}\n{note}".rstrip()
    if status == RunStatus.WAITING and in_thread:
        note += f"\n{WAITING_IN_THREAD}"
    elif status in (RunStatus.RUNNING, RunStatus.QUEUED) and in_thread:
        note += "\nProgress and results in the thread 🧵"
    blocks.append(context(note))
    if status in (RunStatus.RUNNING, RunStatus.QUEUED, RunStatus.WAITING) and run_id:
        blocks.append(ActionsBlock(block_id="run_actions", elements=[cancel_button(run_id)]))
    fallback = re.sub(r"<([^|>]+)\|([^>]+)>", r"\2", head)  # notifications show labels, not URLs
    return clip(fallback, SECTION_TEXT_LIMIT), blocks


# ---- progress: task chunks (streaming) and the chat.update fallback ----------------------


@dataclass
class StepView:
    """What the thread shows for one step."""

    position: int
    agent_name: str
    model_display: str
    status: str = "pending"  # pending | in_progress | complete | error
    note: str = ""  # stats when complete, the reason on error


def task_title(step: StepView) -> str:
    model = f" · {step.model_display}" if step.model_display else ""
    return clip(f"Step {step.position} · {one_line(step.agent_name, 80)}{model}", TASK_TITLE_LIMIT)


def step_stats(input_tokens: int, output_tokens: int, cost: Decimal | None, latency_ms: int) -> str:
    return (
        f"{format_tokens(input_tokens)} → {format_tokens(output_tokens)} tokens · {format_cost(cost)} · "
        f"{format_duration(latency_ms)}"
    )


def task_chunk(step: StepView) -> Any:
    """A TaskUpdateChunk for chat.startStream/appendStream/stopStream."""
    from slack_sdk.models.messages.chunk import TaskUpdateChunk

    output = clip(one_line(step.note, TASK_TEXT_LIMIT), TASK_TEXT_LIMIT) if step.note else None
    return TaskUpdateChunk(id=f"step-{step.position}", title=task_title(step), status=step.status, output=output)


@dataclass
class ToolTaskView:
    """What the thread shows for one tool call (DESIGN §12): a task of the plan, updated in
    place by ``call_id`` (core.reporter.ToolCallView says when it starts and ends)."""

    call_id: str
    position: int  # the step making the call
    label: str  # "Web search", "Tickets · lookup_ticket"
    detail: str = ""  # the query, the URL (untrusted: the model wrote it)
    status: str = "in_progress"  # pending | in_progress | complete | error
    note: str = ""  # the error, or why it waits


#: A tool call's status (core.reporter.ToolCallView.status) as a plan task's: Slack has no
#: "waiting", and a call waiting for Allow / Deny has not run yet.
TOOL_TASK_STATUS = {"running": "in_progress", "done": "complete", "error": "error", "waiting": "pending"}
TOOL_WAITING_NOTE = "Waiting for Allow / Deny"


def tool_task_title(task: ToolTaskView) -> str:
    """ "Web search: pizza near me" / "Tickets · lookup_ticket": plain text, mentions defused."""
    label = one_line(task.label, 80) or "Tool"
    detail = one_line(task.detail, TASK_TITLE_LIMIT) if task.detail else ""
    return clip(safe_markdown(f"{label}: {detail}" if detail else label), TASK_TITLE_LIMIT)


def tool_task_chunk(task: ToolTaskView) -> Any:
    """A TaskUpdateChunk for a tool call (id ``tool-<call_id>``, apart from the steps' ids)."""
    from slack_sdk.models.messages.chunk import TaskUpdateChunk

    note = clip(safe_markdown(one_line(task.note, TASK_TEXT_LIMIT)), TASK_TEXT_LIMIT) if task.note else None
    return TaskUpdateChunk(
        id=f"tool-{task.call_id[:100]}", title=tool_task_title(task), status=task.status, output=note
    )


def plan_title(pipeline_name: str, steps: int) -> str:
    return clip(f"{one_line(pipeline_name, 80)} · {steps} step{'s' if steps != 1 else ''}", TASK_TITLE_LIMIT)


_STEP_ICON = {"pending": "◻️", "in_progress": "⏳", "complete": "✅", "error": "❌"}


#: Tool calls listed under a step in the chat.update fallback (the latest; the rest counted).
TOOL_LINES_PER_STEP = 5


def _tool_lines(tools: Sequence[ToolTaskView]) -> list[str]:
    shown = list(tools)[-TOOL_LINES_PER_STEP:]
    lines = []
    if len(tools) > len(shown):
        lines.append(f"      ↳ …{len(tools) - len(shown)} earlier tool calls")
    for t in shown:
        line = f"      ↳ {_STEP_ICON.get(t.status, '◻️')} {escape_mrkdwn(tool_task_title(t))}"
        if t.note:
            line += f" — {escape_mrkdwn(one_line(t.note, TASK_TEXT_LIMIT))}"
        lines.append(line)
    return lines


def progress_message(
    pipeline_name: str,
    steps: Sequence[StepView],
    *,
    finished: str | None = None,
    tools: Sequence[ToolTaskView] = (),
) -> tuple[str, list[Block]]:
    """The progress reply used when chat streaming is not available (edited with chat.update);
    each step's tool calls are lines under it."""
    done = sum(1 for st in steps if st.status == "complete")
    if finished == RunStatus.SUCCEEDED:
        head = f"✅ {name_md(pipeline_name)}: all {len(steps)} steps done"
    elif finished == RunStatus.FAILED:
        head = f"❌ {name_md(pipeline_name)}: stopped after {done} of {len(steps)} steps"
    else:
        head = f"⏳ {name_md(pipeline_name)}: step {min(done + 1, len(steps))} of {len(steps)}"
    lines = []
    for st in steps:
        line = f"{_STEP_ICON.get(st.status, '◻️')} {escape_mrkdwn(task_title(st))}"
        if st.note:
            line += f" — {escape_mrkdwn(one_line(st.note, TASK_TEXT_LIMIT))}"
        elif st.status == "in_progress":
            line += " — running…"
        lines.append(line)
        lines += _tool_lines([t for t in tools if t.position == st.position])
    body = clip("\n".join(lines), SECTION_TEXT_LIMIT) or "no steps"
    return clip(re.sub(r"[*]", "", head), SECTION_TEXT_LIMIT), [section(head), section(body)]


# ---- the final message in the thread -----------------------------------------------------


def _footer(outcome: Any, permalink: str | None) -> str:
    parts = [f"{format_duration(outcome.duration_ms)}", format_cost(outcome.cost_usd), models_text(outcome.models)]
    if permalink:
        parts.append(link(permalink, "artifact"))
    return " · ".join(parts)


def final_message(
    pipeline_name: str, outcome: Any, permalink: str | None = None, budget: int = MESSAGE_BLOCKS_JSON_BUDGET
) -> tuple[str, list[Block]]:
    """The run's result for its thread (``outcome``: core.reporter.RunOutcome).

    Success: the output in a markdown block (Slack renders the model's Markdown), cut
    cleanly to fit with "full output:" and the permalink, then cost, models and time, the
    buttons (*Open artifact*, *Edit*, *Re-run from…*, *Compare*) and 👍/👎.
    Failure: the reason (already written for people), the same footer, and the buttons
    but *Edit* and the feedback (there is no result to edit or rate).
    """
    permalink = permalink or getattr(outcome, "permalink", None)
    footer = context(_footer(outcome, permalink))
    footer.block_id = RESULT_MARK
    succeeded = outcome.status == RunStatus.SUCCEEDED
    artifact_id = getattr(outcome, "artifact_id", None)
    elements = [button("Open artifact", OPEN_ARTIFACT_LINK, url=permalink)] if permalink else []
    if artifact_id:  # version 1 is what this run produced; Edit needs an output to edit
        elements += lifecycle_buttons(artifact_id, 1, edit=succeeded)
    tail: list[Block] = [footer] + ([ActionsBlock(elements=elements)] if elements else [])
    if artifact_id and succeeded:
        tail.append(feedback_block(artifact_id, 1))
    if not succeeded:
        cancelled_by = mention(getattr(outcome, "cancelled_by", None)) if outcome.error_kind == CANCELLED else None
        reason = (
            cancelled_message(cancelled_by)
            if cancelled_by
            else escape_mrkdwn(outcome.error_message or "The run failed.")
        )
        body = section(f"❌ {name_md(pipeline_name)} failed\n{clip(reason, 2800)}")
        text = f"❌ {escape_mrkdwn(pipeline_name)} failed: {preview(outcome.error_message or '', 300)}"
        return text, [body, *tail]
    output = (outcome.output or "").strip()
    text = f"✅ {escape_mrkdwn(pipeline_name)}: {preview(output, 300) or 'no output'}"
    if not output:
        return text, [section(f"✅ {name_md(pipeline_name)} finished, but the last step returned no text."), *tail]
    md = safe_markdown(output)
    limit = MARKDOWN_BLOCK_BUDGET
    while True:
        body_md = fit_markdown(md, permalink, limit)
        blocks: list[Block] = [MarkdownBlock(text=body_md), *tail]
        over = blocks_size(blocks) - budget
        if over <= 0 or limit <= 500:
            return text, blocks
        # JSON escapes (\n, \", non-BMP) make the payload longer than the text: shrink by the excess
        limit = max(500, min(limit - over - 50, len(body_md) - over - 50))


def final_text_only(pipeline_name: str, outcome: Any, permalink: str | None = None) -> str:
    """A plain mrkdwn version of :func:`final_message` for when Slack refuses the blocks."""
    permalink = permalink or getattr(outcome, "permalink", None)
    if outcome.status == RunStatus.SUCCEEDED:
        body = escape_mrkdwn((outcome.output or "").strip() or "(no output)")
        head = f"✅ {name_md(pipeline_name)}\n"
    else:
        body = escape_mrkdwn(outcome.error_message or "The run failed.")
        head = f"❌ {name_md(pipeline_name)} failed\n"
    footer = "\n" + _footer(outcome, permalink)
    room = PRACTICAL_MESSAGE_LIMIT - len(head) - len(footer)
    return head + fit_message(body, permalink, room) + footer


# ---- the run modal (message shortcut and Home "Run") --------------------------------------


def _pipeline_option(pipeline: Any, orphaned: bool) -> Option:
    label = ("⚠️ " if orphaned else "") + one_line(pipeline.name, 70)
    return Option(value=str(pipeline.id), text=clip(label, OPTION_TEXT_LIMIT))


def _pipeline_field(pipelines: Sequence[Any], orphaned_ids: set[int], selected_id: int | None) -> InputBlock:
    """The pipeline select: at most 100 options, the selected one always among them."""
    ordered = list(pipelines)
    if selected_id is not None:  # the chosen one must be among the 100 shown
        ordered.sort(key=lambda p: p.id != selected_id)
    shown = ordered[:SELECT_OPTIONS_LIMIT]
    options = [_pipeline_option(p, p.id in orphaned_ids) for p in shown]
    initial = next((o for o, p in zip(options, shown, strict=True) if p.id == selected_id), None)
    return InputBlock(
        block_id=PIPELINE_BLOCK,
        label="Pipeline",
        element=StaticSelectElement(
            action_id=FIELD, placeholder="Pick a pipeline", options=options, initial_option=initial
        ),
        hint=(
            f"Showing {SELECT_OPTIONS_LIMIT} of {len(ordered)}; `{COMMAND} run NAME …` runs any of them."
            if len(ordered) > SELECT_OPTIONS_LIMIT
            else None
        ),
    )


def _message_fields(offer_thread: bool) -> list[Block]:
    extra: list[Block] = [
        InputBlock(
            block_id=EXTRA_BLOCK,
            label=EXTRA_LABEL,
            optional=True,
            element=PlainTextInputElement(
                action_id=FIELD,
                multiline=True,
                max_length=PLAIN_TEXT_INPUT_LIMIT,
                placeholder="Anything the pipeline should know or do this time",
            ),
        )
    ]
    if not offer_thread:
        return extra
    return [
        *extra,
        InputBlock(
            block_id=THREAD_BLOCK,
            label="Thread",
            optional=True,
            element=CheckboxesElement(
                action_id=FIELD,
                options=[
                    Option(
                        value=INCLUDE_THREAD,
                        text="Include the thread",
                        description="The thread's earlier messages reach the first step as context",
                    )
                ],
            ),
        ),
    ]


def with_extra_instructions(input_text: str, extra: str) -> str:
    """The run's input with the shortcut's extra instructions appended, labelled as such."""
    extra = extra.strip()
    if not extra:
        return input_text
    return f"{input_text.rstrip()}\n\n{EXTRA_LABEL}:\n{extra}" if input_text.strip() else f"{EXTRA_LABEL}:\n{extra}"


def run_modal(
    pipelines: Sequence[Any],
    orphaned_ids: set[int],
    *,
    metadata: str,
    selected_id: int | None = None,
    input_text: str | None = None,
    input_editable: bool = True,
    input_note: str | None = None,
    pick_channel: bool = False,
    file_names: Sequence[str] = (),
    from_message: bool = False,
    offer_thread: bool = False,
) -> View:
    """Pick a pipeline (≤ 100 options) and confirm the input; ``metadata`` says where results go.

    From the message shortcut (``from_message``) it also lists the message's files (the input
    may then be empty), takes optional **Extra instructions** and, for a message in a thread
    (``offer_thread``), offers **Include the thread**."""
    blocks: list[Block] = [_pipeline_field(pipelines, orphaned_ids, selected_id)]
    if input_editable:
        blocks.append(
            InputBlock(
                block_id=INPUT_BLOCK,
                label="Input",
                optional=bool(file_names) or from_message,
                element=PlainTextInputElement(
                    action_id=FIELD,
                    multiline=True,
                    max_length=PLAIN_TEXT_INPUT_LIMIT,
                    initial_value=input_text or None,
                    placeholder="What should the pipeline work on?",
                ),
            )
        )
    if input_note:
        blocks.append(context(input_note))
    if file_names:
        shown = ", ".join(escape_mrkdwn(one_line(n, 80)) for n in file_names)
        blocks.append(context(f"*Files:* {shown}"))
    if from_message:
        blocks += _message_fields(offer_thread)
    if pick_channel:
        blocks.append(
            InputBlock(
                block_id=CHANNEL_BLOCK,
                label="Post results in",
                optional=True,
                element=ConversationSelectElement(
                    action_id=FIELD,
                    placeholder="A channel (empty: a DM from pipebot)",
                    filter=ConversationFilter(include=["public", "private"], exclude_bot_users=True),
                ),
                hint="Leave it empty to get the results in a direct message from pipebot.",
            )
        )
    return form_modal(RUN_MODAL_CALLBACK, "Run a pipeline", "Run", metadata, blocks)

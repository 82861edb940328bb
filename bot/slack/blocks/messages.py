"""Block Kit for runs, artifacts and the App Home tab: pure builders, no network, no database.

Why a module of its own: every surface that shows a run (the channel message, the thread,
the artifact list, the artifact modal, the Home tab) must respect the same Slack limits
and treat model output the same way, and pure functions can be tested against those
limits without Slack.

Two rules hold everywhere here:

* Model output and user-typed names are untrusted. In ``mrkdwn`` they go through
  :func:`bot.slack.text.escape_mrkdwn`; in ``markdown`` blocks and streamed markdown
  (standard Markdown, so entity-escaping would show up literally inside code) Slack's
  control sequences ``<!channel>``, ``<@U…>``, ``<#C…>`` are defused by
  :func:`safe_markdown` instead.
* Nothing is sent that Slack would reject: text is cut at a clean boundary with a link
  to the full artifact, and message blocks are measured against the ~13k-character
  limit Slack enforces in practice (``msg_blocks_too_long``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    ConversationFilter,
    ConversationSelectElement,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.text import (
    ELLIPSIS,
    PRACTICAL_MESSAGE_LIMIT,
    SECTION_TEXT_LIMIT,
    clip,
    escape_mrkdwn,
    fit_message,
    split_for_stream,
    truncate_at_boundary,
)
from core.formatting import format_cost, format_datetime, format_duration, format_tokens

# ---- ids shared with the listeners (and, for home_edit_pipeline, with bot/slack_commands) ----
MESSAGE_SHORTCUT = "run_on_message"          # manifest: message shortcut callback_id
RUN_MODAL_CALLBACK = "pipebot_run_modal"     # the pick-a-pipeline modal (shortcut and Home)
ARTIFACT_MODAL_CALLBACK = "pipebot_artifact"
VIEW_ARTIFACT = "artifact_view"              # button value: the artifact id
ARTIFACTS_PAGE = "artifacts_page"            # button value: {"p": pipeline id | null, "o": offset}
HOME_RUN_PIPELINE = "home_run_pipeline"      # button value: the pipeline id
HOME_EDIT_PIPELINE = "home_edit_pipeline"    # button value: the pipeline id
HOME_NEW_AGENT = "home_new_agent"
HOME_NEW_PIPELINE = "home_new_pipeline"
OPEN_ARTIFACT_LINK = "artifact_open_link"    # URL buttons still send an action; it is only acked

PIPELINE_BLOCK = "pipeline"
INPUT_BLOCK = "input"
CHANNEL_BLOCK = "channel"
FIELD = "value"  # action_id of every input in the run modal

# ---- limits (DESIGN §5 / NOTES) -------------------------------------------------------------
MESSAGE_BLOCKS_JSON_BUDGET = 12_000   # Slack rejects ~13k of blocks JSON; keep a margin
MARKDOWN_BLOCK_BUDGET = 11_000        # markdown blocks: 12,000 cumulative per message
MODAL_INPUT_MAX = 3000                # plain_text_input.max_length
MODAL_OUTPUT_BUDGET = 8_700           # artifact modal: three sections of ≤ 2,900
VIEW_BLOCKS_MAX = 100
OPTIONS_MAX = 100
TASK_TEXT_MAX = 256                   # task_update details/output
HOME_PIPELINES_MAX = 20
HOME_RUNS_MAX = 10
PREVIEW_CHARS = 200

ZWSP = "\u200b"
_CONTROL = re.compile(r"<(?=[@#!])")
_SPACES = re.compile(r"\s+")

STATUS_EMOJI = {"queued": "⏳", "running": "⏳", "succeeded": "✅", "failed": "❌"}


# ---- text helpers -------------------------------------------------------------------------------

def safe_markdown(text: str) -> str:
    """Standard-Markdown text with Slack's mention syntax defused.

    Why not escape_mrkdwn: markdown blocks and streamed markdown follow Markdown rules,
    where ``&lt;`` inside a code block may show literally. A zero-width space after
    ``<`` keeps ``<!channel>``/``<@U1>``/``<#C1>`` from pinging or linking while the text
    reads exactly the same.
    """
    return _CONTROL.sub("<" + ZWSP, text)


def one_line(text: str, limit: int = PREVIEW_CHARS) -> str:
    """Whitespace collapsed and cut at a word with an ellipsis (not escaped)."""
    return clip(_SPACES.sub(" ", text or "").strip(), limit)


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """A one-line, mrkdwn-escaped preview of untrusted text."""
    return escape_mrkdwn(one_line(text, limit))


def name_md(name: str) -> str:
    """A user-chosen name in bold, escaped for mrkdwn."""
    return f"*{escape_mrkdwn(name)}*"


def model_label(ref: str | None) -> str:
    """The catalog's display name for a model ref ("Claude Haiku 4.5"), else the ref."""
    if not ref:
        return "no model"
    try:
        from providers import catalog

        info = catalog.lookup(ref)
    except Exception:  # noqa: BLE001 - an unknown ref is shown as typed
        info = None
    return info.display_name if info else ref


def models_text(models: Sequence[str]) -> str:
    labels = list(dict.fromkeys(model_label(m) for m in models if m))
    return ", ".join(labels) if labels else "no model called"


def slack_date(when: datetime | None) -> str:
    """``<!date^…>``: Slack shows it in each reader's own time zone."""
    if when is None:
        return "unknown date"
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{format_datetime(when)}>"


def link(url: str | None, label: str) -> str:
    """An mrkdwn link; nothing when there is no URL."""
    if not url:
        return ""
    return f"<{escape_mrkdwn(url).replace('|', '%7C')}|{escape_mrkdwn(label)}>"


def blocks_size(blocks: Sequence[Block | Mapping[str, Any]]) -> int:
    """Characters of the blocks' JSON, as Slack counts them for ``msg_blocks_too_long``."""
    return len(json.dumps([b.to_dict() if isinstance(b, Block) else b for b in blocks], ensure_ascii=False))


def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


def _section(text: str, accessory: Any = None) -> SectionBlock:
    return SectionBlock(text=_md(clip(text, SECTION_TEXT_LIMIT)), accessory=accessory)


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[_md(clip(text, SECTION_TEXT_LIMIT))])


def _button(text: str, action_id: str, *, value: str | None = None, url: str | None = None,
            style: str | None = None) -> ButtonElement:
    return ButtonElement(text=clip(text, 24), action_id=action_id, value=value, url=url, style=style)


def fit_markdown(text: str, url: str | None, limit: int) -> str:
    """Standard-Markdown ``text`` in at most ``limit`` characters: cut at a clean boundary
    with ``full output: [open the artifact](url)`` when it does not fit; an open code
    fence is closed so the link does not render as code."""
    if len(text) <= limit:
        return text
    tail = f"{ELLIPSIS}\n\nfull output: [open the artifact]({url})" if url else ELLIPSIS
    room = limit - len(tail)
    head = truncate_at_boundary(text, room)
    if head.count("```") % 2 == 1:
        closing = "\n```\n"  # on its own line, so Markdown sees the fence close
        head = truncate_at_boundary(text, room - len(closing))
        if head.count("```") % 2 == 1:
            head += closing
    return head + tail


# ---- the run's parent message in the channel -------------------------------------------------

def parent_message(pipeline_name: str, user_id: str | None, input_text: str, *, status: str = "running",
                   duration_ms: int | None = None, cost: Decimal | None = None, permalink: str | None = None,
                   reason: str | None = None, in_thread: bool = True) -> tuple[str, list[Block]]:
    """The message that opens the run's thread; updated to ✅/❌ when the run ends.

    ``status``: running | succeeded | failed | rejected (the run could not start).
    """
    who = f" for <@{user_id}>" if user_id else ""
    name = name_md(pipeline_name)
    if status == "succeeded":
        head = f"✅ {name}{who} finished in {format_duration(duration_ms)} · {format_cost(cost)}"
    elif status == "failed":
        head = f"❌ {name}{who} failed"
        if reason:
            head += f": {preview(reason, 300)}"
    elif status == "rejected":
        head = f"❌ {name}{who} could not start"
        if reason:
            head += f": {preview(reason, 300)}"
    else:
        head = f"⏳ Running {name}{who}…"
    if permalink:
        head += f" · {link(permalink, 'artifact')}"
    blocks: list[Block] = [_section(head)]
    note = f"> {preview(input_text)}"
    if status == "running" and in_thread:
        note += "\nProgress and results in the thread 🧵"
    blocks.append(_context(note))
    fallback = re.sub(r"<([^|>]+)\|([^>]+)>", r"\2", head)  # notifications show labels, not URLs
    return clip(fallback, 3000), blocks


# ---- progress: task chunks (streaming) and the chat.update fallback ---------------------------

@dataclass
class StepView:
    """What the thread shows for one step."""

    position: int
    agent_name: str
    model_display: str
    status: str = "pending"  # pending | in_progress | complete | error
    note: str = ""           # stats when complete, the reason on error


def task_title(step: StepView) -> str:
    model = f" · {step.model_display}" if step.model_display else ""
    return clip(f"Step {step.position} · {one_line(step.agent_name, 80)}{model}", 150)


def step_stats(input_tokens: int, output_tokens: int, cost: Decimal | None, latency_ms: int) -> str:
    return (f"{format_tokens(input_tokens)} → {format_tokens(output_tokens)} tokens · {format_cost(cost)} · "
            f"{format_duration(latency_ms)}")


def task_chunk(step: StepView) -> Any:
    """A TaskUpdateChunk for chat.startStream/appendStream/stopStream."""
    from slack_sdk.models.messages.chunk import TaskUpdateChunk

    output = clip(one_line(step.note, TASK_TEXT_MAX), TASK_TEXT_MAX) if step.note else None
    return TaskUpdateChunk(id=f"step-{step.position}", title=task_title(step), status=step.status,
                           output=output)


def plan_title(pipeline_name: str, steps: int) -> str:
    return clip(f"{one_line(pipeline_name, 80)} · {steps} step{'s' if steps != 1 else ''}", 150)


_STEP_ICON = {"pending": "◻️", "in_progress": "⏳", "complete": "✅", "error": "❌"}


def progress_message(pipeline_name: str, steps: Sequence[StepView], *, finished: str | None = None
                     ) -> tuple[str, list[Block]]:
    """The progress reply used when chat streaming is not available (edited with chat.update)."""
    done = sum(1 for st in steps if st.status == "complete")
    if finished == "succeeded":
        head = f"✅ {name_md(pipeline_name)}: all {len(steps)} steps done"
    elif finished == "failed":
        head = f"❌ {name_md(pipeline_name)}: stopped after {done} of {len(steps)} steps"
    else:
        head = f"⏳ {name_md(pipeline_name)}: step {min(done + 1, len(steps))} of {len(steps)}"
    lines = []
    for st in steps:
        line = f"{_STEP_ICON.get(st.status, '◻️')} {escape_mrkdwn(task_title(st))}"
        if st.note:
            line += f" — {escape_mrkdwn(one_line(st.note, TASK_TEXT_MAX))}"
        elif st.status == "in_progress":
            line += " — running…"
        lines.append(line)
    return clip(re.sub(r"[*]", "", head), 3000), [_section(head), _section("\n".join(lines) or "no steps")]


# ---- the final message in the thread ----------------------------------------------------------

def _footer(outcome: Any, permalink: str | None) -> str:
    parts = [f"{format_duration(outcome.duration_ms)}", format_cost(outcome.cost_usd), models_text(outcome.models)]
    if permalink:
        parts.append(link(permalink, "artifact"))
    return " · ".join(parts)


def final_message(pipeline_name: str, outcome: Any, permalink: str | None = None,
                  budget: int = MESSAGE_BLOCKS_JSON_BUDGET) -> tuple[str, list[Block]]:
    """The run's result for its thread (``outcome``: core.reporter.RunOutcome).

    Success: the output in a markdown block (Slack renders the model's Markdown), cut
    cleanly to fit with "full output:" and the permalink, then cost, models and time.
    Failure: the reason (already written for people) and the same footer.
    """
    permalink = permalink or getattr(outcome, "permalink", None)
    footer = _context(_footer(outcome, permalink))
    actions = ActionsBlock(elements=[_button("Open artifact", OPEN_ARTIFACT_LINK, url=permalink)]) if permalink else None
    tail = [footer] + ([actions] if actions else [])
    if outcome.status != "succeeded":
        reason = escape_mrkdwn(outcome.error_message or "The run failed.")
        body = _section(f"❌ {name_md(pipeline_name)} failed\n{clip(reason, 2800)}")
        text = f"❌ {escape_mrkdwn(pipeline_name)} failed: {preview(outcome.error_message or '', 300)}"
        return text, [body, *tail]
    output = (outcome.output or "").strip()
    text = f"✅ {escape_mrkdwn(pipeline_name)}: {preview(output, 300) or 'no output'}"
    if not output:
        return text, [_section(f"✅ {name_md(pipeline_name)} finished, but the last step returned no text."), *tail]
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
    if outcome.status == "succeeded":
        body = escape_mrkdwn((outcome.output or "").strip() or "(no output)")
        head = f"✅ {name_md(pipeline_name)}\n"
    else:
        body = escape_mrkdwn(outcome.error_message or "The run failed.")
        head = f"❌ {name_md(pipeline_name)} failed\n"
    footer = "\n" + _footer(outcome, permalink)
    room = PRACTICAL_MESSAGE_LIMIT - len(head) - len(footer)
    return head + fit_message(body, permalink, room) + footer


# ---- artifacts: list, modal ---------------------------------------------------------------------

def artifact_line(row: Any, permalink: str | None) -> str:
    """One artifact in a list: date, pipeline, status, cost, link."""
    emoji = STATUS_EMOJI.get(row.status, "•")
    parts = [f"{emoji} {name_md(row.pipeline_name)}", slack_date(row.created_at), row.status, format_cost(row.cost_usd)]
    line = " · ".join(parts)
    if permalink:
        line += f"\n{link(permalink, 'open the artifact')}"
    return line


def artifact_list_message(rows: Sequence[Any], permalink_for: Callable[[Any], str | None], *, title: str,
                          next_value: str | None = None, prev_value: str | None = None,
                          empty: str = "No artifacts yet.") -> tuple[str, list[Block]]:
    """`/pipebot artifacts`: each row with a View button; Previous/Next when there are more."""
    if not rows:
        return empty, [_section(empty)]
    blocks: list[Block] = [_section(title)]
    for row in rows:
        blocks.append(_section(artifact_line(row, permalink_for(row)),
                               accessory=_button("View", VIEW_ARTIFACT, value=str(row.id))))
    nav = []
    if prev_value:
        nav.append(_button("Previous page", ARTIFACTS_PAGE, value=prev_value))
    if next_value:
        nav.append(_button("Next page", ARTIFACTS_PAGE, value=next_value))
    if nav:
        blocks.append(ActionsBlock(block_id="artifacts_nav", elements=nav))
    return clip(re.sub(r"[*]", "", title), 3000), blocks


def artifact_modal(artifact: Any, permalink: str | None) -> View:
    """A view-only modal: what ran, what it cost, the output cut to Slack's limits with the link."""
    content = artifact.content or {}
    emoji = STATUS_EMOJI.get(artifact.status, "•")
    fields = [
        _md(f"*Pipeline*\n{escape_mrkdwn(artifact.pipeline_name)}"),
        _md(f"*Status*\n{emoji} {artifact.status}"),
        _md(f"*Date*\n{slack_date(artifact.created_at)}"),
        _md(f"*Cost*\n{format_cost(artifact.cost_usd)}"),
        _md(f"*Models*\n{escape_mrkdwn(models_text(artifact.models or []))}"),
        _md(f"*Time*\n{format_duration(content.get('duration_ms'))}"),
    ]
    if artifact.created_by:
        fields.append(_md(f"*Requested by*\n<@{artifact.created_by}>"))
    blocks: list[Block] = [SectionBlock(fields=fields)]
    if content.get("input"):
        blocks.append(_context(f"*Input:* {preview(content['input'], 500)}"))
    blocks.append(DividerBlock())
    if artifact.status == "failed":
        err = (content.get("error") or {}).get("message") or "The run failed."
        blocks.append(_section(f"❌ {escape_mrkdwn(err)}"))
    output = (content.get("output") or "").strip()
    if output:
        body = fit_message(escape_mrkdwn(output), permalink, MODAL_OUTPUT_BUDGET)
        for piece in split_for_stream(body, SECTION_TEXT_LIMIT - 100)[:3]:
            if piece.strip():
                blocks.append(_section(piece))
    elif artifact.status == "succeeded":
        blocks.append(_section("_The last step returned no text._"))
    step_lines = []
    for st in (content.get("steps") or [])[:10]:
        agent = (st.get("agent") or {}).get("name") or "?"
        icon = {"succeeded": "✅", "failed": "❌"}.get(st.get("status"), "◻️")
        step_lines.append(f"{icon} Step {st.get('position')} · {escape_mrkdwn(one_line(agent, 80))} · "
                          f"{escape_mrkdwn(st.get('model_display') or model_label(st.get('model')))} · "
                          f"{format_cost(st.get('cost_usd'))} · {format_duration(st.get('latency_ms'))}")
    if step_lines:
        blocks.append(_context("\n".join(step_lines)))
    if permalink:
        blocks.append(ActionsBlock(elements=[_button("Open full artifact", OPEN_ARTIFACT_LINK, url=permalink)]))
    return View(type="modal", callback_id=ARTIFACT_MODAL_CALLBACK, title=PlainTextObject(text="Run result"),
                close=PlainTextObject(text="Close"), blocks=blocks)


def info_modal(title: str, text: str) -> View:
    return View(type="modal", callback_id=ARTIFACT_MODAL_CALLBACK, title=PlainTextObject(text=clip(title, 24)),
                close=PlainTextObject(text="Close"), blocks=[_section(text)])


# ---- the run modal (message shortcut and Home "Run") -------------------------------------------

def _pipeline_option(pipeline: Any, orphaned: bool) -> Option:
    label = ("⚠️ " if orphaned else "") + one_line(pipeline.name, 70)
    return Option(value=str(pipeline.id), text=clip(label, 75))


def run_modal(pipelines: Sequence[Any], orphaned_ids: set[int], *, metadata: str,
              selected_id: int | None = None, input_text: str | None = None, input_editable: bool = True,
              input_note: str | None = None, pick_channel: bool = False) -> View:
    """Pick a pipeline (≤ 100 options) and confirm the input; ``metadata`` says where results go."""
    ordered = list(pipelines)
    if selected_id is not None:  # the chosen one must be among the 100 shown
        ordered.sort(key=lambda p: p.id != selected_id)
    shown = ordered[:OPTIONS_MAX]
    options = [_pipeline_option(p, p.id in orphaned_ids) for p in shown]
    initial = next((o for o, p in zip(options, shown) if p.id == selected_id), None)
    blocks: list[Block] = [InputBlock(
        block_id=PIPELINE_BLOCK, label="Pipeline",
        element=StaticSelectElement(action_id=FIELD, placeholder="Pick a pipeline", options=options,
                                    initial_option=initial),
        hint=(f"Showing {OPTIONS_MAX} of {len(ordered)}; `/pipebot run NAME …` runs any of them."
              if len(ordered) > OPTIONS_MAX else None),
    )]
    if input_editable:
        blocks.append(InputBlock(
            block_id=INPUT_BLOCK, label="Input",
            element=PlainTextInputElement(action_id=FIELD, multiline=True, max_length=MODAL_INPUT_MAX,
                                          initial_value=input_text or None,
                                          placeholder="What should the pipeline work on?"),
        ))
    if input_note:
        blocks.append(_context(input_note))
    if pick_channel:
        blocks.append(InputBlock(
            block_id=CHANNEL_BLOCK, label="Post results in", optional=True,
            element=ConversationSelectElement(action_id=FIELD, placeholder="A channel (empty: a DM from pipebot)",
                                              filter=ConversationFilter(include=["public", "private"],
                                                                        exclude_bot_users=True)),
            hint="Leave it empty to get the results in a direct message from pipebot.",
        ))
    return View(type="modal", callback_id=RUN_MODAL_CALLBACK, title=PlainTextObject(text="Run a pipeline"),
                submit=PlainTextObject(text="Run"), close=PlainTextObject(text="Cancel"),
                private_metadata=metadata, blocks=blocks)


# ---- App Home -------------------------------------------------------------------------------------

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
    return [_section("\n".join(chunk)) for chunk in out if chunk], shown


def home_view(agents: Sequence[Any], pipelines: Sequence[Any], orphans: Mapping[int, set[int]],
              runs: Sequence[Any], artifact_ids: Mapping[Any, Any]) -> View:
    """The App Home tab: pipelines (⚠️ when orphaned) with Run/Edit, agents, recent runs with View.

    ``orphans``: pipeline id → positions whose agent was deleted; ``artifact_ids``: run id →
    artifact id. Never more than 100 blocks: lists are capped and say how many are left out.
    """
    blocks: list[Block] = [
        HeaderBlock(text="pipebot"),
        _section("Run AI agents and pipelines right here in Slack. `/pipebot help` lists every command; "
                 "results land in a thread with a link to the full artifact."),
        ActionsBlock(block_id="home_new", elements=[_button("New agent", HOME_NEW_AGENT, value="new"),
                                                    _button("New pipeline", HOME_NEW_PIPELINE, value="new")]),
        DividerBlock(),
        HeaderBlock(text=f"Pipelines ({len(pipelines)})"),
    ]
    tail_reserve = 6 + 1 + HOME_RUNS_MAX + 2  # agents header/sections/context, runs header, runs, notes
    if not pipelines:
        blocks.append(_section("No pipelines yet. Chain agents into one with `/pipebot pipeline new`."))
    room = max(0, (VIEW_BLOCKS_MAX - len(blocks) - tail_reserve - 1) // 2)
    shown = list(pipelines)[:min(HOME_PIPELINES_MAX, room)]
    for p in shown:
        positions = orphans.get(p.id, set())
        blocks.append(_section(_pipeline_home_text(p, positions)))
        blocks.append(ActionsBlock(block_id=f"pipeline_{p.id}", elements=[
            _button("Run…", HOME_RUN_PIPELINE, value=str(p.id), style=None if positions else "primary"),
            _button("Edit", HOME_EDIT_PIPELINE, value=str(p.id)),
        ]))
    if len(pipelines) > len(shown):
        blocks.append(_context(f"…and {len(pipelines) - len(shown)} more: `/pipebot pipelines` lists them all."))
    blocks += [DividerBlock(), HeaderBlock(text=f"Agents ({len(agents)})")]
    if agents:
        lines = [f"*{escape_mrkdwn(a.name)}* — {escape_mrkdwn(model_label(a.model))}" for a in agents]
        packed, fit = _packed_lines(lines)
        blocks += packed
        if fit < len(lines):
            blocks.append(_context(f"…and {len(lines) - fit} more: `/pipebot agents` lists them all."))
    else:
        blocks.append(_section("No agents yet. Create one with `/pipebot agent new`."))
    blocks += [DividerBlock(), HeaderBlock(text="Recent runs")]
    if not runs:
        blocks.append(_section("No runs yet. Try `/pipebot run NAME your input…` in a channel."))
    for run in list(runs)[:HOME_RUNS_MAX]:
        if len(blocks) >= VIEW_BLOCKS_MAX:
            break
        emoji = STATUS_EMOJI.get(run.status, "•")
        line = (f"{emoji} {name_md(run.pipeline_name)} · {slack_date(run.created_at)} · {run.status}"
                f" · {format_cost(run.cost_usd)}")
        if run.requested_by:
            line += f" · <@{run.requested_by}>"
        line += f"\n> {preview(run.input, 120)}"
        art = artifact_ids.get(run.id)
        blocks.append(_section(line, accessory=_button("View", VIEW_ARTIFACT, value=str(art)) if art else None))
    return View(type="home", blocks=blocks[:VIEW_BLOCKS_MAX])

"""The artifact page's view-model: every value the template shows, already worded and bounded.

The template only lays values out; what a value says (labels, formatted money and time,
which links may appear, how much Markdown is rendered) is decided here, from the
:class:`~core.runs.artifact.Artifact`. Strings here are plain text that the template
escapes; the one exception is :attr:`OutputView.html`, the sanitised Markdown rendering.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.web.inputs_view import FileView, ThreadView, file_views, thread_view
from bot.web.markdown import MARKDOWN_PAGE_LIMIT, MarkdownBudget, render_bounded
from bot.web.present import (
    Status,
    agent_title,
    error_kind,
    pipeline_title,
    position,
    safe_href,
    size_text,
    status,
    temperature_text,
    usage_text,
)
from bot.web.tool_calls_view import ToolCallRow, tool_call_rows
from core.formatting import UNKNOWN, format_datetime, format_duration, format_tokens, format_usd, parse_datetime
from core.messages import deleted_by
from core.runs.artifact import Artifact, StepRecord, iso_text
from storage.states import StepStatus


@dataclass(frozen=True)
class ModelView:
    ref: str
    display: str

    @property
    def has_display(self) -> bool:
        """Show the display name with the ref beside it, or the ref alone."""
        return bool(self.display) and self.display != self.ref


@dataclass(frozen=True)
class OutputView:
    """One output: Markdown rendered up to the bounds, the rest as plain text."""

    empty: str  # what to say when there is no output
    html: str = ""  # sanitised HTML of the rendered head ("" if none)
    rest: str = ""  # the part past the bounds, shown as escaped plain text
    size: str = ""  # sizes for the note about a long output
    head_size: str = ""
    rest_size: str = ""
    download_href: str | None = None

    @property
    def is_empty(self) -> bool:
        return not self.html and not self.rest


@dataclass(frozen=True)
class ErrorView:
    kind: str
    message: str
    where: str = ""  # "At step 2 (Editor)" for a run's error


@dataclass(frozen=True)
class StepView:
    position: int
    name: str
    model: ModelView
    status: Status
    cost: str
    tokens: str
    latency: str
    temperature: str | None
    max_output: str | None
    error: ErrorView | None
    output: OutputView
    input: str
    system_prompt: str
    open: bool
    # The run's files this step's model got, and those it read as extracted text (by name).
    files: list[str] = field(default_factory=list)
    text_extracted_from: list[str] = field(default_factory=list)
    # The step's tool calls in the order made (bot/web/tool_calls_view.py).
    tool_calls: list[ToolCallRow] = field(default_factory=list)

    @property
    def facts(self) -> str:
        """The summary line under a collapsed step: model, cost, latency (what is known)."""
        parts = [self.model.display or self.model.ref, self.cost, self.latency]
        return " · ".join(p for p in parts if p and p != UNKNOWN)


@dataclass(frozen=True)
class ArtifactPage:
    title: str
    pipeline: str
    status: Status
    created: str
    created_iso: str | None  # for <time datetime>, when the date is known
    cost: str
    duration: str
    tokens: str
    models: list[ModelView]
    requested_by: str
    run_id: str
    input: str
    error: ErrorView | None
    output: OutputView
    thread_href: str | None
    json_href: str | None
    markdown_href: str | None
    steps: list[StepView] = field(default_factory=list)
    # A deleted result's tombstone line ("Deleted by U… on …"); None for a live artifact.
    deleted: str | None = None
    # What the run took in (DESIGN §11): its files and the thread's earlier messages.
    files: list[FileView] = field(default_factory=list)
    thread: ThreadView | None = None

    @property
    def headline_facts(self) -> list[str]:
        """Cost and duration under the title, where known."""
        return [f for f in (self.cost, self.duration) if f != UNKNOWN]


def _output(text: str | None, empty: str, budget: MarkdownBudget, download_href: str | None) -> OutputView:
    t = text or ""
    if not t.strip():
        return OutputView(empty)
    cut = render_bounded(t, budget)
    if not cut.tail:
        return OutputView(empty, html=cut.html)
    return OutputView(
        empty,
        html=cut.html,
        rest=cut.tail,
        size=size_text(cut.total_chars),
        head_size=size_text(cut.head_chars),
        rest_size=size_text(len(cut.tail)),
        download_href=download_href,
    )


def _model(ref: str, display: str | None) -> ModelView:
    return ModelView(ref, display or "")


def _step(
    s: StepRecord, index: int, *, failed_position: int | None, budget: MarkdownBudget, download_href: str | None
) -> StepView:
    pos = position(s, index)
    agent = s.agent
    max_out = agent.max_output_tokens if agent else None
    return StepView(
        position=pos,
        name=agent_title(s),
        model=_model(s.model_ref, s.model_display),
        status=status(s.status),
        cost=format_usd(s.cost_usd),
        tokens=usage_text(s.usage),
        latency=format_duration(s.latency_ms),
        temperature=temperature_text(agent.temperature if agent else None),
        max_output=format_tokens(max_out) if max_out is not None else None,
        error=ErrorView(error_kind(s.error), s.error.message or "") if s.error else None,
        output=_output(s.output, "No output.", budget, download_href),
        input=s.input or "",
        system_prompt=(agent.system_prompt or "") if agent else "",
        open=(s.status or "").lower() == StepStatus.FAILED or (failed_position is not None and pos == failed_position),
        files=list(s.files),
        text_extracted_from=list(s.text_extracted_from),
        tool_calls=tool_call_rows(s.tool_calls),
    )


def artifact_page(
    a: Artifact,
    *,
    slack_thread_url: str | None,
    json_url: str,
    markdown_url: str,
    file_href: Callable[[int], str] | None = None,
) -> ArtifactPage:
    """Everything the artifact template shows.

    ``slack_thread_url`` is the link back to the run's thread; when ``None`` the
    artifact's own ``slack.thread_url`` is used if it is an http(s) URL. The Markdown
    budget is spent final output first, then the steps in order. ``file_href(position)``
    is the signed link to one of the run's files (None: the files are listed without links
    or images). A deleted result lists no files: they went with it.
    """
    pipeline = pipeline_title(a.pipeline_name)
    when = parse_datetime(a.when)
    created = format_datetime(a.when)

    thread = safe_href(slack_thread_url, absolute_only=True) if slack_thread_url else None
    if thread is None and slack_thread_url is None:
        thread = safe_href(a.slack.thread_url if a.slack else None, absolute_only=True)
    md_href = safe_href(markdown_url)

    error = None
    if a.error:
        where = ""
        if a.error.step is not None:
            step = a.step_at(a.error.step)
            where = f"At step {a.error.step}" + (f" ({agent_title(step)})" if step else "")
        error = ErrorView(error_kind(a.error), a.error.message or "", where)

    if a.deleted:  # a tombstone: what the run was, who deleted it; nothing it said
        return _tombstone_page(a, pipeline, created)

    budget = MarkdownBudget(MARKDOWN_PAGE_LIMIT)
    empty = "No output: the run failed before producing one." if error else "No output."
    output = _output(a.output, empty, budget, md_href)
    failed_position = a.error.step if a.error else None
    steps = [
        _step(s, i, failed_position=failed_position, budget=budget, download_href=md_href)
        for i, s in enumerate(a.steps, start=1)
    ]

    return ArtifactPage(
        title=f"{pipeline} · {created if created != UNKNOWN else 'artifact'} · pipebot",
        pipeline=pipeline,
        status=status(a.status),
        created=created,
        created_iso=iso_text(when),
        cost=format_usd(a.cost_usd),
        duration=format_duration(a.elapsed_ms()),
        tokens=usage_text(a.total_usage()),
        models=[_model(ref, display) for ref, display in a.models_used()],
        requested_by=(a.requested_by or "").strip(),
        run_id=(a.run_id or "").strip(),
        input=a.input or "",
        error=error,
        output=output,
        thread_href=thread,
        json_href=safe_href(json_url),
        markdown_href=md_href,
        steps=steps,
        files=file_views(a, file_href),
        thread=thread_view(a),
    )


def tombstone_line(a: Artifact) -> str:
    """ "Deleted by U0123 on 2026-12-07 14:05 UTC" (the web knows no names: the user id)."""
    return deleted_by((a.deleted_by or "").strip() or "someone", format_datetime(a.deleted_at))


def _tombstone_page(a: Artifact, pipeline: str, created: str) -> ArtifactPage:
    """The page of a deleted result: the run's facts and the tombstone line, no links to
    exports of content that is gone (the JSON still says it was deleted)."""
    return ArtifactPage(
        title=f"{pipeline} · deleted · pipebot",
        pipeline=pipeline,
        status=status(a.status),
        created=created,
        created_iso=iso_text(parse_datetime(a.when)),
        cost=format_usd(a.cost_usd),
        duration=format_duration(a.elapsed_ms()),
        tokens=usage_text(a.total_usage()),
        models=[_model(ref, display) for ref, display in a.models_used()],
        requested_by=(a.requested_by or "").strip(),
        run_id=(a.run_id or "").strip(),
        input="",
        error=None,
        output=OutputView("Deleted."),
        thread_href=None,
        json_href=None,
        markdown_href=None,
        steps=[],
        deleted=tombstone_line(a),
    )

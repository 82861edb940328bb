"""The artifact: what a finished run leaves behind, as one explicit model.

The run executor writes an artifact's content as JSONB, once per run; the web viewer,
its JSON and Markdown exports and Slack read it back, sometimes years later. So the
shape is written down here, and readers go through :meth:`Artifact.from_content`
instead of guessing at keys:

* content written by an older version may lack keys: every field has a default, so
  it still parses (a missing value is ``None``, which the surfaces show as unknown);
* a value of the wrong type (hand-edited rows, an old writer's bug) becomes ``None``
  rather than an error, because one odd field must not make a whole artifact
  unreadable;
* keys this model does not know are kept (``extra="allow"``) and written back by
  :meth:`Artifact.to_content`, so reading and re-writing never loses data;
* the writer (core/runs/outcome.py) builds content through :meth:`Artifact.for_write`,
  which refuses a key the model does not name, at any depth: a field added on one side
  only fails at once instead of passing silently;
* :meth:`Artifact.to_content` leaves out keys the stored content did not have, so
  the JSON export shows what was stored, not a padded copy.

Costs are ``Decimal`` in Python and decimal strings in JSON (a float would round a
fraction of a cent); instants are aware datetimes in Python and ISO 8601 strings in
JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

__all__ = [
    "USAGE_KEYS",
    "AgentSnapshot",
    "Artifact",
    "FileRecord",
    "Lineage",
    "PipelineRef",
    "RunError",
    "SlackThread",
    "StepApproval",
    "StepError",
    "StepRecord",
    "ThreadContext",
    "ThreadLine",
    "TokenUsage",
    "decimal_text",
    "iso_text",
]

#: The content version the executor writes today.
CURRENT_VERSION = 1

#: The token counts every provider's usage is reduced to (providers.types.Usage's fields).
USAGE_KEYS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "web_searches",  # the provider's server tool requests (DESIGN §12), each with a fee
    "web_fetches",
)

#: The validation context of the write path: unknown keys are refused.
_WRITE = {"write": True}


def _or_none(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """A value of the wrong type reads as missing instead of failing the whole artifact."""
    try:
        return handler(value)
    except ValidationError:
        return None


def _text(value: Any) -> str | None:
    """Text fields: strings as stored, numbers as their digits, anything else missing."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    return None


def _mapping_or_none(value: Any) -> Any:
    return value if isinstance(value, Mapping) else None


def _list_of(keep: Callable[[Any], bool]) -> Callable[[Any], list[Any]]:
    def check(value: Any) -> list[Any]:
        return [v for v in value if keep(v)] if isinstance(value, list) else []

    return check


def decimal_text(value: Decimal | None) -> str | None:
    """A cost as JSON: a plain decimal string without trailing zeros (``0.0012``), never a
    float (which would round a fraction of a cent) nor an exponent."""
    return None if value is None else format(value.normalize(), "f")


def iso_text(value: datetime | None) -> str | None:
    """An instant as JSON: ISO 8601."""
    return None if value is None else value.isoformat()


Int = Annotated[int | None, WrapValidator(_or_none)]
Float = Annotated[float | None, WrapValidator(_or_none)]
Text = Annotated[str | None, BeforeValidator(_text)]
Money = Annotated[Decimal | None, WrapValidator(_or_none), PlainSerializer(decimal_text, when_used="json")]
Instant = Annotated[datetime | None, WrapValidator(_or_none), PlainSerializer(iso_text, when_used="json")]
Names = Annotated[list[str], BeforeValidator(_list_of(lambda v: isinstance(v, str) and bool(v)))]


class _Record(BaseModel):
    """Keeps unknown keys when reading: a newer writer's fields survive an older reader.
    Refuses them when writing (validated with the ``_WRITE`` context, see
    :meth:`Artifact.for_write`), so the model is the one description of the shape."""

    model_config = ConfigDict(extra="allow")
    #: A record whose keys the writer copies from elsewhere rather than names (see AgentSnapshot).
    open_on_write: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _known_keys_on_write(cls, data: Any, info: ValidationInfo) -> Any:
        if info.context and info.context.get("write") and not cls.open_on_write and isinstance(data, Mapping):
            unknown = sorted(set(data) - set(cls.model_fields))
            if unknown:
                raise ValueError(f"{cls.__name__} has no field {', '.join(map(str, unknown))}")
        return data


class PipelineRef(_Record):
    """The pipeline as it was named when the run started (it may be renamed or deleted since)."""

    id: Int = None
    name: Text = None


def _named(value: Any) -> Any:
    """A pipeline or agent; the earliest artifacts stored the bare name."""
    if isinstance(value, str):
        return {"name": value}
    return _mapping_or_none(value)


class TokenUsage(_Record):
    """Tokens counted the same way for every provider (input excludes cache tokens)."""

    input_tokens: Int = None
    output_tokens: Int = None
    cache_read_tokens: Int = None
    cache_write_tokens: Int = None
    web_searches: Int = None
    web_fetches: Int = None

    def __add__(self, other: TokenUsage) -> TokenUsage:
        def add(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return TokenUsage(**{k: add(getattr(self, k), getattr(other, k)) for k in USAGE_KEYS})

    @property
    def known(self) -> bool:
        return any(getattr(self, k) is not None for k in USAGE_KEYS)


class StepError(_Record):
    """Why a step failed: ``kind`` is a short code (``rate_limit``), ``message`` is for people."""

    kind: Text = None
    message: Text = None


class RunError(StepError):
    """Why a run failed, and at which step position (``None`` when before any step)."""

    step: Int = None


def _error(value: Any) -> Any:
    """A plain string error (the earliest artifacts) or a ``type``/``detail`` dict still reads."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        return {"kind": "error", "message": value}
    if not isinstance(value, Mapping):
        return None
    out = dict(value)
    if not out.get("kind") and out.get("type"):
        out["kind"] = out["type"]
    if not out.get("message") and out.get("detail"):
        out["message"] = out["detail"]
    return out


class AgentSnapshot(_Record):
    """The agent as the step used it (the agent itself may be edited or deleted since).

    Open on write: a branch's reused step copies the snapshot its source artifact holds,
    which an older version may have shaped with other keys; they are kept as they were."""

    open_on_write: ClassVar[bool] = True

    id: Int = None
    name: Text = None
    system_prompt: Text = None
    model: Text = None
    temperature: Float = None
    max_output_tokens: Int = None
    tools: Names = []
    sees_files: Annotated[bool | None, WrapValidator(_or_none)] = None  # "Sees the run's files"
    updated_at: Instant = None


class StepApproval(_Record):
    """How an approval step was decided (DESIGN §12): who, when, whether the text was
    edited (the step's output is then the edited text; ``original_output`` what was shown),
    and the reason of a rejection."""

    status: Text = None
    approvers: Names = []
    requested_at: Instant = None
    due_at: Instant = None
    timeout_hours: Int = None
    decided_by: Text = None
    decided_at: Instant = None
    edited: Annotated[bool | None, WrapValidator(_or_none)] = None
    original_output: Text = None
    reason: Text = None


class StepRecord(_Record):
    """One step of the run: what went in, what came out, what it cost."""

    position: Int = None
    status: Text = None
    agent: Annotated[AgentSnapshot | None, BeforeValidator(_named)] = None
    model: Text = None
    model_display: Text = None
    input: Text = None
    output: Text = None
    usage: Annotated[TokenUsage | None, BeforeValidator(_mapping_or_none)] = None
    raw_usage: Any = None
    cost_usd: Money = None
    price_version: Text = None
    latency_ms: Int = None
    error: Annotated[StepError | None, BeforeValidator(_error)] = None
    # A branch's step taken over from its source (no model call, no cost here), and what it
    # cost in the source; absent on every other step.
    reused: Annotated[bool | None, WrapValidator(_or_none)] = None
    # The run's files this step's model got (by name), and those it read as extracted text.
    files: Names = []
    text_extracted_from: Names = []
    original_cost_usd: Money = None
    # An approval step's request and its decision; absent on an agent's step.
    approval: Annotated[StepApproval | None, BeforeValidator(_mapping_or_none)] = None
    # The step's tool calls in the order made (core/tool_calls.ToolCallRecord, DESIGN §12):
    # kept as the JSON objects the step stored, since every reader goes through
    # core/tool_calls; absent on a step that made none.
    tool_calls: Annotated[list[dict[str, Any]], BeforeValidator(_list_of(lambda v: isinstance(v, Mapping)))] = []

    @property
    def model_ref(self) -> str:
        """The model the step called (``provider:model``), else the one its agent named."""
        return self.model or (self.agent.model if self.agent else None) or ""

    @property
    def agent_name(self) -> str:
        return ((self.agent.name if self.agent else None) or "").strip()


class SlackThread(_Record):
    """Where the run was posted in Slack, when it was started from Slack."""

    channel_id: Text = None
    thread_ts: Text = None
    thread_url: Text = None


class Lineage(_Record):
    """Where a branch run's artifact came from (core/runs/branch_spec.BranchSpec.lineage):
    the parent artifact and version, the step the branch starts from, and what it changed
    (a free-form record of the agent, model or input chosen instead)."""

    parent_artifact_id: Text = None
    parent_version: Int = None
    from_step: Int = None
    changes: Annotated[dict[str, Any] | None, BeforeValidator(_mapping_or_none)] = None


class FileRecord(_Record):
    """A file the run took in (DESIGN §11): what it was, and whether the model read a PDF's
    extracted text instead of the document. ``position`` names its stored bytes (the page's
    download link, ``/artifacts/{id}/files/{position}``)."""

    position: Int = None
    name: Text = None
    mimetype: Text = None
    kind: Text = None  # image, pdf or text (core/inputs/rules.FileKind)
    size: Int = None
    sha256: Text = None
    text_extracted: Annotated[bool | None, WrapValidator(_or_none)] = None
    pages: Int = None


class ThreadLine(_Record):
    """One earlier message of the thread, as step 1 read it."""

    author: Text = None
    text: Text = None
    ts: Text = None
    file_names: Names = []


class ThreadContext(_Record):
    """The thread's earlier messages step 1 read as context; ``left_out``: older messages
    past the limits (50 messages, 20,000 characters; the newest are kept)."""

    channel_id: Text = None
    thread_ts: Text = None
    messages: Annotated[list[ThreadLine], BeforeValidator(_list_of(lambda v: isinstance(v, Mapping)))] = []
    left_out: Int = None


class Artifact(_Record):
    """The content of one artifact, as the executor writes it."""

    version: Annotated[int, WrapValidator(lambda v, h: _or_none(v, h) or CURRENT_VERSION)] = CURRENT_VERSION
    artifact_id: Text = None  # the artifact row's id: not stored in the content, set when served
    run_id: Text = None
    team_id: Text = None
    status: Text = None
    pipeline: Annotated[PipelineRef | None, BeforeValidator(_named)] = None
    input: Text = None
    output: Text = None
    requested_by: Text = None
    source: Text = None
    created_at: Instant = None
    started_at: Instant = None
    finished_at: Instant = None
    duration_ms: Int = None
    cost_usd: Money = None
    models: Names = []
    usage: Annotated[TokenUsage | None, BeforeValidator(_mapping_or_none)] = None
    attempts: Int = None
    slack: Annotated[SlackThread | None, BeforeValidator(_mapping_or_none)] = None
    error: Annotated[RunError | None, BeforeValidator(_error)] = None
    steps: Annotated[list[StepRecord], BeforeValidator(_list_of(lambda v: isinstance(v, Mapping)))] = []
    branch: Annotated[Lineage | None, BeforeValidator(_mapping_or_none)] = None  # a branch run's
    files: Annotated[list[FileRecord], BeforeValidator(_list_of(lambda v: isinstance(v, Mapping)))] = []
    thread: Annotated[ThreadContext | None, BeforeValidator(_mapping_or_none)] = None
    # A deleted result (core/artifacts/deletion.py): the content is a tombstone that keeps only
    # what the run was (pipeline, status, dates, cost, models) and says who deleted it, when.
    deleted: Annotated[bool | None, WrapValidator(_or_none)] = None
    deleted_by: Text = None
    deleted_at: Instant = None

    @classmethod
    def for_write(cls, **fields: Any) -> Artifact:
        """The content a run stores, built from its fields (nested records as mappings);
        a key the model does not name, at any depth, raises ValidationError."""
        return cls.model_validate(fields, context=_WRITE)

    @classmethod
    def from_content(cls, content: Any) -> Artifact:
        """Read stored content (an artifact passes through); anything that is not a JSON
        object reads as an empty artifact."""
        if isinstance(content, Artifact):
            return content
        return cls.model_validate(content if isinstance(content, Mapping) else {})

    def to_content(self) -> dict[str, Any]:
        """JSON-ready content with the keys that were read or set, unknown ones included."""
        return self.model_dump(mode="json", exclude_unset=True)

    @property
    def pipeline_name(self) -> str:
        return ((self.pipeline.name if self.pipeline else None) or "").strip()

    @property
    def when(self) -> datetime | None:
        """When the run happened: created, else finished, else started."""
        return self.created_at or self.finished_at or self.started_at

    def elapsed_ms(self) -> int | None:
        """The run's duration as recorded, else from its start and finish times."""
        if self.duration_ms is not None:
            return self.duration_ms
        if self.started_at and self.finished_at and self.finished_at >= self.started_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None

    def total_usage(self) -> TokenUsage | None:
        """The run's usage, or the sum of its steps' for artifacts that lack it."""
        sources = [self.usage] if self.usage is not None else [s.usage for s in self.steps if s.usage]
        total = TokenUsage()
        for usage in sources:
            total = total + usage
        return total if total.known else None

    def models_used(self) -> list[tuple[str, str]]:
        """(model ref, display name) in order of use: ``models`` if recorded, else the steps'."""
        display: dict[str, str] = {}
        order: list[str] = []
        for step in self.steps:
            ref = step.model_ref
            if ref:
                order.append(ref)
                if step.model_display and ref not in display:
                    display[ref] = step.model_display
        refs = self.models or order
        return [(ref, display.get(ref, "")) for ref in dict.fromkeys(refs)]

    def step_at(self, position: int) -> StepRecord | None:
        return next((s for s in self.steps if s.position == position), None)

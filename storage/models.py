"""Tables. Every row that belongs to a workspace carries `team_id`, so every query can be scoped.

Pipelines point at agents by id (live link); a deleted agent leaves its steps in place
with `agent_id` NULL and the agent's last name kept in `agent_name` (detectably orphaned).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.states import ApprovalKind, ApprovalStatus, RunStatus, StepKind, StepStatus, check_in

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    pass


Base.metadata.naming_convention = NAMING

Money = Numeric(18, 8)


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class Workspace(Base):
    __tablename__ = "workspaces"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now()
    # Admin limits (migration 0009; DESIGN §10): NULL means no limit.
    daily_limit_usd: Mapped[Decimal | None] = mapped_column(Money)
    runs_per_person_hour: Mapped[int | None] = mapped_column(Integer)
    # Anyone holding a signed link may open this workspace's public-channel runs (off).
    public_links: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    # The UTC day admins were last told that 80 % of the daily limit was spent.
    limit_notice_on: Mapped[date | None] = mapped_column(Date)
    # The admins' shortest schedule interval in minutes (DESIGN §13; NULL: 1).
    min_schedule_minutes: Mapped[int | None] = mapped_column(Integer)


class ProviderCredential(Base):
    __tablename__ = "provider_credentials"
    __table_args__ = (UniqueConstraint("team_id", "provider", name="uq_provider_credentials_team_provider"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    hint: Mapped[str] = mapped_column(String(8), nullable=False)
    updated_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


#: How an MCP server's tool calls are approved (DESIGN §12): "never" asks nobody, "every_call"
#: waits for a person on each call. Migration 0011 spells the same check.
MCP_ASK_VALUES = ("never", "every_call")


class Schedule(Base):
    """A pipeline that runs itself on a cron in a time zone (DESIGN §13; migration 0014).
    The row is the whole state: maintenance takes due rows with SKIP LOCKED and moves
    ``next_fire_at`` on in the same transaction (core/schedules/fire.py)."""

    __tablename__ = "schedules"
    __table_args__ = (
        Index("ix_schedules_team", "team_id", "created_at"),
        Index("ix_schedules_due", "next_fire_at", postgresql_where=text("paused_at IS NULL")),
        Index("ix_schedules_pending", "pending_fire_at", postgresql_where=text("pending_fire_at IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    team_id: Mapped[str] = mapped_column(ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False)
    pipeline_id: Mapped[int | None] = mapped_column(ForeignKey("pipelines.id", ondelete="SET NULL"))
    pipeline_name: Mapped[str] = mapped_column(String(80), nullable=False)
    cron: Mapped[str] = mapped_column(String(120), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    channel_id: Mapped[str] = mapped_column(String(32), nullable=False)
    input: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    digest: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    created_by: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = _now()
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_reason: Mapped[str | None] = mapped_column(Text)
    next_fire_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pending_fire_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pending_missed: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    last_fire_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


#: What starts a trigger's run (DESIGN §13).
TRIGGER_KINDS = ("reaction", "message", "webhook")


class Trigger(Base):
    """A pipeline that runs on a reaction, a new message or a webhook (migration 0015)."""

    __tablename__ = "triggers"
    __table_args__ = (
        Index("ix_triggers_team_kind", "team_id", "kind"),
        CheckConstraint("kind IN ('reaction', 'message', 'webhook')", name="kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    team_id: Mapped[str] = mapped_column(ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    pipeline_id: Mapped[int | None] = mapped_column(ForeignKey("pipelines.id", ondelete="SET NULL"))
    pipeline_name: Mapped[str] = mapped_column(String(80), nullable=False)
    emoji: Mapped[str | None] = mapped_column(String(100))
    matching: Mapped[str | None] = mapped_column(String(200))
    channels: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    runs_per_hour: Mapped[int] = mapped_column(Integer, nullable=False, default=30, server_default="30")
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = _now()
    paused_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class McpServer(Base):
    """An MCP server a workspace registered (DESIGN §12). The token is Fernet ciphertext like a
    provider key's (storage/secrets.SecretBox), NULL for a server without one; unlike a
    provider key not even a hint of it is kept, since nothing ever shows it back."""

    __tablename__ = "mcp_servers"
    __table_args__ = (
        Index("uq_mcp_servers_team_lower_name", "team_id", text("lower(name)"), unique=True),
        CheckConstraint("ask IN ('never', 'every_call')", name="ask"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(40), nullable=False)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    ask: Mapped[str] = mapped_column(String(16), nullable=False, server_default="never", default="never")
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = _now()


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (Index("uq_agents_team_lower_name", "team_id", text("lower(name)"), unique=True),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    system_prompt: Mapped[str] = mapped_column(Text, nullable=False, default="")
    model: Mapped[str] = mapped_column(String(150), nullable=False)
    temperature: Mapped[float | None] = mapped_column()
    max_output_tokens: Mapped[int | None] = mapped_column(Integer)
    tools: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    # "Sees the run's files": a later step's agent gets the run's files too (step 1 always does).
    sees_files: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"), default=False)
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Pipeline(Base):
    __tablename__ = "pipelines"
    __table_args__ = (Index("uq_pipelines_team_lower_name", "team_id", text("lower(name)"), unique=True),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    budget_usd: Mapped[Decimal | None] = mapped_column(Money)
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    steps: Mapped[list[PipelineStep]] = relationship(
        back_populates="pipeline", order_by="PipelineStep.position", cascade="all, delete-orphan", lazy="selectin"
    )


class PipelineStep(Base):
    __tablename__ = "pipeline_steps"
    __table_args__ = (
        UniqueConstraint("pipeline_id", "position", name="uq_pipeline_steps_pipeline_position"),
        CheckConstraint(check_in(StepKind, "kind"), name="kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"), index=True)
    agent_name: Mapped[str] = mapped_column(String(80), nullable=False)
    # An approval step (migration 0012; DESIGN §12) has no agent: who may approve (Slack user
    # ids; empty: whoever started the run) and how long it waits.
    kind: Mapped[str] = mapped_column(
        String(16), nullable=False, server_default=StepKind.AGENT.value, default=StepKind.AGENT.value
    )
    approvers: Mapped[list[str]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb"), default=list
    )
    timeout_hours: Mapped[int | None] = mapped_column(Integer)

    pipeline: Mapped[Pipeline] = relationship(back_populates="steps")


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint(check_in(RunStatus), name="status"),
        Index("ix_runs_team_created", "team_id", text("created_at DESC")),
        Index("ix_runs_team_requester_created", "team_id", "requested_by", text("created_at DESC")),
        Index("ix_runs_status_heartbeat", "status", "heartbeat_at"),
        Index(
            "ix_runs_queued_created", "created_at", "id", postgresql_where=text(f"status = '{RunStatus.QUEUED.value}'")
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    team_id: Mapped[str] = mapped_column(ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False)
    pipeline_id: Mapped[int | None] = mapped_column(ForeignKey("pipelines.id", ondelete="SET NULL"))
    pipeline_name: Mapped[str] = mapped_column(String(80), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=RunStatus.QUEUED.value)
    input: Mapped[str] = mapped_column(Text, nullable=False)
    output: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16), nullable=False, default="cli")
    channel_id: Mapped[str | None] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    recipient_team_id: Mapped[str | None] = mapped_column(String(32))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    cost_usd: Mapped[Decimal | None] = mapped_column(Money)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_requested_by: Mapped[str | None] = mapped_column(String(32))  # a Slack user id, or "cli"
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # A run from a step of an artifact (core/runs/branch.py): its source, the step it starts
    # from and what that step uses instead (migration 0006). NULL for an ordinary run.
    branch: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The thread whose earlier messages reach step 1 (DESIGN §11, migration 0010):
    # {"ref": ThreadRef, "messages": [ThreadMessage…] once fetched, "left_out": n}. NULL: none.
    thread: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # What started a run nobody typed (DESIGN §13): {"kind": "schedule", "id", "name", "by",
    # "fire_at", "missed"}, shown in its parent message and on its page. NULL: a person.
    origin: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    steps: Mapped[list[RunStep]] = relationship(
        back_populates="run", order_by="RunStep.position", cascade="all, delete-orphan", lazy="selectin"
    )


class RunStep(Base):
    __tablename__ = "run_steps"
    __table_args__ = (
        UniqueConstraint("run_id", "position", name="uq_run_steps_run_position"),
        CheckConstraint(check_in(StepStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=StepStatus.RUNNING.value)
    agent_id: Mapped[int | None] = mapped_column(BigInteger)
    agent_snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    model: Mapped[str] = mapped_column(String(150), nullable=False)
    input: Mapped[str] = mapped_column(Text, nullable=False)
    output: Mapped[str | None] = mapped_column(Text)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    raw_usage: Mapped[list[Any] | None] = mapped_column(JSONB)
    cost_usd: Mapped[Decimal | None] = mapped_column(Money)
    price_version: Mapped[str | None] = mapped_column(String(64))
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error_kind: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    # The step's tool calls in the order made (DESIGN §12, migration 0011): each
    # {"name", "server", "tool", "arguments", "result_excerpt", "duration_ms", "error", "fee_usd"}.
    # NULL: none recorded.
    tool_calls: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    started_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    run: Mapped[Run] = relationship(back_populates="steps")


class Approval(Base):
    """A person asked to let a run go on (DESIGN §12): an approval step, or one tool call.

    The run waits in PostgreSQL alone (status ``waiting``), so this row is the whole state:
    workers and Redis may restart meanwhile. Every decision is one conditional UPDATE on
    ``status = 'pending'``, so two clicks, a click and a cancel, or two workers' timeout
    rounds have exactly one winner."""

    __tablename__ = "approvals"
    __table_args__ = (
        CheckConstraint(check_in(ApprovalStatus), name="status"),
        CheckConstraint(check_in(ApprovalKind, "kind"), name="kind"),
        Index("ix_approvals_run_position", "run_id", "position"),
        Index(
            "ix_approvals_pending_due", "due_at", postgresql_where=text(f"status = '{ApprovalStatus.PENDING.value}'")
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)
    team_id: Mapped[str] = mapped_column(ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default=ApprovalKind.STEP.value)
    # A tool call's {"server", "tool", "arguments"}; NULL for an approval step.
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # A paused tool call's step, to go on from (core/runs/step_state.py); never shown.
    resume_state: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=ApprovalStatus.PENDING.value)
    approvers: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    requested_by: Mapped[str | None] = mapped_column(String(32))  # who started the run
    output_shown: Mapped[str] = mapped_column(Text, nullable=False, default="")
    timeout_hours: Mapped[int] = mapped_column(Integer, nullable=False)
    requested_at: Mapped[datetime] = _now()
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    edited_text: Mapped[str | None] = mapped_column(Text)
    # Where the surface showed the request (set by it later), so it can update the buttons.
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))


class RunFile(Base):
    """A file a run takes in (DESIGN §11): recorded from Slack's description when the run is
    requested, its bytes stored once downloaded (``stored_at``), in ``run_file_chunks`` so a
    large file is written and read a piece at a time. A resumed run, a re-run from a step and
    a compare read these, never Slack's copy; deleting the result or the run removes them."""

    __tablename__ = "run_files"
    __table_args__ = (UniqueConstraint("run_id", "position", name="uq_run_files_run_position"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)  # 1-based, the order they were shared
    slack_file_id: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text, nullable=False)
    mimetype: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # core.inputs.rules.FileKind
    size: Mapped[int | None] = mapped_column(BigInteger)  # as described; the stored size once downloaded
    url: Mapped[str] = mapped_column(Text, nullable=False, default="")
    sha256: Mapped[str | None] = mapped_column(String(64))
    stored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    extracted_text: Mapped[str | None] = mapped_column(Text)  # a PDF's text (pypdf), or a text file's
    pages: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now()


class RunFileChunk(Base):
    __tablename__ = "run_file_chunks"

    file_id: Mapped[int] = mapped_column(ForeignKey("run_files.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


#: The text full-text search looks at: the run's final output only, not the input or the steps'
#: outputs. Migration 0003 spells the same expression.
ARTIFACT_SEARCH_EXPRESSION = "to_tsvector('english'::regconfig, coalesce(content->>'output', ''))"


class Artifact(Base):
    """One per finished run.

    ``output_tsv`` is the search vector of the output, a column PostgreSQL generates and stores
    (``GENERATED ALWAYS AS … STORED``): every insert fills it, including the executor's
    ``INSERT … ON CONFLICT DO NOTHING``, and nothing can write it by mistake. Storing it, rather
    than indexing the expression, means a row is checked against a query without re-parsing its
    output, which is what lets the planner walk ``created_at`` order cheaply for frequent words.
    Deferred, so loading an artifact never reads it.
    """

    __tablename__ = "artifacts"
    __table_args__ = (
        Index("ix_artifacts_team_created", "team_id", text("created_at DESC"), text("id DESC")),
        Index("ix_artifacts_team_pipeline_created", "team_id", "pipeline_id", text("created_at DESC"), text("id DESC")),
        Index("ix_artifacts_team_channel_created", "team_id", "channel_id", text("created_at DESC"), text("id DESC")),
        Index("ix_artifacts_output_tsv", "output_tsv", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    team_id: Mapped[str] = mapped_column(ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False)
    run_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), unique=True)
    pipeline_id: Mapped[int | None] = mapped_column(ForeignKey("pipelines.id", ondelete="SET NULL"))
    pipeline_name: Mapped[str] = mapped_column(String(80), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    cost_usd: Mapped[Decimal | None] = mapped_column(Money)
    models: Mapped[list[str]] = mapped_column(ARRAY(String(150)), nullable=False, server_default=text("'{}'"))
    created_by: Mapped[str | None] = mapped_column(String(32))
    content: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = _now()
    output_tsv: Mapped[Any] = mapped_column(
        TSVECTOR, Computed(ARTIFACT_SEARCH_EXPRESSION, persisted=True), nullable=False, deferred=True
    )
    # The lifecycle (migration 0004). ``latest_version`` is the number of the newest version, so a
    # page reads the latest in one query; version 1 is ``content`` itself (storage/repos/
    # artifact_versions.py says why). A branch records where it came from; the parent may be
    # deleted later (SET NULL), the other facts stay.
    latest_version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    parent_artifact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("artifacts.id", ondelete="SET NULL"))
    parent_version: Mapped[int | None] = mapped_column(Integer)
    branched_from_step: Mapped[int | None] = mapped_column(Integer)
    branch_changes: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # What of the run Slack never took (its result, its ✅/❌), for the page to say so
    # (migration 0008; bot/slack/reporter.py writes it). NULL when everything arrived.
    slack_undelivered: Mapped[str | None] = mapped_column(Text)
    # The conversation the run ran in: who may see the artifact follows it (DESIGN §10; core/
    # visibility.py). NULL for a run that posted nowhere (the CLI without a channel).
    channel_id: Mapped[str | None] = mapped_column(String(32))
    # A deleted result keeps its row as a tombstone: who deleted it and when (migration 0009).
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_by: Mapped[str | None] = mapped_column(String(32))


#: "Branches of this artifact, newest first"; partial, since almost no artifact is a branch. It
#: also serves the SET NULL of a deleted parent.
Index(
    "ix_artifacts_parent_created",
    Artifact.parent_artifact_id,
    Artifact.created_at.desc(),
    Artifact.id.desc(),
    postgresql_where=Artifact.parent_artifact_id.is_not(None),
)

#: What an edit changed: the final output, or one step's output (by its 1-based position).
ARTIFACT_EDIT_TARGET_PATTERN = "^(output|step:[1-9][0-9]*)$"


class ArtifactVersion(Base):
    """Version 2 and later of an artifact: its whole content as of that version (version 1 is
    ``artifacts.content``). Rows are only ever inserted; the unique (artifact_id, number) index
    serves "versions of this artifact, newest first" and "version N" alike."""

    __tablename__ = "artifact_versions"
    __table_args__ = (
        UniqueConstraint("artifact_id", "number", name="uq_artifact_versions_artifact_number"),
        CheckConstraint("number >= 2", name="number"),
        CheckConstraint(f"edited ~ '{ARTIFACT_EDIT_TARGET_PATTERN}'", name="edited"),
        CheckConstraint("char_length(note) <= 500", name="note"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False)
    artifact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"), nullable=False)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    edited: Mapped[str] = mapped_column(String(16), nullable=False)
    author: Mapped[str] = mapped_column(String(32), nullable=False)
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = _now()


class ArtifactFeedback(Base):
    """One vote per person per version of an artifact; the key serves the counts of one version
    and, by its prefix, of many artifacts at once."""

    __tablename__ = "artifact_feedback"
    __table_args__ = (
        CheckConstraint("vote IN (-1, 1)", name="vote"),
        CheckConstraint("version >= 1", name="version"),
    )

    artifact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False)
    vote: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    updated_at: Mapped[datetime] = _now()


class EditLinkUse(Base):
    """The nonce of every edit link that was used: its primary key is what refuses a replay.
    Rows past ``expires_at`` can be purged, since an expired link is refused anyway."""

    __tablename__ = "edit_link_uses"
    __table_args__ = (Index("ix_edit_link_uses_expires", "expires_at"),)

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False)
    artifact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[str] = mapped_column(String(32), nullable=False)
    used_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AuditEvent(Base):
    """Who changed keys, limits, settings or MCP servers, or deleted agents, pipelines and
    runs, and when (DESIGN §10). Only ever inserted; ``/pipebot audit`` reads the newest."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_team_created", "team_id", text("created_at DESC")),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False)
    actor: Mapped[str] = mapped_column(String(32), nullable=False)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    subject: Mapped[str] = mapped_column(String(200), nullable=False, server_default="")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()

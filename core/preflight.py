"""The one place that decides whether a run may start: the pipeline still exists, has steps,
no step waiting to run has lost its agent, every provider those steps need has a key, a
budget counts only models with a known price (core.budget), and the budget is not spent;
and the workspace's spend limits (DESIGN §10): its spend today is under its daily limit and
the requester started fewer than its runs per person in the last hour
(:func:`limits_problem`, asked by core/runs/intake.py for every request, branches included).

The daily limit is asked again by the executor when it claims a run and before each later
step (:func:`daily_limit_problem`): a run queued or going when the limit is reached stops
the way a spent pipeline budget stops it (FailureKind.BUDGET_EXCEEDED, the limit's words).
The per-person rate is asked only at the start: the run itself is one of those counted.

The executor asks when it claims a run (and again, for the budget, before each step);
Slack asks before it posts a run's thread, and the CLI before it queues, so that a problem
the requester must fix reaches them alone instead of as a failed run in a channel.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core import messages
from core.budget import unpriced_budget_problem
from core.context import AppContext
from core.credentials import run_keys
from core.errors import RefusalKind, RunRejected
from core.inputs.rules import FileKind
from providers import catalog
from providers.registry import parse_model_ref
from storage.db import Session
from storage.models import Agent
from storage.repos import pipelines as pipeline_repo
from storage.repos import spend as spend_repo
from storage.repos import workspaces as workspace_repo
from storage.states import FailureKind, StepKind


@dataclass(frozen=True)
class PlannedStep:
    position: int
    agent_id: int | None  # None: the agent was deleted (the step keeps its last name), or an approval
    agent_name: str
    model: str = ""
    kind: str = StepKind.AGENT
    # An approval step's (DESIGN §12): who may approve (empty: the requester), how long it waits.
    approvers: tuple[str, ...] = ()
    timeout_hours: int = 24

    @property
    def is_approval(self) -> bool:
        """An approval step needs no agent, model or key: a person answers it."""
        return self.kind == StepKind.APPROVAL


@dataclass
class Plan:
    """A pipeline as a run would use it now: each step with its agent as it is (live link)."""

    exists: bool
    budget: Decimal | None = None
    steps: list[PlannedStep] = field(default_factory=list)
    agents: dict[int, Agent] = field(default_factory=dict)  # position -> the step's agent


class Orphaned(RunRejected):
    """Steps whose agent is gone: ``messages`` has one line for each, the message is the first."""

    def __init__(self, orphans: list[PlannedStep]) -> None:
        super().__init__(FailureKind.ORPHANED_STEP, messages.orphaned_step(orphans[0].position, orphans[0].agent_name))
        self.messages = [messages.orphaned_step(o.position, o.agent_name) for o in orphans]


def load_plan(s: Session, team_id: str, pipeline_id: int | None) -> Plan:
    """One statement: the pipeline's budget and its steps with their agents."""
    rows = pipeline_repo.plan_rows(s, team_id, pipeline_id) if pipeline_id is not None else []
    if not rows:
        return Plan(exists=False)
    plan = Plan(exists=True, budget=rows[0].budget_usd)
    for row in rows:
        if row.position is None:  # a pipeline without steps
            continue
        if row.kind == StepKind.APPROVAL:
            plan.steps.append(
                PlannedStep(
                    row.position,
                    None,
                    messages.APPROVAL_STEP,
                    kind=StepKind.APPROVAL,
                    approvers=tuple(row.approvers or ()),
                    timeout_hours=row.timeout_hours or 24,
                )
            )
            continue
        agent = row.Agent if row.agent_id is not None else None
        plan.steps.append(
            PlannedStep(
                row.position,
                agent.id if agent else None,
                agent.name if agent else row.agent_name,
                agent.model if agent else "",
            )
        )
        if agent is not None:
            plan.agents[row.position] = agent
    return plan


def check(
    plan: Plan, keys: Mapping[str, str | None], done: Collection[int] = (), spent: Decimal = Decimal(0)
) -> RunRejected | None:
    """Why a run of ``plan`` cannot go on, or None. ``done``: positions an earlier attempt
    finished (they need neither an agent nor a key any more); ``spent``: what they cost."""
    if not plan.exists:
        return RunRejected(FailureKind.PIPELINE_DELETED, messages.PIPELINE_DELETED)
    if not plan.steps:
        return RunRejected(FailureKind.EMPTY_PIPELINE, messages.EMPTY_PIPELINE)
    if plan.steps[0].is_approval:
        return RunRejected(FailureKind.APPROVAL_FIRST, messages.APPROVAL_FIRST_STEP)
    pending = [p for p in plan.steps if p.position not in done]
    orphans = [p for p in pending if p.agent_id is None and not p.is_approval]
    if orphans:
        return Orphaned(orphans)
    for p in pending:
        if p.is_approval:
            continue
        try:
            provider_id, _ = parse_model_ref(p.model)
        except ValueError:
            return RunRejected(FailureKind.UNKNOWN_MODEL, messages.unknown_model(p.agent_name))
        if not keys.get(provider_id):
            return RunRejected(FailureKind.MISSING_KEY, messages.missing_key(provider_id))
    models = [p.model for p in pending if not p.is_approval]
    if models and (unpriced := unpriced_budget_problem(plan.budget, models)):
        return RunRejected(FailureKind.UNPRICED_BUDGET, unpriced)
    if pending and (problem := budget_problem(plan.budget, spent, pending[0].position)) is not None:
        return problem
    return None


def budget_problem(budget: Decimal | None, spent: Decimal, position: int) -> RunRejected | None:
    """The budget rule, also asked before every later step: a spent budget stops the run
    before step ``position``."""
    if budget is not None and spent >= budget:
        return RunRejected(FailureKind.BUDGET_EXCEEDED, messages.over_budget(budget, spent, position))
    return None


def check_pipeline(s: Session, ctx: AppContext, team_id: str, pipeline_id: int) -> RunRejected | None:
    """Whether a new run of the pipeline could start now (two statements: plan, keys)."""
    return check(load_plan(s, team_id, pipeline_id), run_keys(s, ctx, team_id))


def sees_files(plan: Plan, position: int) -> bool:
    """Whether step ``position`` gets the run's files: the first step always, a later one
    when its agent (as it is now) has "Sees the run's files" on."""
    if plan.steps and position == plan.steps[0].position:
        return True
    agent = plan.agents.get(position)
    return bool(agent is not None and agent.sees_files)


def model_reads_images(model_ref: str) -> bool:
    """The catalog's word on images (an unknown model: no)."""
    try:
        return catalog.resolve(model_ref).supports_images
    except ValueError:
        return False


def files_capability_problem(
    plan: Plan, files: Sequence[tuple[str, str, int | None]], done: Collection[int] = ()
) -> RunRejected | None:
    """A step waiting to run that would get a file its model cannot take (DESIGN §11), named
    with the model and the file: an image for a model that does not look at images, or more
    file bytes than the model's provider takes in one request (Anthropic: 32 MB, base64
    included). PDFs otherwise pass: a model without PDF input reads their extracted text (a
    PDF without text is found once it is downloaded). ``files``: (name, kind, size in bytes).
    Asked by intake and again when the executor claims the run (the agents may have changed)."""
    if not files:
        return None
    images = [name for name, kind, _ in files if kind == FileKind.IMAGE]
    for p in plan.steps:
        if p.position in done or p.is_approval or not sees_files(plan, p.position):
            continue
        if images and not model_reads_images(p.model):
            return RunRejected(
                FailureKind.UNSUPPORTED_FILE,
                messages.image_not_supported(p.position, p.agent_name, catalog.display_name(p.model), images[0]),
            )
        if (over := _request_bytes_problem(p.position, p.agent_name, p.model, files)) is not None:
            return over
    return None


def _request_bytes_problem(
    position: int, agent_name: str, model_ref: str, files: Sequence[tuple[str, str, int | None]]
) -> RunRejected | None:
    """Images and PDFs travel inline as base64 (4/3 of their size); a provider with a request
    size limit would refuse the whole call, so it is said before anything is downloaded."""
    try:
        info = catalog.resolve(model_ref)
    except ValueError:
        return None
    limit = catalog.REQUEST_BYTES_LIMIT.get(info.provider)
    inline = sum(
        size or 0 for _, kind, size in files if kind == FileKind.IMAGE or (kind == FileKind.PDF and info.supports_pdf)
    )
    if limit is None or (inline * 4 + 2) // 3 + catalog.REQUEST_HEADROOM_BYTES <= limit:
        return None
    return RunRejected(
        FailureKind.UNSUPPORTED_FILE,
        messages.request_too_large(position, agent_name, catalog.display_name(model_ref), inline, limit),
    )


def utc_midnight(now: datetime) -> datetime:
    """The start of ``now``'s UTC day: the daily limit counts from here."""
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def limits_problem(
    s: Session, team_id: str, requested_by: str | None, now: datetime | None = None
) -> RunRejected | None:
    """The workspace's limits on a new run: the daily limit, then the requester's runs in the
    last hour (a run without a requester, such as a CLI run, counts only for the daily limit)."""
    now = now or datetime.now(UTC)
    limits = workspace_repo.limits(s, team_id)
    if limits.daily_limit_usd is not None:
        spent = spend_repo.spent_since(s, team_id, utc_midnight(now))
        if spent >= limits.daily_limit_usd:
            wait_s = (utc_midnight(now) + timedelta(days=1) - now).total_seconds()
            return RunRejected(
                RefusalKind.DAILY_LIMIT, messages.daily_limit_reached(limits.daily_limit_usd, spent, wait_s)
            )
    if limits.runs_per_person_hour is not None and requested_by:
        count, oldest = spend_repo.runs_started_since(s, team_id, requested_by, now - timedelta(hours=1))
        if count >= limits.runs_per_person_hour and oldest is not None:
            free_at = oldest + timedelta(hours=1)
            return RunRejected(
                RefusalKind.PERSON_RATE,
                messages.person_rate_reached(
                    limits.runs_per_person_hour,
                    free_at.astimezone(UTC).strftime("%H:%M"),
                    max(0.0, (free_at - now).total_seconds()),
                ),
            )
    return None


def daily_limit_problem(
    s: Session, team_id: str, limit: Decimal | None, position: int, now: datetime | None = None
) -> RunRejected | None:
    """The daily limit ``limit`` (read when the run was claimed) before step ``position`` of a
    run already going (or just claimed)."""
    now = now or datetime.now(UTC)
    if limit is None:
        return None
    spent = spend_repo.spent_since(s, team_id, utc_midnight(now))
    if spent < limit:
        return None
    wait_s = (utc_midnight(now) + timedelta(days=1) - now).total_seconds()
    return RunRejected(FailureKind.BUDGET_EXCEEDED, messages.daily_limit_before_step(limit, spent, position, wait_s))

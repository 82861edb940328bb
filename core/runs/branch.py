"""Re-running from a step of an artifact (a branch): the rules, and the start.

A branch is an ordinary run of the same pipeline whose steps before ``from_step`` are taken
over from the source artifact (or from one of its versions, whose content holds the edited
outputs): they are recorded as finished steps at no cost when the run is created, so the
executor resumes after them as it resumes any run, and no attempt ever calls a model for
them. From ``from_step`` on it is queued, streamed, resumable and shares the workspace's
slots like any run. An approval step is never taken over: a branch past one reuses only the
steps before it, so the branch asks its approvers again and runs the steps after it again
(what was approved gated them). What the step uses instead (another agent of the workspace, another
model, another input) is kept on the run (core/runs/branch_spec.py); the artifact the run
writes records its parent, the version, the step and what changed.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from core import messages
from core.context import AppContext
from core.errors import RefusalKind, RunRejected
from core.preflight import Plan, PlannedStep
from core.runs.artifact import Artifact, StepRecord, decimal_text
from core.runs.branch_spec import BranchSpec
from core.runs.request import INPUT_MAX, BranchFrom, RunRequest, input_too_long
from core.text import clean_text
from providers import catalog
from storage.db import Session, transaction
from storage.models import Run
from storage.repos import agents as agent_repo
from storage.repos import artifact_versions as version_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import run_files as file_repo
from storage.repos import runs as run_repo
from storage.states import FailureKind, StepKind, StepStatus

__all__ = [
    "BranchSource",
    "branch_plan",
    "branch_source",
    "check_branch",
    "prepare_branch",
    "record_branch",
]

log = logging.getLogger(__name__)

ARTIFACT_GONE = "That artifact no longer exists in this workspace."
PIPELINE_GONE = "The pipeline of that artifact was deleted, so it cannot run again."
AGENT_GONE = "That agent is not in this workspace any more (deleted, or another workspace's). Pick another."
MODEL_UNKNOWN = "That model is not one pipebot knows. Pick one from the list."


def version_missing(version: int) -> str:
    return f"That artifact has no version {version}."


def step_out_of_range(step: int, steps: int) -> str:
    return f"Step {step} is out of range: the pipeline has {steps} step{'s' if steps != 1 else ''} (1–{steps})."


def nothing_to_reuse(step: int) -> str:
    return (
        f"Step {step - 1} of that run did not finish, so there is nothing to reuse before step {step}. "
        f"Re-run from step {step - 1} or earlier."
    )


class BranchSource:
    """The version of an artifact a branch would start from, read in the caller's transaction."""

    def __init__(
        self,
        artifact_id: str,
        version: int,
        latest: int,
        content: Artifact,
        pipeline_id: int | None,
        pipeline_steps: int,
    ) -> None:
        self.artifact_id, self.version, self.latest = artifact_id, version, latest
        self.content, self.pipeline_id, self.pipeline_steps = content, pipeline_id, pipeline_steps

    def step(self, position: int) -> StepRecord | None:
        return self.content.step_at(position)

    def input_of(self, position: int) -> str:
        """What reached step ``position`` in the source: the run's input for step 1, else the
        output of the step before (of this version: an edit of it counts)."""
        if position <= 1:
            return self.content.input or ""
        before = self.step(position - 1)
        return (before.output or "") if before else ""


def branch_source(s: Session, team_id: str, artifact_id: str, version: int | None = None) -> BranchSource:
    """The artifact's version (the latest when ``version`` is None) and its pipeline as it is
    now; RunRejected when either is gone or the version does not exist."""
    row = (
        version_repo.latest_version(s, team_id, artifact_id)
        if version is None
        else version_repo.get_version(s, team_id, artifact_id, version)
    )
    if row is None:
        if version is not None and version_repo.latest_version(s, team_id, artifact_id) is not None:
            raise RunRejected(RefusalKind.VERSION_MISSING, version_missing(version))
        raise RunRejected(RefusalKind.NOT_FOUND, ARTIFACT_GONE)
    content = Artifact.from_content(row.content)
    if content.deleted:
        raise RunRejected(RefusalKind.NOT_FOUND, messages.RESULT_DELETED)
    pipeline_id = content.pipeline.id if content.pipeline else None
    pipeline = pipeline_repo.get_pipeline(s, team_id, pipeline_id) if pipeline_id is not None else None
    if pipeline is None:
        raise RunRejected(FailureKind.PIPELINE_DELETED, PIPELINE_GONE)
    return BranchSource(str(row.artifact_id), row.number, row.latest, content, pipeline.id, len(pipeline.steps))


def _check_step(source: BranchSource, from_step: int) -> list[StepRecord]:
    """The source's steps before ``from_step``, every one finished; else why not."""
    if not 1 <= from_step <= source.pipeline_steps:
        raise RunRejected(RefusalKind.BAD_STEP, step_out_of_range(from_step, source.pipeline_steps))
    reused = [source.step(p) for p in range(1, from_step)]
    if any(st is None or st.status != StepStatus.SUCCEEDED for st in reused):
        raise RunRejected(RefusalKind.NOTHING_TO_REUSE, nothing_to_reuse(from_step))
    return [st for st in reused if st is not None]


def _changes(
    source: BranchSource, from_step: int, agent: Any, model: str | None, new_input: str | None
) -> dict[str, Any]:
    """What the branch's step ``from_step`` does differently from the source's."""
    before = source.step(from_step)
    before_agent = before.agent if before else None
    changes: dict[str, Any] = {}
    if agent is not None and (before_agent is None or before_agent.id != agent.id):
        changes["agent"] = {
            "from": {"id": before_agent.id if before_agent else None, "name": before.agent_name if before else None},
            "to": {"id": agent.id, "name": agent.name},
        }
    before_model = before.model_ref if before else None
    if model is not None and model != before_model:
        changes["model"] = {"from": before_model or None, "to": model}
    if new_input is not None:
        changes["input"] = {"from_chars": len(source.input_of(from_step)), "to_chars": len(new_input)}
    return changes


def prepare_branch(s: Session, team_id: str, branch: BranchFrom) -> tuple[BranchSource, BranchSpec, list[StepRecord]]:
    """Every rule a branch must pass, in the caller's transaction: its spec and reused steps.
    Raises RunRejected whose ``kind`` names what is wrong: ``bad_step``, ``bad_agent``,
    ``unknown_model``, ``bad_input``, ``not_found``, ``version_missing``,
    ``pipeline_deleted``, ``nothing_to_reuse``."""
    new_input = clean_text(branch.input_text).strip() if branch.input_text is not None else ""
    if len(new_input) > INPUT_MAX:
        raise RunRejected(RefusalKind.BAD_INPUT, input_too_long(len(new_input)))
    model, from_step = branch.model, branch.from_step
    if model is not None and (not model.strip() or _known_model(model) is None):
        raise RunRejected(FailureKind.UNKNOWN_MODEL, MODEL_UNKNOWN)
    src = branch_source(s, team_id, branch.artifact_id, branch.version)
    reused = _before_approval(_check_step(src, from_step))
    agent = None
    if branch.agent_id is not None:
        agent = agent_repo.get_agent(s, team_id, branch.agent_id)
        if agent is None:
            raise RunRejected(RefusalKind.BAD_AGENT, AGENT_GONE)
    changed_input = new_input if new_input and new_input != src.input_of(from_step) else None
    spec = BranchSpec(
        artifact_id=src.artifact_id,
        version=src.version,
        from_step=from_step,
        agent_id=agent.id if agent else None,
        agent_name=agent.name if agent else None,
        model=model,
        input=changed_input,
        changes=_changes(src, from_step, agent, model, changed_input),
        original_costs={st.position: decimal_text(st.cost_usd) for st in reused if st.position is not None},
    )
    return src, spec, reused


def record_branch(s: Session, request: RunRequest) -> Run:
    """The branch's run row and its reused steps, in the caller's transaction (called by
    core.runs.intake.submit, which dedupes and enqueues)."""
    assert request.branch is not None
    src, spec, reused = prepare_branch(s, request.team_id, request.branch)
    pipeline = pipeline_repo.get_pipeline(s, request.team_id, src.pipeline_id) if src.pipeline_id else None
    assert pipeline is not None  # branch_source found it in this transaction
    run_input = (spec.input if spec.from_step == 1 and spec.input else None) or src.content.input or ""
    source_run = run_repo.get_run(s, request.team_id, src.content.run_id) if src.content.run_id else None
    inputs = {"thread": source_run.thread} if source_run is not None and source_run.thread else {}
    run = run_repo.create_run(
        s, request.team_id, pipeline, run_input, branch=spec.to_json(), **inputs, **request.run_columns()
    )
    if source_run is not None:  # its files, bytes included, copied inside PostgreSQL: nothing from Slack
        file_repo.copy_files(s, source_run.id, run.id)
    run_repo.add_reused_steps(
        s,
        run.id,
        [
            {
                "position": st.position,
                "agent_id": st.agent.id if st.agent else None,
                "agent_snapshot": st.agent.model_dump(mode="json") if st.agent else {"name": st.agent_name},
                "model": st.model_ref,
                "input": st.input or "",
                "output": st.output or "",
            }
            for st in reused
        ],
    )
    log.info("run %s branches artifact %s v%d from step %d", run.id, spec.artifact_id, spec.version, spec.from_step)
    return run


def is_approval_record(step: StepRecord) -> bool:
    """Whether an artifact's step was an approval step (its decision, or its snapshot, says so)."""
    if step.approval is not None:
        return True
    extra = (step.agent.model_extra or {}) if step.agent is not None else {}
    return extra.get("kind") == StepKind.APPROVAL


def _before_approval(reused: list[StepRecord]) -> list[StepRecord]:
    """The reused steps up to the first approval step (which the branch asks again)."""
    out: list[StepRecord] = []
    for st in reused:
        if is_approval_record(st):
            break
        out.append(st)
    return out


def check_branch(ctx: AppContext, team_id: str, **branch: Any) -> None:
    """Raise the RunRejected :func:`start_branch` would, without starting anything
    (``branch``: the fields of a BranchFrom)."""
    with transaction(ctx.sessions) as s:
        prepare_branch(s, team_id, BranchFrom(**branch))


def _known_model(model: str) -> Any:
    try:
        return catalog.lookup(model)
    except ValueError:
        return None


def branch_plan(s: Session, team_id: str, plan: Plan, spec: BranchSpec | None) -> None:
    """Put what a branch changes into the plan of its run: step ``from_step`` with the agent
    chosen instead (as it is now; a deleted one leaves the step orphaned, and the run fails
    before any model is called, as any orphaned step does) and the model chosen instead."""
    if spec is None or (spec.agent_id is None and spec.model is None):
        return
    at = next((i for i, p in enumerate(plan.steps) if p.position == spec.from_step), None)
    if at is None:  # the pipeline lost that step since: the preflight of the remaining ones decides
        return
    step = plan.steps[at]
    if spec.agent_id is not None:
        agent = agent_repo.get_agent(s, team_id, spec.agent_id)
        if agent is None:
            plan.agents.pop(step.position, None)
            plan.steps[at] = PlannedStep(step.position, None, spec.agent_name or step.agent_name, "")
            return
        plan.agents[step.position] = agent
        step = plan.steps[at] = PlannedStep(step.position, agent.id, agent.name, agent.model)
    if spec.model is not None and step.agent_id is not None:
        plan.steps[at] = replace(step, model=spec.model)

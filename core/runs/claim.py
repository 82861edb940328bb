"""Claiming a run and reading what it needs, in the one transaction that claims it: the
pipeline, each agent as it is now, the steps an earlier attempt finished, the keys, and the
first pending step recorded as running. Apart from the executor (core/runs/executor.py),
which runs the steps from here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core import agents as agents_mod
from core.context import AppContext
from core.credentials import run_keys
from core.errors import RunRejected
from core.inputs.stored import StoredFile, stored_files
from core.preflight import Plan, check, daily_limit_problem, files_capability_problem, load_plan
from core.reporter import RunInfo, StepPlan
from core.runs.branch import branch_plan
from core.runs.branch_spec import BranchSpec
from providers import catalog
from providers.registry import parse_model_ref
from storage.db import Session, transaction
from storage.models import Agent
from storage.repos import run_files as file_repo
from storage.repos import runs as run_repo
from storage.repos import workspaces as workspace_repo


@dataclass
class RunStart:
    """What a claimed run needs, read in the transaction that claims it."""

    info: RunInfo
    plan: Plan
    done: dict[int, Any]  # position -> (output, cost_usd) of steps an earlier attempt finished
    branch: BranchSpec | None = None  # a run from a step of an artifact: what it changes
    problem: RunRejected | None = None
    first: StepStart | None = None  # the first pending step, already recorded as running
    # The workspace's daily limit when the run was claimed: a run started without one is not
    # stopped by one set while it runs, and costs no query per step or at its close.
    daily_limit: Decimal | None = None
    # What the run takes in (DESIGN §11): its files (rows without bytes; read only when it
    # has any) and its thread context ({"ref"} until fetched, then with "messages").
    files: list[StoredFile] = field(default_factory=list)
    thread: dict[str, Any] | None = None


@dataclass
class StepStart:
    step_id: int
    snap: dict[str, Any]
    provider_id: str
    key: str | None


def claim_and_load(ctx: AppContext, team_id: str, rid: uuid.UUID) -> RunStart | None:
    """Take the run (if queued, or running with a dead heartbeat: one winner, ever) and read
    its pipeline, agents, finished steps and keys in the same transaction; when nothing
    stands in the way, the first pending step is recorded as running there too. A forked
    work horse pays a round trip per statement, so a run's bookkeeping is kept to a few."""
    with transaction(ctx.sessions) as s:
        run = run_repo.claim(s, team_id, rid, stale_after_s=ctx.settings.PIPEBOT_STALE_AFTER_SECONDS)
        if run is None:
            return None
        done = run_repo.finished_steps(s, rid)  # a branch's reused steps are among them
        plan = load_plan(s, team_id, run["pipeline_id"])
        branch = BranchSpec.from_json(run["branch"])
        branch_plan(s, team_id, plan, branch)
        keys = run_keys(s, ctx, team_id)
        info = RunInfo(
            run_id=str(rid),
            team_id=team_id,
            pipeline_name=run["pipeline_name"],
            input=run["input"],
            requested_by=run["requested_by"],
            source=run["source"],
            channel_id=run["channel_id"],
            thread_ts=run["thread_ts"],
            recipient_team_id=run["recipient_team_id"],
            steps=[StepPlan(p.position, p.agent_name, p.model, catalog.display_name(p.model)) for p in plan.steps],
            resumed_from=len(done),
            reused={p: branch.original_cost(p) for p in done if branch.reused(p)} if branch else {},
            origin=run["origin"],
        )
        start = RunStart(info, plan, done, branch, thread=run["thread"])
        if run["has_files"]:
            start.files = stored_files(file_repo.files_of(s, rid))
        start.problem = check(plan, keys, done, spent_on(done)) or files_capability_problem(
            plan, [(f.name, f.kind, f.size) for f in start.files], done
        )
        if start.problem is not None:
            return start
        pending = next((p for p in plan.steps if p.position not in done), None)
        start.daily_limit = workspace_repo.limits(s, team_id).daily_limit_usd
        if pending is not None and (over := daily_limit_problem(s, team_id, start.daily_limit, pending.position)):
            start.problem = over
            return start
        if pending is not None and not pending.is_approval:  # an approval step is the executor's to ask
            start.first = start_step(
                s,
                rid,
                pending.position,
                plan.agents[pending.position],
                current_input(done, info, branch),
                keys,
                model=pending.model,
            )
        return start


def spent_on(done: dict[int, Any]) -> Decimal:
    return sum((st.cost_usd or Decimal(0) for st in done.values()), Decimal(0))


def current_input(done: dict[int, Any], info: RunInfo, branch: BranchSpec | None = None) -> str:
    """What the next step gets: the last finished step's output, the run's input before any,
    or the input a branch gives the step it starts from."""
    last = max(done, default=0)
    if branch is not None and branch.input is not None and last == branch.from_step - 1:
        return branch.input
    return done[last].output if done else info.input


def start_step(
    s: Session,
    rid: uuid.UUID,
    position: int,
    agent: Agent,
    step_input: str,
    keys: dict[str, str | None],
    *,
    model: str | None = None,
) -> StepStart:
    """Record the step as running with the agent as it is now (and ``model`` instead of the
    agent's, for the step a branch gives another model)."""
    snap = agents_mod.snapshot(agent)
    snap["model"] = model = model or agent.model
    provider_id, _ = parse_model_ref(model)
    step_id = run_repo.start_step(
        s, rid, position, agent_id=agent.id, agent_snapshot=snap, model=model, step_input=step_input
    )
    return StepStart(step_id, snap, provider_id, keys.get(provider_id))

"""Block Kit for pipelines: the builder modal (steps, Add step, Add approval, Remove a step)
and the list.

Pure builders. The builder's whole state lives in the view (inputs and private_metadata),
so Add/Remove step rebuild it from a block_actions payload without any store of ours.
A step whose agent was deleted shows a warning and must be re-picked. An approval step
(DESIGN §12) has no agent: it shows **Approvers** and **Timeout (hours)** instead of an
agent select, and is never taken for a deleted agent's step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
    UserMultiSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.blocks.common import (
    INFO_CALLBACK,
    INPUT,
    NAME_MAX,
    as_int,
    form_modal,
    list_message,
    modal_title,
    model_label,
    money,
    section,
    text_value,
)
from bot.slack.blocks.limits import (
    OPTION_TEXT_LIMIT,
    PLACEHOLDER_TEXT_LIMIT,
    SELECT_OPTIONS_LIMIT,
)
from bot.slack.modal_state import PipelineModalState
from bot.slack.text import clip, escape_mrkdwn
from core.messages import APPROVAL_STEP, COMMAND
from core.pipelines import APPROVAL_TIMEOUT_DEFAULT_H, APPROVAL_TIMEOUT_MAX_H, APPROVAL_TIMEOUT_MIN_H, is_approval
from storage.states import StepKind

PIPELINE_CALLBACK = "pipebot_pipeline_save"
BUDGET_BLOCK = "budget_usd"
ADD_STEP = "pipebot_add_step"
ADD_APPROVAL = "pipebot_add_approval"
REMOVE_STEP = "pipebot_remove_step"
PIPELINE_MENU = "pipebot_pipeline_menu"
MAX_STEPS = 10
_STEP_BLOCK = re.compile(r"^step_(\d+)(?:-r\d+)?$")
_HOURS_BLOCK = re.compile(r"^step_(\d+)_hours(?:-r\d+)?$")
APPROVERS_LABEL = "Approvers"
HOURS_LABEL = "Timeout (hours)"


# ---- the builder --------------------------------------------------------------------------


@dataclass
class ApprovalPick:
    """An approval step as the builder holds it: the approvers picked (Slack user ids) and the
    timeout as typed (text, so a bad value is shown back with its inline error)."""

    approvers: list[str] = field(default_factory=list)
    hours: str = str(APPROVAL_TIMEOUT_DEFAULT_H)


@dataclass
class StepPick:
    """One row of the pipeline builder: the agent picked, or the name of a deleted one, or
    an approval step (``approval`` set; it has no agent and is never an orphan)."""

    agent_id: int | None = None
    deleted_name: str | None = None
    approval: ApprovalPick | None = None


@dataclass
class PipelineForm:
    """Everything the builder shows, so Add/Remove step can rebuild it from view state.

    ``rev`` changes whenever rows may shift: Slack keeps what a user entered in an input
    whose block_id survives a views.update and ignores the new initial value, so step
    block ids carry the revision (``step_2-r3``) while ``name`` and ``budget_usd`` keep
    stable ids (their values never move).
    """

    name: str = ""
    budget: str = ""
    steps: list[StepPick] = field(default_factory=lambda: [StepPick()])
    pipeline_id: int | None = None
    rev: int = 0
    channel_id: str | None = None
    response_url: str | None = None

    def step_block(self, position: int) -> str:
        """An agent step's select, or an approval step's **Approvers**."""
        return f"step_{position}-r{self.rev}"

    def hours_block(self, position: int) -> str:
        """An approval step's **Timeout (hours)**."""
        return f"step_{position}_hours-r{self.rev}"

    def state(self) -> PipelineModalState:
        deleted = tuple(s.deleted_name if s.agent_id is None and s.approval is None else None for s in self.steps)
        kinds = tuple(StepKind.APPROVAL.value if s.approval else StepKind.AGENT.value for s in self.steps)
        return PipelineModalState(self.pipeline_id, self.rev, self.channel_id, self.response_url, deleted, kinds)

    @classmethod
    def from_view(cls, view: Mapping[str, Any]) -> PipelineForm:
        """Rebuild the form from a block_actions/view_submission payload's ``view``;
        StateUnreadable when its private_metadata is not what :meth:`state` wrote."""
        meta = PipelineModalState.decode(view.get("private_metadata"))
        values = (view.get("state") or {}).get("values") or {}
        orphans = meta.deleted_agents
        approvals = {i for i, kind in enumerate(meta.step_kinds, 1) if kind == StepKind.APPROVAL}
        picks: dict[int, int | None] = {}
        people: dict[int, list[str]] = {}
        hours: dict[int, str] = {}
        for block_id, actions in values.items():
            if m := _HOURS_BLOCK.match(block_id):
                hours[int(m.group(1))] = str((actions.get(INPUT) or {}).get("value") or "")
                continue
            m = _STEP_BLOCK.match(block_id)
            if not m:
                continue
            state = actions.get(INPUT) or {}
            if int(m.group(1)) in approvals:
                people[int(m.group(1))] = [str(u) for u in state.get("selected_users") or [] if u]
                continue
            selected = state.get("selected_option")
            picks[int(m.group(1))] = as_int(selected.get("value")) if selected else None
        count = max([len(orphans), len(meta.step_kinds), *picks.keys(), 1])
        steps = []
        for pos in range(1, count + 1):
            if pos in approvals:
                steps.append(StepPick(approval=ApprovalPick(people.get(pos, []), hours.get(pos, "").strip())))
                continue
            agent_id = picks.get(pos)
            deleted = orphans[pos - 1] if pos - 1 < len(orphans) else None
            steps.append(StepPick(agent_id, deleted if agent_id is None else None))
        return cls(
            name=text_value(values, "name"),
            budget=text_value(values, BUDGET_BLOCK),
            steps=steps,
            pipeline_id=meta.pipeline_id,
            rev=meta.rev,
            channel_id=meta.channel_id,
            response_url=meta.response_url,
        )

    def error_block(self, key: str) -> str:
        """The block_id for a core.pipelines error key (``name``, ``step_N``, ``budget_usd``,
        and an approval step's ``step_N_hours``)."""
        if m := re.match(r"^step_(\d+)_hours$", key):
            return self.hours_block(max(min(int(m.group(1)), len(self.steps)), 1))
        m = re.match(r"^step_(\d+)$", key)
        if m:
            pos = min(int(m.group(1)), len(self.steps))
            return self.step_block(max(pos, 1))
        return key


def _agent_option(agent: Any) -> Option:
    return Option(
        value=str(agent.id),
        text=clip(agent.name, OPTION_TEXT_LIMIT),
        description=clip(model_label(getattr(agent, "model", None)), OPTION_TEXT_LIMIT),
    )


def agent_options(agents: Sequence[Any], keep: Iterable[int] = ()) -> list[Option]:
    """At most 100 agents for a step select, alphabetical; agents already used are kept."""
    keep = set(keep)
    chosen = [a for a in agents if a.id in keep]
    for a in agents:
        if len(chosen) >= SELECT_OPTIONS_LIMIT:
            break
        if a.id not in keep:
            chosen.append(a)
    chosen.sort(key=lambda a: a.name.casefold())
    return [_agent_option(a) for a in chosen]


def no_agents_modal(*, editing: bool = False) -> View:
    """A pipeline needs agents to pick from: say how to make one instead of empty menus."""
    again = f"`{COMMAND} pipeline edit NAME`" if editing else f"`{COMMAND} pipeline new`"
    return View(
        type="modal",
        callback_id=INFO_CALLBACK,
        title=modal_title("Edit pipeline" if editing else "New pipeline"),
        close=PlainTextObject(text="Close"),
        blocks=[
            section(
                "*There are no agents in this workspace.*\nA pipeline chains agents, "
                f"so create one first with `{COMMAND} agent new`, then run {again} again."
            )
        ],
    )


def _approval_blocks(form: PipelineForm, pos: int, pick: ApprovalPick) -> list[Block]:
    """An approval step: **Approvers** (empty: whoever starts the run) and **Timeout (hours)**."""
    return [
        section(f"*Step {pos} · {APPROVAL_STEP}*\nThe run waits here until someone approves step {pos - 1}'s output."),
        InputBlock(
            block_id=form.step_block(pos),
            label=APPROVERS_LABEL,
            optional=True,
            element=UserMultiSelectElement(
                action_id=INPUT, placeholder="Whoever starts the run", initial_users=pick.approvers or None
            ),
            hint="Only they may approve, edit or reject. Empty: whoever starts the run.",
        ),
        InputBlock(
            block_id=form.hours_block(pos),
            label=HOURS_LABEL,
            optional=True,
            element=PlainTextInputElement(
                action_id=INPUT,
                max_length=6,
                initial_value=pick.hours or None,
                placeholder=str(APPROVAL_TIMEOUT_DEFAULT_H),
            ),
            hint=(
                f"Whole hours, {APPROVAL_TIMEOUT_MIN_H} to {APPROVAL_TIMEOUT_MAX_H}; not approved by then, the run fails."
            ),
        ),
    ]


def _step_blocks(form: PipelineForm, options: Sequence[Option]) -> list[Block]:
    """Step 1…N, each a select of agents (or an approval step's fields); a step whose agent was
    deleted says so."""
    by_value = {o.value: o for o in options}
    blocks: list[Block] = []
    for pos, step in enumerate(form.steps, 1):
        if step.approval is not None:
            blocks += _approval_blocks(form, pos, step.approval)
            continue
        initial = by_value.get(str(step.agent_id)) if step.agent_id is not None else None
        if step.deleted_name and initial is None:
            placeholder = clip(f"⚠️ deleted agent: {step.deleted_name}", PLACEHOLDER_TEXT_LIMIT)
            hint = "The agent this step used was deleted. Pick another agent for this step."
        else:
            placeholder = "Pick an agent"
            hint = "Receives the pipeline's input." if pos == 1 else f"Receives step {pos - 1}'s output."
        element = StaticSelectElement(action_id=INPUT, placeholder=placeholder, options=options, initial_option=initial)
        blocks.append(
            InputBlock(block_id=form.step_block(pos), label=f"Step {pos}", element=element, hint=hint, optional=True)
        )
    return blocks


def _step_controls(form: PipelineForm) -> ActionsBlock | None:
    """*Add step* and *Add approval* (below the limit) and *Remove a step…* (more than one), or None."""
    controls: list[ButtonElement | StaticSelectElement] = []
    if len(form.steps) < MAX_STEPS:
        controls.append(ButtonElement(action_id=ADD_STEP, text="➕ Add step", value="add"))
        controls.append(ButtonElement(action_id=ADD_APPROVAL, text="⏸️ Add approval", value="approval"))
    if len(form.steps) > 1:
        controls.append(
            StaticSelectElement(
                action_id=REMOVE_STEP,
                placeholder="Remove a step…",
                options=[Option(value=str(i), text=f"Remove step {i}") for i in range(1, len(form.steps) + 1)],
            )
        )
    if not controls:
        return None
    return ActionsBlock(block_id=f"step_controls-r{form.rev}", elements=controls)


def pipeline_modal(agents: Sequence[Any], form: PipelineForm) -> View:
    """The builder: Name, Step 1…N (each a select of agents), Add step / remove a step,
    and an optional budget. A step whose agent was deleted says so and must be re-picked."""
    if not agents:
        return no_agents_modal(editing=form.pipeline_id is not None)
    options = agent_options(agents, keep=[s.agent_id for s in form.steps if s.agent_id is not None])
    blocks: list[Block] = [
        InputBlock(
            block_id="name",
            label="Name",
            element=PlainTextInputElement(
                action_id=INPUT,
                max_length=NAME_MAX,
                initial_value=clip(form.name, NAME_MAX) or None,
                placeholder="e.g. Weekly digest",
            ),
            hint=f"Unique in this workspace; run it with {COMMAND} run NAME INPUT.",
        ),
    ]
    blocks += _step_blocks(form, options)
    controls = _step_controls(form)
    if controls:
        blocks.append(controls)
    blocks.append(
        InputBlock(
            block_id=BUDGET_BLOCK,
            label="Budget (USD)",
            optional=True,
            element=PlainTextInputElement(
                action_id=INPUT, max_length=12, initial_value=form.budget or None, placeholder="e.g. 0.50"
            ),
            hint="Optional. A run stops once its cost passes this amount.",
        )
    )
    return form_modal(
        PIPELINE_CALLBACK,
        "Edit pipeline" if form.pipeline_id else "New pipeline",
        "Save",
        form.state().encode(),
        blocks,
    )


def form_from_pipeline(
    pipeline: Any, *, channel_id: str | None = None, response_url: str | None = None
) -> PipelineForm:
    """The builder's starting state for `pipeline edit`: orphaned steps keep their old name,
    approval steps their approvers and timeout."""
    steps = [
        StepPick(approval=ApprovalPick(list(st.approvers or []), str(st.timeout_hours or APPROVAL_TIMEOUT_DEFAULT_H)))
        if is_approval(st)
        else StepPick(st.agent_id, st.agent_name if st.agent_id is None else None)
        for st in pipeline.steps
    ]
    budget = getattr(pipeline, "budget_usd", None)
    return PipelineForm(
        name=pipeline.name,
        budget=money(budget) if budget is not None else "",
        steps=steps or [StepPick()],
        pipeline_id=pipeline.id,
        channel_id=channel_id,
        response_url=response_url,
    )


# ---- the list ----------------------------------------------------------------------------


def pipeline_line(pipeline: Any) -> str:
    steps = []
    orphaned = False
    for st in pipeline.steps:
        if is_approval(st):
            steps.append(f"⏸️ {APPROVAL_STEP}")
        elif st.agent_id is None:
            orphaned = True
            steps.append(f"⚠️ ~{escape_mrkdwn(st.agent_name)}~ (deleted)")
        else:
            steps.append(escape_mrkdwn(st.agent_name))
    flow = " → ".join(steps) or "no steps"
    head = f"{'⚠️ ' if orphaned else ''}*{escape_mrkdwn(pipeline.name)}*"
    extra = ""
    if getattr(pipeline, "budget_usd", None) is not None:
        extra = f" · budget ${money(pipeline.budget_usd)}"
    note = "\n_Uses a deleted agent: edit it and pick another before running it._" if orphaned else ""
    return f"{head}{extra}\n{flow}{note}"


def pipelines_message(pipelines: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """`/pipebot pipelines`: steps in order; pipelines with a deleted agent marked ⚠️."""
    return list_message(
        "pipeline",
        [pipeline_line(p) for p in pipelines],
        [p.id for p in pipelines],
        PIPELINE_MENU,
        f"There are no pipelines yet. Chain agents into one with `{COMMAND} pipeline new`.",
        f"`{COMMAND} run NAME INPUT…` runs one · `{COMMAND} pipeline new` adds one",
    )

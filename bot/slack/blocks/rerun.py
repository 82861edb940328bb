"""Block Kit for "Re-run from…": the button that opens it, and the modal with its inputs
**Step**, **Agent**, **Model** and **Input**.

Pure builders. The Agent and Input blocks carry the step in their block ids: when the person
picks another step, the modal is rebuilt for it (that step's agent preselected, what reached
it prefilled), and Slack keeps what was typed in a block unless its id changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.blocks.agents import model_select
from bot.slack.blocks.common import INPUT, button, context, form_modal, name_md, one_line
from bot.slack.blocks.limits import OPTION_TEXT_LIMIT, PLAIN_TEXT_INPUT_LIMIT, SELECT_OPTIONS_LIMIT
from bot.slack.modal_state import RerunState
from bot.slack.text import clip

RERUN_ACTION = "artifact_rerun"  # the button, wherever it is: value "{artifact_id}:{version}"
RERUN_CALLBACK = "pipebot_rerun_modal"
RERUN_STEP_ACTION = "pipebot_rerun_step"  # picking another step rebuilds the modal for it
STEP_BLOCK = "step"
MODEL_BLOCK = "model"
BUTTON_TEXT = "Re-run from…"


def agent_block(step: int) -> str:
    return f"agent-{step}"


def input_block(step: int) -> str:
    return f"input-{step}"


def rerun_button(artifact_id: str, version: int) -> ButtonElement:
    """The "Re-run from…" button for a version of an artifact."""
    return button(BUTTON_TEXT, RERUN_ACTION, value=f"{artifact_id}:{version}")


def parse_button_value(value: str) -> tuple[str, int | None] | None:
    """``(artifact_id, version)`` from the button's value (no version: the latest); None when
    it is not one."""
    artifact_id, _, version = (value or "").partition(":")
    if not artifact_id:
        return None
    if not version:
        return artifact_id, None
    return (artifact_id, int(version)) if version.isdigit() and int(version) >= 1 else None


@dataclass(frozen=True)
class RerunForm:
    """What the modal shows for one step of one version of an artifact."""

    pipeline_name: str
    version: int
    steps: Sequence[tuple[int, str]]  # (position, agent name) of the pipeline's steps
    step: int  # the step shown
    agents: Sequence[tuple[int, str]]  # (id, name) of the workspace's agents
    agent_id: int | None  # the step's agent, preselected
    providers: Sequence[str]  # providers with a key: the Model menu
    input_text: str  # what reached the step in the source


def _option(value: str, text: str) -> Option:
    return Option(value=value, text=clip(one_line(text, OPTION_TEXT_LIMIT), OPTION_TEXT_LIMIT))


def _input_field(form: RerunForm) -> InputBlock:
    """The step's input, prefilled with what reached it in the source when a Slack form holds it."""
    fits = len(form.input_text) <= PLAIN_TEXT_INPUT_LIMIT
    hint = (
        f"Replaces what reaches step {form.step}; leave it as it is to keep it."
        if fits
        else f"What reached step {form.step} is {len(form.input_text):,} characters, more than a Slack form "
        f"holds ({PLAIN_TEXT_INPUT_LIMIT:,}), so it is not shown. Leave this empty to keep it unchanged, "
        f"or type a new input."
    )
    return InputBlock(
        block_id=input_block(form.step),
        label="Input",
        optional=True,
        hint=hint,
        element=PlainTextInputElement(
            action_id=INPUT,
            multiline=True,
            max_length=PLAIN_TEXT_INPUT_LIMIT,
            initial_value=form.input_text if fits and form.input_text else None,
        ),
    )


def rerun_modal(form: RerunForm, state: RerunState) -> View:
    """The "Re-run from…" modal; ``state`` (artifact, version, where to post) goes in
    ``private_metadata`` with the step shown."""
    steps = [_option(str(p), f"Step {p} · {name}") for p, name in form.steps][:SELECT_OPTIONS_LIMIT]
    initial_step = next((o for o in steps if o.value == str(form.step)), None)
    agents = sorted(form.agents, key=lambda a: a[0] != form.agent_id)[:SELECT_OPTIONS_LIMIT]
    agent_options = [_option(str(aid), name) for aid, name in agents]
    initial_agent = next((o for o in agent_options if o.value == str(form.agent_id)), None)
    blocks: list[Block] = [
        context(
            f"{name_md(form.pipeline_name)} · version {form.version}. Steps before the one you pick are "
            "reused as they are, at no cost."
        ),
        InputBlock(
            block_id=STEP_BLOCK,
            label="Step",
            dispatch_action=True,
            element=StaticSelectElement(
                action_id=RERUN_STEP_ACTION, placeholder="Pick a step", options=steps, initial_option=initial_step
            ),
            hint="The step to run again; the steps after it run too.",
        ),
    ]
    if agent_options:  # none: every agent was deleted, and the step fails as orphaned steps do
        blocks.append(
            InputBlock(
                block_id=agent_block(form.step),
                label="Agent",
                element=StaticSelectElement(
                    action_id=INPUT, placeholder="Pick an agent", options=agent_options, initial_option=initial_agent
                ),
                hint="The step's agent, or another of this workspace.",
            )
        )
    if form.providers:  # a select needs options: no key, no models to offer
        blocks.append(
            InputBlock(
                block_id=MODEL_BLOCK,
                label="Model",
                optional=True,
                element=model_select(form.providers)[0],
                hint="Optional: overrides the agent's model for this step.",
            )
        )
    blocks.append(_input_field(form))
    return form_modal(RERUN_CALLBACK, "Re-run from…", "Run", replace(state, step_shown=form.step).encode(), blocks)


def branch_note(step: int, version: int) -> str:
    """The input line of a branch's "running…" message: where it starts, from what."""
    return f"Re-run from step {step} of version {version}"

"""Block Kit for pipebot's modals and messages: pure builders, no network, no database.

Why slack_sdk.models and not dicts: the model classes check Slack's limits (24-char
titles, 75-char option text, 100 options, 3000-char sections and private_metadata)
when ``to_dict()`` runs, so a limit we forgot fails in a unit test here instead of as
``invalid_arguments`` in front of a user. Limits the SDK does not check (options summed
over groups, ``plain_text_input.max_length``) are enforced here by construction.

Builders take plain values or duck-typed objects (an ORM ``Agent`` or a
``SimpleNamespace`` with the same attributes), so tests can build every view without
PostgreSQL. Untrusted text (agent and pipeline names, prompts) goes into mrkdwn only
through ``escape_mrkdwn`` and into plain_text fields as is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    NumberInputElement,
    Option,
    OptionGroup,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.text import clip, escape_mrkdwn
from providers import catalog
from providers.catalog import ModelInfo
from providers.registry import PROVIDER_IDS, PROVIDER_NAMES

# ---- ids shared with the handlers (bot/slack_commands.py) ---------------------------------

AGENT_CALLBACK = "pipebot_agent_save"
PIPELINE_CALLBACK = "pipebot_pipeline_save"
SETTINGS_CALLBACK = "pipebot_settings_save"
INFO_CALLBACK = "pipebot_info"  # views without inputs (no key yet, checking…, saved)

INPUT = "value"  # action_id of every modal input: block_ids say which field it is
AGENT_FIELDS = ("name", "system_prompt", "model", "temperature", "max_output_tokens")
BUDGET_BLOCK = "budget_usd"

ADD_STEP = "pipebot_add_step"
REMOVE_STEP = "pipebot_remove_step"
AGENT_MENU = "pipebot_agent_menu"  # overflow on an agent in the list: edit / delete
PIPELINE_MENU = "pipebot_pipeline_menu"
DELETE_AGENT = "pipebot_delete_agent"
DELETE_PIPELINE = "pipebot_delete_pipeline"
DELETE_CANCEL = "pipebot_delete_cancel"

MAX_OPTIONS = 100  # per select, groups included (DESIGN §5)
MAX_STEPS = 10
NAME_MAX = 80
PROMPT_MAX = 3000
METADATA_MAX = 3000
LIST_ITEMS_WITH_MENUS = 40  # 50 blocks per message: a header, items, a footer

_STEP_BLOCK = re.compile(r"^step_(\d+)(?:-r\d+)?$")


# ---- private_metadata ---------------------------------------------------------------------

def encode_metadata(meta: Mapping[str, Any]) -> str:
    """Compact JSON for ``private_metadata`` (≤ 3000 chars). Never put secrets in it: Slack
    echoes it back in every payload. The response_url is dropped first if space runs out."""
    data = {k: v for k, v in meta.items() if v is not None}
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(text) > METADATA_MAX and "r" in data:
        data.pop("r")
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(text) > METADATA_MAX:
        raise ValueError(f"private_metadata would be {len(text)} chars (limit {METADATA_MAX})")
    return text


def decode_metadata(text: str | None) -> dict[str, Any]:
    """The dict ``encode_metadata`` wrote, or {} for anything else (it comes back from Slack)."""
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# ---- small helpers -------------------------------------------------------------------------

def _md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=_md(clip(text, 3000)))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[_md(clip(text, 3000))])


def _title(text: str) -> PlainTextObject:
    return PlainTextObject(text=clip(text, 24))


def model_label(ref: str | None) -> str:
    """A model's display name for lists ("Claude Haiku 4.5"), or the raw ref if unknown."""
    if not ref:
        return "no model"
    try:
        info = catalog.lookup(ref)
    except ValueError:
        info = None
    return info.display_name if info else ref


def _join_words(items: Sequence[str]) -> str:
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# ---- the model menu ------------------------------------------------------------------------

def _model_option(info: ModelInfo) -> Option:
    detail = info.id
    if info.supports_temperature and info.temperature_range:
        lo, hi = info.temperature_range
        detail += f" · temperature {lo:g}–{hi:g}"
    if info.deprecated:
        detail += " · older"
    return Option(value=info.ref, text=clip(info.display_name, 75), description=clip(detail, 75))


def menu_models(providers: Sequence[str], *, current: str | None = None,
                limit: int = MAX_OPTIONS) -> dict[str, list[ModelInfo]]:
    """The catalog models each provider contributes to the menu, at most ``limit`` in all.

    When the catalog outgrows the limit, older (deprecated) models go first, then the
    tail of the longest list; the agent's current model always stays so an edit can
    show it selected.
    """
    current_info = None
    if current:
        try:
            current_info = catalog.lookup(current)
        except ValueError:
            current_info = None
    lists = {p: [m for m in catalog.models_for(p) if len(m.ref) <= 150] for p in providers}

    def total() -> int:
        return sum(len(v) for v in lists.values())

    def drop_one(pred: Any) -> bool:
        candidates = [(p, i) for p, ms in lists.items() for i, m in enumerate(ms) if pred(m) and m != current_info]
        if not candidates:
            return False
        p, i = max(candidates, key=lambda c: (len(lists[c[0]]), c[1]))
        del lists[p][i]
        return True

    while total() > limit and drop_one(lambda m: m.deprecated):
        pass
    while total() > limit and drop_one(lambda m: True):
        pass
    return {p: ms for p, ms in lists.items() if ms}


def model_select(providers: Sequence[str], *, current: str | None = None) -> tuple[StaticSelectElement, bool]:
    """A ``static_select`` grouped by provider, and whether ``current`` could be preselected."""
    groups: list[OptionGroup] = []
    initial: Option | None = None
    current_ref = None
    if current:
        try:
            info = catalog.lookup(current)
            current_ref = info.ref if info else current
        except ValueError:
            current_ref = None
    for provider, models in menu_models(providers, current=current).items():
        options = [_model_option(m) for m in models]
        for opt in options:
            if opt.value == current_ref:
                initial = opt
        groups.append(OptionGroup(label=clip(PROVIDER_NAMES.get(provider, provider), 75), options=options))
    select = StaticSelectElement(action_id=INPUT, placeholder="Pick a model", option_groups=groups,
                                 initial_option=initial)
    return select, initial is not None


def temperature_hint(providers: Sequence[str]) -> str:
    """Which of the menu's models take a temperature: most current ones take none."""
    takers = [m for p in providers for m in catalog.models_for(p) if m.supports_temperature]
    if not takers:
        return "None of the models available here accepts a temperature: leave this empty."
    lo = min(m.temperature_range[0] for m in takers if m.temperature_range) if any(
        m.temperature_range for m in takers) else 0
    hi = max(m.temperature_range[1] for m in takers if m.temperature_range) if any(
        m.temperature_range for m in takers) else 2
    names = _join_words([m.display_name for m in takers])
    return clip(f"Optional. Only {names} accept a temperature ({lo:g}–{hi:g}); leave it empty for the others.", 2000)


# ---- agent modal ---------------------------------------------------------------------------

def no_provider_modal(*, is_new: bool = True) -> View:
    """What `agent new` shows when no provider has a key: a way forward, not an empty menu."""
    return View(
        type="modal", callback_id=INFO_CALLBACK, title=_title("New agent" if is_new else "Edit agent"),
        close=PlainTextObject(text="Close"),
        blocks=[
            _section("*No AI provider is set up for this workspace yet.*\n"
                     "An agent needs a model from Anthropic or OpenAI, and that needs an API key. "
                     "A workspace admin can add one with `/pipebot settings`; then run "
                     "`/pipebot agent new` again."),
        ],
    )


def agent_modal(providers: Sequence[str], *, agent: Any = None, name: str | None = None,
                metadata: Mapping[str, Any] | None = None) -> View:
    """The agent form. ``agent`` (with name, system_prompt, model, temperature,
    max_output_tokens) prefills an edit; ``name`` prefills a new one (`agent new Foo`).

    Block ids are the field names core.agents uses for its errors, so a ValidationFailed
    maps straight onto ``response_action: errors``.
    """
    if not providers:
        return no_provider_modal(is_new=agent is None)
    current_model = getattr(agent, "model", None)
    select, preselected = model_select(providers, current=current_model)
    initial_name = getattr(agent, "name", None) or name or None
    prompt = getattr(agent, "system_prompt", None) or None
    temperature = getattr(agent, "temperature", None)
    max_tokens = getattr(agent, "max_output_tokens", None)
    blocks: list[Block] = [
        InputBlock(block_id="name", label="Name",
                   element=PlainTextInputElement(action_id=INPUT, max_length=NAME_MAX,
                                                 initial_value=clip(initial_name, NAME_MAX) if initial_name else None,
                                                 placeholder="e.g. Summariser"),
                   hint="Unique in this workspace; used in `/pipebot run` and in pipelines."),
        InputBlock(block_id="system_prompt", label="System prompt",
                   element=PlainTextInputElement(action_id=INPUT, multiline=True, max_length=PROMPT_MAX,
                                                 initial_value=prompt[:PROMPT_MAX] if prompt else None,
                                                 placeholder="You are a careful editor. Summarise the input in five bullet points."),
                   hint=f"Instructions the model follows on every run (up to {PROMPT_MAX:,} characters)."),
        InputBlock(block_id="model", label="Model", element=select,
                   hint="Only providers with an API key in this workspace are listed."),
    ]
    if current_model and not preselected:
        blocks.append(_context(f"⚠️ The current model, *{escape_mrkdwn(model_label(current_model))}*, "
                               "is not available here any more (no key for its provider). Pick another."))
    blocks += [
        InputBlock(block_id="temperature", label="Temperature", optional=True,
                   element=PlainTextInputElement(action_id=INPUT, max_length=10,
                                                 initial_value=f"{temperature:g}" if temperature is not None else None,
                                                 placeholder="e.g. 0.7"),
                   hint=temperature_hint(providers)),
        InputBlock(block_id="max_output_tokens", label="Max output tokens", optional=True,
                   element=NumberInputElement(action_id=INPUT, is_decimal_allowed=False, min_value="1",
                                              initial_value=str(max_tokens) if max_tokens is not None else None,
                                              placeholder="e.g. 2048"),
                   hint="Optional. The longest reply the model may write; empty uses a sensible default."),
    ]
    return View(
        type="modal", callback_id=AGENT_CALLBACK, title=_title("Edit agent" if agent is not None else "New agent"),
        submit=PlainTextObject(text="Save"), close=PlainTextObject(text="Cancel"),
        private_metadata=encode_metadata(metadata or {}), blocks=blocks,
    )


# ---- pipeline modal ------------------------------------------------------------------------

@dataclass
class StepPick:
    """One row of the pipeline builder: the agent picked, or the name of a deleted one."""

    agent_id: int | None = None
    deleted_name: str | None = None


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
        return f"step_{position}-r{self.rev}"

    def metadata(self) -> dict[str, Any]:
        return {"p": self.pipeline_id, "v": self.rev, "c": self.channel_id, "r": self.response_url,
                "o": [s.deleted_name if s.agent_id is None else None for s in self.steps]}

    @classmethod
    def from_view(cls, view: Mapping[str, Any]) -> PipelineForm:
        """Rebuild the form from a block_actions/view_submission payload's ``view``."""
        meta = decode_metadata(view.get("private_metadata"))
        values = (view.get("state") or {}).get("values") or {}
        orphans = meta.get("o") or []
        picks: dict[int, int | None] = {}
        for block_id, actions in values.items():
            m = _STEP_BLOCK.match(block_id)
            if not m:
                continue
            selected = (actions.get(INPUT) or {}).get("selected_option")
            picks[int(m.group(1))] = _int(selected.get("value")) if selected else None
        count = max([len(orphans), *picks.keys(), 1])
        steps = []
        for pos in range(1, count + 1):
            agent_id = picks.get(pos)
            deleted = orphans[pos - 1] if pos - 1 < len(orphans) else None
            steps.append(StepPick(agent_id, deleted if agent_id is None else None))
        return cls(
            name=_text_value(values, "name"), budget=_text_value(values, BUDGET_BLOCK), steps=steps,
            pipeline_id=_int(meta.get("p")), rev=_int(meta.get("v")) or 0,
            channel_id=meta.get("c"), response_url=meta.get("r"),
        )

    def error_block(self, key: str) -> str:
        """The block_id for a core.pipelines error key (``name``, ``step_N``, ``budget_usd``)."""
        m = re.match(r"^step_(\d+)$", key)
        if m:
            pos = min(int(m.group(1)), len(self.steps))
            return self.step_block(max(pos, 1))
        return key


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text_value(values: Mapping[str, Any], block_id: str) -> str:
    state = (values.get(block_id) or {}).get(INPUT) or {}
    return state.get("value") or ""


def _agent_option(agent: Any) -> Option:
    return Option(value=str(agent.id), text=clip(agent.name, 75),
                  description=clip(model_label(getattr(agent, "model", None)), 75))


def agent_options(agents: Sequence[Any], keep: Iterable[int] = ()) -> list[Option]:
    """At most 100 agents for a step select, alphabetical; agents already used are kept."""
    keep = set(keep)
    chosen = [a for a in agents if a.id in keep]
    for a in agents:
        if len(chosen) >= MAX_OPTIONS:
            break
        if a.id not in keep:
            chosen.append(a)
    chosen.sort(key=lambda a: a.name.casefold())
    return [_agent_option(a) for a in chosen]


def no_agents_modal(*, editing: bool = False) -> View:
    """A pipeline needs agents to pick from: say how to make one instead of empty menus."""
    again = "`/pipebot pipeline edit NAME`" if editing else "`/pipebot pipeline new`"
    return View(type="modal", callback_id=INFO_CALLBACK, title=_title("Edit pipeline" if editing else "New pipeline"),
                close=PlainTextObject(text="Close"),
                blocks=[_section("*There are no agents in this workspace.*\nA pipeline chains agents, "
                                 f"so create one first with `/pipebot agent new`, then run {again} again.")])


def pipeline_modal(agents: Sequence[Any], form: PipelineForm) -> View:
    """The builder: Name, Step 1…N (each a select of agents), Add step / remove a step,
    and an optional budget. A step whose agent was deleted says so and must be re-picked."""
    if not agents:
        return no_agents_modal(editing=form.pipeline_id is not None)
    options = agent_options(agents, keep=[s.agent_id for s in form.steps if s.agent_id is not None])
    by_value = {o.value: o for o in options}
    blocks: list[Block] = [
        InputBlock(block_id="name", label="Name",
                   element=PlainTextInputElement(action_id=INPUT, max_length=NAME_MAX,
                                                 initial_value=clip(form.name, NAME_MAX) or None,
                                                 placeholder="e.g. Weekly digest"),
                   hint="Unique in this workspace; run it with /pipebot run NAME INPUT."),
    ]
    for pos, step in enumerate(form.steps, 1):
        initial = by_value.get(str(step.agent_id)) if step.agent_id is not None else None
        if step.deleted_name and initial is None:
            placeholder = clip(f"⚠️ deleted agent: {step.deleted_name}", 150)
            hint = "The agent this step used was deleted. Pick another agent for this step."
        else:
            placeholder = "Pick an agent"
            hint = "Receives the pipeline's input." if pos == 1 else f"Receives step {pos - 1}'s output."
        element = StaticSelectElement(action_id=INPUT, placeholder=placeholder, options=options,
                                      initial_option=initial)
        blocks.append(InputBlock(block_id=form.step_block(pos), label=f"Step {pos}", element=element,
                                 hint=hint, optional=True))
    controls = []
    if len(form.steps) < MAX_STEPS:
        controls.append(ButtonElement(action_id=ADD_STEP, text="➕ Add step", value="add"))
    if len(form.steps) > 1:
        controls.append(StaticSelectElement(
            action_id=REMOVE_STEP, placeholder="Remove a step…",
            options=[Option(value=str(i), text=f"Remove step {i}") for i in range(1, len(form.steps) + 1)]))
    if controls:
        blocks.append(ActionsBlock(block_id=f"step_controls-r{form.rev}", elements=controls))
    blocks.append(InputBlock(block_id=BUDGET_BLOCK, label="Budget (USD)", optional=True,
                             element=PlainTextInputElement(action_id=INPUT, max_length=12,
                                                           initial_value=form.budget or None,
                                                           placeholder="e.g. 0.50"),
                             hint="Optional. A run stops once its cost passes this amount."))
    return View(type="modal", callback_id=PIPELINE_CALLBACK,
                title=_title("Edit pipeline" if form.pipeline_id else "New pipeline"),
                submit=PlainTextObject(text="Save"), close=PlainTextObject(text="Cancel"),
                private_metadata=encode_metadata(form.metadata()), blocks=blocks)


def form_from_pipeline(pipeline: Any, *, channel_id: str | None = None,
                       response_url: str | None = None) -> PipelineForm:
    """The builder's starting state for `pipeline edit`: orphaned steps keep their old name."""
    steps = [StepPick(st.agent_id, st.agent_name if st.agent_id is None else None) for st in pipeline.steps]
    budget = getattr(pipeline, "budget_usd", None)
    return PipelineForm(name=pipeline.name, budget=_money(budget) if budget is not None else "",
                        steps=steps or [StepPick()], pipeline_id=pipeline.id, channel_id=channel_id,
                        response_url=response_url)


def _money(value: Decimal | float | str) -> str:
    d = Decimal(str(value)).normalize()
    return f"{d:f}"


# ---- settings modal ------------------------------------------------------------------------

def key_block(provider: str) -> str:
    return f"{provider}_key"


def remove_block(provider: str) -> str:
    return f"{provider}_remove"


_PLACEHOLDERS = {"anthropic": "sk-ant-…", "openai": "sk-…"}


def settings_modal(status: Mapping[str, str], stored: Iterable[str], *,
                   metadata: Mapping[str, Any] | None = None, notes: Mapping[str, str] | None = None) -> View:
    """Provider keys, never shown back: each hint says only whether a key is configured and
    its last four characters. A blank field keeps the stored key; Remove deletes it.
    ``notes`` (block_id → message) shows errors found after the modal was acked."""
    stored = set(stored)
    notes = notes or {}
    blocks: list[Block] = [_context("Keys are encrypted at rest, checked with the provider before they are "
                                    "saved, and never shown again. Leave a field empty to keep the current key.")]
    for provider in PROVIDER_IDS:
        name = PROVIDER_NAMES[provider]
        state = status.get(provider, "not configured")
        hint = f"{name}: {state}." + (" Leave empty to keep it." if provider in stored else "")
        blocks.append(InputBlock(
            block_id=key_block(provider), label=f"{name} API key", optional=True, hint=clip(hint, 2000),
            element=PlainTextInputElement(action_id=INPUT, max_length=500,
                                          placeholder=f"Paste a new {name} key ({_PLACEHOLDERS[provider]})")))
        if key_block(provider) in notes:
            blocks.append(_context(f"⚠️ {escape_mrkdwn(notes[key_block(provider)])}"))
        if provider in stored:
            blocks.append(InputBlock(
                block_id=remove_block(provider), label=f"Remove the {name} key", optional=True,
                element=CheckboxesElement(action_id=INPUT, options=[
                    Option(value="remove", text=clip(f"Delete the stored {name} key ({state})", 75))])))
    return View(type="modal", callback_id=SETTINGS_CALLBACK, title=_title("pipebot settings"),
                submit=PlainTextObject(text="Save"), close=PlainTextObject(text="Cancel"),
                private_metadata=encode_metadata(metadata or {}), blocks=blocks)


def info_modal(title: str, text: str, *, close: str = "Close") -> View:
    """A modal with one message and no inputs (checking a key, saved, could not save)."""
    return View(type="modal", callback_id=INFO_CALLBACK, title=_title(title), close=PlainTextObject(text=close),
                blocks=[_section(text)])


# ---- messages ------------------------------------------------------------------------------

def _temperature(value: float | None) -> str:
    return "default temperature" if value is None else f"temperature {value:g}"


def _max_tokens(value: int | None) -> str:
    return "default max tokens" if value is None else f"max {value:,} tokens"


def agent_line(agent: Any) -> str:
    return (f"*{escape_mrkdwn(agent.name)}* — {escape_mrkdwn(model_label(agent.model))} · "
            f"{_temperature(agent.temperature)} · {_max_tokens(agent.max_output_tokens)}")


# The two list messages answer `/pipebot agents` / `pipelines` in the ack itself, so they
# are built as plain dicts: slack_sdk's to_dict() validation cost more CPU than the rest of
# the ack put together (bench/bench_slack_ack.py). Every limit is kept by construction
# (clip); tests/test_slack_views.py runs the output through the SDK's models to prove it.

def _md_dict(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _plain_dict(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _section_dict(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": _md_dict(clip(text, 3000))}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def _context_dict(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_md_dict(clip(text, 3000))]}


def _header_dict(text: str) -> dict[str, Any]:
    return {"type": "header", "text": _plain_dict(clip(text, 150))}


def _menu(action_id: str, item_id: int) -> dict[str, Any]:
    """Edit / Delete… overflow next to a list item; the value carries the id, never the name."""
    return {"type": "overflow", "action_id": action_id, "options": [
        {"text": _plain_dict("Edit"), "value": json.dumps({"do": "edit", "id": item_id})},
        {"text": _plain_dict("Delete…"), "value": json.dumps({"do": "delete", "id": item_id})},
    ]}


def _packed(lines: list[str], budget: int = 11000) -> list[dict[str, Any]]:
    """Lines packed into as few sections as fit (3000 chars each, ~11k in all: Slack rejects
    messages past about 13k chars of blocks), with a note when some had to be left out."""
    sections: list[list[str]] = [[]]
    size = used = 0
    shown = 0
    for line in (clip(x, 2900) for x in lines):
        if used + len(line) > budget:
            break
        if size + len(line) + 1 > 2900:
            sections.append([])
            size = 0
        sections[-1].append(line)
        size += len(line) + 1
        used += len(line) + 1
        shown += 1
    blocks = [_section_dict("\n".join(chunk)) for chunk in sections if chunk]
    if shown < len(lines):
        blocks.append(_context_dict(f"…and {len(lines) - shown} more."))
    return blocks


def _list_message(kind: str, lines: list[str], ids: list[int], menu: str, empty: str,
                  footer: str) -> tuple[str, list[dict[str, Any]]]:
    if not lines:
        return empty, [_section_dict(empty)]
    blocks = [_header_dict(f"{kind.capitalize()}s ({len(lines)})")]
    if len(lines) <= LIST_ITEMS_WITH_MENUS:
        blocks += [_section_dict(line, _menu(menu, item_id)) for line, item_id in zip(lines, ids)]
    else:
        blocks += _packed(lines)
    blocks.append(_context_dict(footer))
    return f"{len(lines)} {kind}(s)", blocks


def agents_message(agents: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """`/pipebot agents`: (fallback text, block dicts); each agent with an Edit/Delete menu.
    ``agents``: ORM rows or anything with id, name, model, temperature, max_output_tokens."""
    return _list_message("agent", [agent_line(a) for a in agents], [a.id for a in agents], AGENT_MENU,
                         "There are no agents yet. Create one with `/pipebot agent new`.",
                         "`/pipebot agent new` adds one · `/pipebot agent edit NAME` changes one")


def pipeline_line(pipeline: Any) -> str:
    steps = []
    orphaned = False
    for st in pipeline.steps:
        if st.agent_id is None:
            orphaned = True
            steps.append(f"⚠️ ~{escape_mrkdwn(st.agent_name)}~ (deleted)")
        else:
            steps.append(escape_mrkdwn(st.agent_name))
    flow = " → ".join(steps) or "no steps"
    head = f"{'⚠️ ' if orphaned else ''}*{escape_mrkdwn(pipeline.name)}*"
    extra = ""
    if getattr(pipeline, "budget_usd", None) is not None:
        extra = f" · budget ${_money(pipeline.budget_usd)}"
    note = "\n_Uses a deleted agent: edit it and pick another before running it._" if orphaned else ""
    return f"{head}{extra}\n{flow}{note}"


def pipelines_message(pipelines: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """`/pipebot pipelines`: steps in order; pipelines with a deleted agent marked ⚠️."""
    return _list_message("pipeline", [pipeline_line(p) for p in pipelines], [p.id for p in pipelines],
                         PIPELINE_MENU,
                         "There are no pipelines yet. Chain agents into one with `/pipebot pipeline new`.",
                         "`/pipebot run NAME INPUT…` runs one · `/pipebot pipeline new` adds one")


def confirm_delete_message(kind: str, item_id: int, name: str, used_by: Sequence[str] = ()) -> tuple[str, list[Block]]:
    """The ephemeral question before a delete; the Delete button carries the id, not the name."""
    what = f"the {kind} *{escape_mrkdwn(name)}*"
    text = f"Delete {what}? This cannot be undone."
    if used_by:
        names = _join_words([f"*{escape_mrkdwn(n)}*" for n in used_by[:10]])
        more = f" and {len(used_by) - 10} more" if len(used_by) > 10 else ""
        text += (f"\n⚠️ It is used by {len(used_by)} pipeline(s): {names}{more}. Their steps will be "
                 "marked as using a deleted agent and those pipelines won't run until someone picks another.")
    action = DELETE_AGENT if kind == "agent" else DELETE_PIPELINE
    blocks: list[Block] = [
        _section(text),
        ActionsBlock(elements=[
            ButtonElement(action_id=action, text="Delete", style="danger", value=json.dumps({"id": item_id})),
            ButtonElement(action_id=DELETE_CANCEL, text="Cancel", value="cancel"),
        ]),
    ]
    return f"Delete the {kind} {name}?", blocks

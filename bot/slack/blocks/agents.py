"""Block Kit for agents: the agent modal (with its model menu) and the agents list.

Pure builders. They take ORM rows or anything with the same attributes, so tests build
every view without PostgreSQL. Block ids are the field names core.agents uses for its
errors, so a ValidationFailed maps straight onto ``response_action: errors``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    InputBlock,
    NumberInputElement,
    Option,
    OptionGroup,
    PlainTextInputElement,
    PlainTextObject,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack.blocks.common import (
    INFO_CALLBACK,
    INPUT,
    NAME_MAX,
    context,
    form_modal,
    join_words,
    list_message,
    modal_title,
    model_label,
    section,
)
from bot.slack.blocks.limits import (
    HINT_TEXT_LIMIT,
    OPTION_TEXT_LIMIT,
    OPTION_VALUE_LIMIT,
    PLAIN_TEXT_INPUT_LIMIT,
    SELECT_OPTIONS_LIMIT,
)
from bot.slack.modal_state import AgentModalState
from bot.slack.text import clip, escape_mrkdwn
from core import agent_tools
from core.agent_tools import ServerChoice
from core.mcp.tools import server_selector
from core.messages import COMMAND
from providers import catalog, server_tools
from providers.catalog import ModelInfo
from providers.registry import PROVIDER_NAMES

AGENT_CALLBACK = "pipebot_agent_save"
AGENT_FIELDS = ("name", "system_prompt", "model", "temperature", "max_output_tokens", "tools", "sees_files")
AGENT_MENU = "pipebot_agent_menu"  # overflow on an agent in the list: edit / delete
PROMPT_MAX = PLAIN_TEXT_INPUT_LIMIT


# ---- the model menu ----------------------------------------------------------------------


SEES_FILES_BLOCK = "sees_files"  # the agent modal's "Sees the run's files" (Agent.sees_files)
SEES_FILES = "on"  # its one option's value
TAKES_TEXT_ONLY = "Takes text only: files are sent as text where possible"


def inputs_line(info: ModelInfo | None) -> str:
    """Which inputs a model takes, for people choosing it (providers.catalog says; a model the
    catalog does not know takes text only)."""
    images, pdfs = bool(info and info.supports_images), bool(info and info.supports_pdf)
    if images and pdfs:
        return "Takes text, images and PDFs"
    if images:
        return "Takes text and images: PDFs are sent as their text"
    if pdfs:
        return "Takes text and PDFs: images can't be sent to it"
    return TAKES_TEXT_ONLY


def _inputs_tag(info: ModelInfo) -> str:
    return "images, PDFs" if info.supports_images and info.supports_pdf else "text only"


def _model_option(info: ModelInfo) -> Option:
    detail = f"{info.id} · {_inputs_tag(info)}"
    if web := agent_tools.web_tag(info):
        detail += f" · {web}"
    if info.supports_temperature and info.temperature_range:
        lo, hi = info.temperature_range
        detail += f" · temperature {lo:g}–{hi:g}"
    if info.deprecated:
        detail += " · older"
    return Option(
        value=info.ref, text=clip(info.display_name, OPTION_TEXT_LIMIT), description=clip(detail, OPTION_TEXT_LIMIT)
    )


def menu_models(
    providers: Sequence[str], *, current: str | None = None, limit: int = SELECT_OPTIONS_LIMIT
) -> dict[str, list[ModelInfo]]:
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
    lists = {p: [m for m in catalog.models_for(p) if len(m.ref) <= OPTION_VALUE_LIMIT] for p in providers}

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
        label = clip(PROVIDER_NAMES.get(provider, provider), OPTION_TEXT_LIMIT)
        groups.append(OptionGroup(label=label, options=options))
    select = StaticSelectElement(
        action_id=INPUT, placeholder="Pick a model", option_groups=groups, initial_option=initial
    )
    return select, initial is not None


def temperature_hint(providers: Sequence[str]) -> str:
    """Which of the menu's models take a temperature: most current ones take none."""
    takers = [m for p in providers for m in catalog.models_for(p) if m.supports_temperature]
    if not takers:
        return "None of the models available here accepts a temperature: leave this empty."
    lo = (
        min(m.temperature_range[0] for m in takers if m.temperature_range)
        if any(m.temperature_range for m in takers)
        else 0
    )
    hi = (
        max(m.temperature_range[1] for m in takers if m.temperature_range)
        if any(m.temperature_range for m in takers)
        else 2
    )
    names = join_words([m.display_name for m in takers])
    return clip(
        f"Optional. Only {names} accept a temperature ({lo:g}–{hi:g}); leave it empty for the others.", HINT_TEXT_LIMIT
    )


# ---- the agent modal ----------------------------------------------------------------------


def no_provider_modal(*, is_new: bool = True) -> View:
    """What `agent new` shows when no provider has a key: a way forward, not an empty menu."""
    return View(
        type="modal",
        callback_id=INFO_CALLBACK,
        title=modal_title("New agent" if is_new else "Edit agent"),
        close=PlainTextObject(text="Close"),
        blocks=[
            section(
                "*No AI provider is set up for this workspace yet.*\n"
                "An agent needs a model from Anthropic or OpenAI, and that needs an API key. "
                f"A workspace admin can add one with `{COMMAND} settings`; then run "
                f"`{COMMAND} agent new` again."
            ),
        ],
    )


def _identity_blocks(name: str | None, prompt: str | None) -> list[Block]:
    """The agent's name and system prompt."""
    return [
        InputBlock(
            block_id="name",
            label="Name",
            element=PlainTextInputElement(
                action_id=INPUT,
                max_length=NAME_MAX,
                initial_value=clip(name, NAME_MAX) if name else None,
                placeholder="e.g. Summariser",
            ),
            hint=f"Unique in this workspace; used in `{COMMAND} run` and in pipelines.",
        ),
        InputBlock(
            block_id="system_prompt",
            label="System prompt",
            element=PlainTextInputElement(
                action_id=INPUT,
                multiline=True,
                max_length=PROMPT_MAX,
                initial_value=prompt[:PROMPT_MAX] if prompt else None,
                placeholder="You are a careful editor. Summarise the input in five bullet points.",
            ),
            hint=f"Instructions the model follows on every run (up to {PROMPT_MAX:,} characters).",
        ),
    ]


def _tuning_blocks(providers: Sequence[str], temperature: float | None, max_tokens: int | None) -> list[Block]:
    """The optional temperature and max output tokens."""
    return [
        InputBlock(
            block_id="temperature",
            label="Temperature",
            optional=True,
            element=PlainTextInputElement(
                action_id=INPUT,
                max_length=10,
                initial_value=f"{temperature:g}" if temperature is not None else None,
                placeholder="e.g. 0.7",
            ),
            hint=temperature_hint(providers),
        ),
        InputBlock(
            block_id="max_output_tokens",
            label="Max output tokens",
            optional=True,
            element=NumberInputElement(
                action_id=INPUT,
                is_decimal_allowed=False,
                min_value="1",
                initial_value=str(max_tokens) if max_tokens is not None else None,
                placeholder="e.g. 2048",
            ),
            hint="Optional. The longest reply the model may write; empty uses a sensible default.",
        ),
    ]


def _info(ref: str) -> ModelInfo | None:
    try:
        return catalog.lookup(ref)
    except ValueError:
        return None


def _sees_files_block(on: bool) -> InputBlock:
    """Step 1 always gets the run's files; a later step's agent only when this is on."""
    option = Option(
        value=SEES_FILES,
        text="Sees the run's files",
        description="In a later step too, this agent gets the files the run was given",
    )
    return InputBlock(
        block_id=SEES_FILES_BLOCK,
        label="Files",
        optional=True,
        element=CheckboxesElement(action_id=INPUT, options=[option], initial_options=[option] if on else None),
        hint="The first step always gets them. Images and PDFs go to models that take them.",
    )


# ---- the Tools menu -----------------------------------------------------------------------

TOOLS_BLOCK = "tools"
#: The options every menu has (built-in and web tools): the rest of the 100 is for servers.
_FIXED_OPTIONS = len(agent_tools.BUILT_IN) + len(agent_tools.SERVER)


def _web_description(providers: Sequence[str], entry: str) -> str | None:
    """Which providers' models have a web tool, when not all of the menu's do."""
    having = [p for p in providers if any(server_tools.supports(m, entry) for m in catalog.models_for(p))]
    if not providers or len(having) == len(providers):
        return None
    if not having:
        return "None of the models here has it"
    return clip(f"{join_words([PROVIDER_NAMES.get(p, p) for p in having])} models only", OPTION_TEXT_LIMIT)


def _server_option(server: ServerChoice) -> Option | None:
    value = server_selector(server.name)
    if len(value) > OPTION_VALUE_LIMIT:  # a value cut short would name another server
        return None
    count = agent_tools.tool_count_text(server.tool_count) if server.tool_count is not None else None
    return Option(value=value, text=clip(agent_tools.all_tools_of(server.name), OPTION_TEXT_LIMIT), description=count)


def menu_servers(
    servers: Sequence[ServerChoice], selected: Sequence[str], limit: int = SELECT_OPTIONS_LIMIT - _FIXED_OPTIONS
) -> list[ServerChoice]:
    """The servers that get a group, at most ``limit``: those the agent uses first, so an
    edit can show them selected, then the others in the order given."""
    chosen = {e.lower() for e in selected}
    first = [sv for sv in servers if server_selector(sv.name).lower() in chosen]
    rest = [sv for sv in servers if server_selector(sv.name).lower() not in chosen]
    keep = {id(sv) for sv in (first + rest)[:limit]}
    return [sv for sv in servers if id(sv) in keep]


def tools_select(
    providers: Sequence[str], current: Sequence[str], servers: Sequence[ServerChoice]
) -> tuple[StaticMultiSelectElement, list[str]]:
    """The **Tools** ``multi_static_select`` (built in, the web, one group per MCP server),
    and the agent's tools it cannot show (a removed server, a name no longer known), which
    saving the form drops."""
    menu: list[tuple[str, list[Option]]] = [
        (agent_tools.GROUP_BUILT_IN, [Option(value=e, text=agent_tools.label(e)) for e in agent_tools.BUILT_IN]),
        (
            agent_tools.GROUP_WEB,
            [
                Option(value=e, text=agent_tools.label(e), description=_web_description(providers, e))
                for e in agent_tools.SERVER
            ],
        ),
    ]
    for server in menu_servers(servers, current):
        if (option := _server_option(server)) is not None:
            menu.append((clip(server.name, OPTION_TEXT_LIMIT), [option]))
    groups = [OptionGroup(label=label, options=options) for label, options in menu]
    by_value = {str(o.value).lower(): o for _, options in menu for o in options}
    initial: list[Option] = []
    missing: list[str] = []
    for entry in current:
        option = by_value.get(entry.lower())
        if option is None:
            missing.append(entry)
        elif option not in initial:
            initial.append(option)
    select = StaticMultiSelectElement(
        action_id=INPUT, placeholder="Pick tools", option_groups=groups, initial_options=initial or None
    )
    return select, missing


def tools_blocks(providers: Sequence[str], current: Sequence[str], servers: Sequence[ServerChoice]) -> list[Block]:
    """The optional **Tools** input, and a line under it naming the agent's tools that are gone."""
    select, missing = tools_select(providers, current, servers)
    blocks: list[Block] = [
        InputBlock(
            block_id=TOOLS_BLOCK,
            label="Tools",
            optional=True,
            element=select,
            hint=(
                "Optional. Web search and fetch are the model provider's own tools (a fee per use). "
                f"An admin adds MCP servers with `{COMMAND} mcp add`."
            ),
        )
    ]
    if missing:
        names = [agent_tools.mcp_server_name(e) if agent_tools.is_mcp(e) else e for e in missing]
        blocks.append(context(f"⚠️ {escape_mrkdwn(agent_tools.removed_servers_note(names))}"))
    return blocks


def agent_modal(
    providers: Sequence[str],
    *,
    agent: Any = None,
    name: str | None = None,
    state: AgentModalState | None = None,
    servers: Sequence[ServerChoice] = (),
) -> View:
    """The agent form. ``agent`` (with name, system_prompt, model, temperature,
    max_output_tokens, tools) prefills an edit; ``name`` prefills a new one (`agent new Foo`);
    ``servers``: the workspace's MCP servers, one group each in **Tools**.

    Block ids are the field names core.agents uses for its errors, so a ValidationFailed
    maps straight onto ``response_action: errors``.
    """
    if not providers:
        return no_provider_modal(is_new=agent is None)
    current_model = getattr(agent, "model", None)
    select, preselected = model_select(providers, current=current_model)
    blocks = _identity_blocks(
        getattr(agent, "name", None) or name or None, getattr(agent, "system_prompt", None) or None
    )
    current_info = _info(current_model) if current_model else None
    takes = f"{inputs_line(current_info)}. {agent_tools.web_line(current_info)}. " if current_info else ""
    blocks.append(
        InputBlock(
            block_id="model",
            label="Model",
            element=select,
            hint=f"{takes}Only providers with an API key in this workspace are listed.",
        )
    )
    if current_model and not preselected:
        blocks.append(
            context(
                f"⚠️ The current model, *{escape_mrkdwn(model_label(current_model))}*, "
                "is not available here any more (no key for its provider). Pick another."
            )
        )
    blocks += _tuning_blocks(providers, getattr(agent, "temperature", None), getattr(agent, "max_output_tokens", None))
    blocks += tools_blocks(providers, list(getattr(agent, "tools", None) or []), servers)
    blocks.append(_sees_files_block(bool(getattr(agent, "sees_files", False))))
    return form_modal(
        AGENT_CALLBACK,
        "Edit agent" if agent is not None else "New agent",
        "Save",
        (state or AgentModalState()).encode(),
        blocks,
    )


# ---- the list ----------------------------------------------------------------------------


def _temperature(value: float | None) -> str:
    return "default temperature" if value is None else f"temperature {value:g}"


def _max_tokens(value: int | None) -> str:
    return "default max tokens" if value is None else f"max {value:,} tokens"


def _tools(entries: Sequence[str] | None) -> str:
    return f" · tools: {escape_mrkdwn(agent_tools.labels(entries))}" if entries else ""


def agent_line(agent: Any) -> str:
    return (
        f"*{escape_mrkdwn(agent.name)}* — {escape_mrkdwn(model_label(agent.model))} · "
        f"{_temperature(agent.temperature)} · {_max_tokens(agent.max_output_tokens)}"
        f"{_tools(getattr(agent, 'tools', None))}"
    )


def agents_message(agents: Sequence[Any]) -> tuple[str, list[dict[str, Any]]]:
    """`/pipebot agents`: (fallback text, block dicts); each agent with an Edit/Delete menu.
    ``agents``: ORM rows or anything with id, name, model, temperature, max_output_tokens
    (and tools, shown by label when set)."""
    return list_message(
        "agent",
        [agent_line(a) for a in agents],
        [a.id for a in agents],
        AGENT_MENU,
        f"There are no agents yet. Create one with `{COMMAND} agent new`.",
        f"`{COMMAND} agent new` adds one · `{COMMAND} agent edit NAME` changes one",
    )

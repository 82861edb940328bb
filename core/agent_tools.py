"""What an agent's **Tools** may hold, how people read each entry, and whether a model can
use them (DESIGN §12 "Tools per agent").

An agent's ``tools`` list mixes three kinds of names: the built-in tools of core/tools.py
(``current_time``), the providers' server tools of providers/server_tools.py
(``web_search``), and ``mcp:<server>`` for every tool of a workspace's MCP server
(core/mcp/tools.server_selector). This module is the one place that knows all three, so
the Slack modal, the agents list and validation agree on the names, the labels and the
sentences. Plain text: a surface escapes it for its markup.

Why the check runs on save and again nowhere else here: the modal cannot narrow the menu
to the chosen model (the model select does not rebuild the form), so choosing *Fetch a web
page* for an OpenAI model is only caught when the form is saved, with a sentence naming
the model.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from core.mcp.tools import MCP_PREFIX, server_selector
from core.messages import COMMAND
from core.tools import TOOLS
from providers import server_tools
from providers.catalog import ModelInfo

#: The built-in tools, in the order the menu shows them.
BUILT_IN: tuple[str, ...] = tuple(TOOLS)
#: The providers' server tools (web search, web fetch), in the order the menu shows them.
SERVER: tuple[str, ...] = server_tools.SERVER_TOOL_NAMES

GROUP_BUILT_IN = "Built in"
GROUP_WEB = "The web"


@dataclass(frozen=True)
class ServerChoice:
    """An MCP server as the Tools menu offers it: its name, and how many tools it lists
    when that is known without asking it (a cached listing), else None."""

    name: str
    tool_count: int | None = None


def is_mcp(entry: str) -> bool:
    return entry.startswith(MCP_PREFIX)


def mcp_server_name(entry: str) -> str:
    """The server an ``mcp:<server>`` entry names (the text after the prefix, trimmed)."""
    return entry[len(MCP_PREFIX) :].strip()


def label(entry: str) -> str:
    """How people read one entry: "Current time", "Web search", "Tickets (MCP)"."""
    if entry in TOOLS:
        return TOOLS[entry].label
    if entry in server_tools.LABELS:
        return server_tools.LABELS[entry]
    if is_mcp(entry):
        return f"{mcp_server_name(entry)} (MCP)"
    return entry


def labels(entries: Iterable[str]) -> str:
    """An agent's tools for a list line: "Current time, Web search, Tickets (MCP)"."""
    return ", ".join(label(e) for e in entries)


def all_tools_of(server: str) -> str:
    """The menu's one option per MCP server."""
    return f"All tools of {server}"


def tool_count_text(count: int) -> str:
    return "1 tool" if count == 1 else f"{count:,} tools"


def removed_servers_note(names: Collection[str]) -> str:
    """The modal's line about selected servers that are gone (dropped when the form is saved)."""
    its, it = ("Its", "it") if len(names) == 1 else ("Their", "them")
    return (
        f"removed: {', '.join(names)}. {its} tools are dropped when you save; "
        f"an admin can add {it} again with `{COMMAND} mcp add`."
    )


def web_line(info: ModelInfo) -> str:
    """Which of the web tools a model has, for people choosing it."""
    search, fetch = info.supports_web_search, info.supports_web_fetch
    if search and fetch:
        return "Has web search and web fetch"
    if search:
        return "Has web search, no web fetch"
    if fetch:
        return "Has web fetch, no web search"
    return "No web search or web fetch"


def web_tag(info: ModelInfo) -> str | None:
    """The short form for a model's menu option ("web search, fetch"), None for neither."""
    have = [w for w, on in (("web search", info.supports_web_search), ("fetch", info.supports_web_fetch)) if on]
    if not have:
        return None
    return ", ".join(have) if have[0] == "web search" else "web fetch"


# ---- validation -----------------------------------------------------------------------------


def unknown_tools(names: Collection[str]) -> str:
    return f"Unknown tool(s): {', '.join(names)}. Pick tools from the menu."


def no_tools(model: str) -> str:
    return f"{model} cannot call tools; pick another model or remove the tools."


_NOUNS = {server_tools.WEB_SEARCH: "web search", server_tools.WEB_FETCH: "web fetch"}


def lacks_server_tool(model: str, entry: str) -> str:
    """E.g. "GPT-4.1 mini has no web fetch; pick another model or remove Fetch a web page."."""
    return f"{model} has no {_NOUNS.get(entry, entry)}; pick another model or remove {label(entry)}."


def unregistered_server(name: str) -> str:
    return (
        f"There is no MCP server called “{name}” in this workspace any more. Remove it from the tools, "
        f"or ask an admin to add it again with `{COMMAND} mcp add`."
    )


def check(entries: Iterable[str], info: ModelInfo | None, servers: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """The cleaned tool list (each once, in order; an ``mcp:`` entry spelled as the server is
    registered) and the problems with it, one sentence each.

    ``info``: the chosen model (None when the model itself is wrong: only the names are
    checked then). ``servers``: the workspace's MCP servers, lower-cased name → name.
    """
    cleaned: list[str] = []
    unknown: list[str] = []
    problems: list[str] = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        if is_mcp(entry):
            name = mcp_server_name(entry)
            registered = servers.get(name.lower())
            if registered is None:
                problems.append(unregistered_server(name or entry))
                continue
            entry = server_selector(registered)
        elif entry not in TOOLS and entry not in SERVER:
            unknown.append(entry)
            continue
        if entry not in cleaned:
            cleaned.append(entry)
    if unknown:
        problems.insert(0, unknown_tools(unknown))
    if info is not None and cleaned:
        if not info.supports_tools:
            problems.append(no_tools(info.display_name))
        else:
            problems += [
                lacks_server_tool(info.display_name, e)
                for e in cleaned
                if e in SERVER and not server_tools.supports(info, e)
            ]
    return cleaned, problems

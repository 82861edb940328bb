"""What pipebot says about MCP servers and their tools, one copy of each text (Slack's form,
the worker's tool results, the run's failure). Plain text: a surface escapes it for its markup.
Never a token: none of these takes one."""

from __future__ import annotations

from core.messages import COMMAND

# --- the URL rule (core/mcp/urls.py) ---
URL_EMPTY = "Enter the server's URL, like https://tools.example.com/mcp."
URL_MALFORMED = "That is not a web address. Enter the server's URL, like https://tools.example.com/mcp."
URL_WITH_CREDENTIALS = "Leave the user name and password out of the URL; put the server's token in Token instead."
REASON_LOOPBACK = "a loopback address (this computer)"
REASON_PRIVATE = "a private network address"
REASON_LINK_LOCAL = "a link-local address (like the cloud metadata service 169.254.169.254)"
REASON_UNSPECIFIED = "the unspecified address"
REASON_MULTICAST = "a multicast address"
REASON_CGNAT = "a shared carrier-grade NAT address (100.64.0.0/10)"
REASON_RESERVED = "a reserved address, not a public one"
_ALLOW_HINT = "An operator can allow this host with PIPEBOT_MCP_ALLOWED_HOSTS."


def url_not_https(host: str) -> str:
    return f"The URL must start with https:// ({host} is not an allowed host for plain http). {_ALLOW_HINT}"


def url_private(host: str, address: str, reason: str) -> str:
    where = host if host == address else f"{host} ({address})"
    return f"pipebot does not connect to {where}: it is {reason}. {_ALLOW_HINT}"


def url_unresolved(host: str) -> str:
    return f"The host {host} could not be found (DNS). Check the URL."


# --- the form ---
NAME_EMPTY = "Give the server a short name, like Tickets."
NAME_TOO_LONG = "Keep the name to 40 characters or fewer."
NAME_CHARACTERS = "Use letters, digits, spaces, - and _ in the name."
TOKEN_MALFORMED = "Paste the token alone: no spaces or line breaks (and at most 4,000 characters)."
ASK_UNKNOWN = "Choose whether pipebot asks before calling: never, or every call."


def name_taken(name: str) -> str:
    return f"This workspace already has an MCP server called “{name}”. Pick another name."


def no_server(name: str) -> str:
    return f"There is no MCP server called “{name}” in this workspace. `{COMMAND} mcp` lists them."


def token_unreadable(name: str) -> str:
    return (
        f"The token saved for the MCP server “{name}” cannot be decrypted (PIPEBOT_SECRET_KEY changed). "
        f"An admin can remove the server and add it again with its token (`{COMMAND} mcp`)."
    )


# --- a removed server, said by the run that stops on it ---
def removed_server(name: str) -> str:
    return (
        f"The MCP server “{name}” was removed, and an agent of this pipeline uses its tools. "
        f"Edit the agent's Tools, or add the server again with `{COMMAND} mcp add`."
    )


# --- talking to a server (core/mcp/client.py): what the model and the admin read ---
def unauthorized(server: str, status: int) -> str:
    return f"{server} refused pipebot's token (HTTP {status}). An admin can save the right token with `{COMMAND} mcp`."


def answered_html(server: str) -> str:
    return (
        f"{server} answered with a web page (HTML), not MCP. Check the URL: it is the server's "
        "MCP endpoint, often ending in /mcp."
    )


def http_error(server: str, status: int) -> str:
    return f"{server} answered HTTP {status}."


def timed_out(server: str, seconds: float) -> str:
    return f"{server} did not answer within {seconds:g} s."


def unreachable(server: str) -> str:
    return f"{server} could not be reached (no connection to its address)."


def answer_too_large(server: str, limit_bytes: int) -> str:
    return (
        f"{server}'s answer was larger than {limit_bytes / 1_000_000:g} MB; pipebot stopped reading it. "
        "Ask the tool for less."
    )


def protocol_error(server: str, detail: str) -> str:
    return f"{server} answered with an MCP error: {detail}"


def failed(server: str, what: str) -> str:
    return f"Talking to {server} failed ({what})."


def truncated(shown: int, total: int) -> str:
    return f"[truncated: the tool returned {total:,} characters; the first {shown:,} are shown]"


def tools_capped(server: str, listed: int, offered: int) -> str:
    return f"{server} lists {listed:,} tools; only the first {offered:,} are offered to the model."


def unknown_tool(name: str) -> str:
    return f"There is no tool called {name!r}. Call one of the tools you were given."


def not_on_server(server: str, tool: str) -> str:
    return f"{server} has no tool called {tool!r} (any more)."


def bad_arguments(detail: str) -> str:
    return f"The tool's arguments must be a JSON object: {detail}"


# --- `/pipebot mcp`: the admins' registry in Slack (bot/slack/listeners/mcp_servers.py) ---
ADMINS_ONLY = (
    "Only workspace admins and owners (and people listed in PIPEBOT_ADMINS by whoever runs pipebot) "
    f"can add, test or remove MCP servers. Ask one of them to run `{COMMAND} mcp`."
)
NO_SERVERS = (
    f"This workspace has no MCP servers yet. `{COMMAND} mcp add` (or *Add a server*) registers one, "
    "so agents can use its tools."
)
ASK_LABELS = {"never": "never", "every_call": "every call"}
CHECKING = "⏳ Listing the server's tools to check it answers… this can take a few seconds."
NOT_SAVED = "Nothing was saved; paste the token again if it has one."
STALE_SERVER = f"That MCP server is no longer registered. `{COMMAND} mcp` lists the servers."
MISSING_NAME = f"Which MCP server? Usage: `{COMMAND} mcp test NAME` or `{COMMAND} mcp remove NAME`."
REMOVE_CONFIRM_TITLE = "Remove this server?"


def tool_names(names: list[str], shown: int = 5) -> str:
    """ "lookup_ticket, slow, …": the first few tool names, for one line."""
    head = ", ".join(names[:shown])
    return head + (", …" if len(names) > shown else "")


def added(name: str, names: list[str]) -> str:
    count = len(names)
    tools = f" ({tool_names(names)})" if names else ""
    return f"Added {name}: {count:,} tool{'' if count == 1 else 's'}{tools}."


def answers(name: str, count: int, ms: int) -> str:
    return f"{name} answers: {count:,} tool{'' if count == 1 else 's'} in {ms:,} ms."


def removed(name: str, agents: list[str]) -> str:
    said = f"Removed the MCP server {name}."
    if not agents:
        return said
    who = ", ".join(agents)
    return (
        f"{said} The agent{'s' if len(agents) > 1 else ''} {who} selected its tools: their runs will fail "
        f"until the tool is removed from them (`{COMMAND} agent edit NAME`, Tools)."
    )


def remove_question(name: str, agents: list[str]) -> str:
    if not agents:
        return f"Remove the MCP server {name}? Agents can no longer use its tools."
    return (
        f"Remove the MCP server {name}? {', '.join(agents)} use its tools; their runs will fail until it is taken out."
    )

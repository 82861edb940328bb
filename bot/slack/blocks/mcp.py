"""Block Kit for `/pipebot mcp`: the servers list (tools, *Test*, *Remove* behind Slack's own
confirmation, *Add a server*) and the form that adds one (DESIGN §12).

Pure builders. What a server says about itself (tool names, its error sentences) and the names
admins chose are untrusted, so they reach mrkdwn only through ``escape_mrkdwn``. The token is
never an argument here: the form's Token field is never prefilled, the list never shows one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ConfirmObject,
    InputBlock,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
)
from slack_sdk.models.views import View

from bot.slack.blocks.common import INPUT, blocks_size, button, context, form_modal, info_modal, section
from bot.slack.blocks.limits import HINT_TEXT_LIMIT, MESSAGE_BLOCKS_JSON_BUDGET, PLAIN_TEXT_INPUT_LIMIT
from bot.slack.modal_state import McpFormState
from bot.slack.text import clip, escape_mrkdwn
from core.mcp import texts
from core.mcp.manage import ServerView
from core.mcp.servers import ASK_EVERY_CALL, ASK_NEVER, NAME_MAX, TOKEN_MAX
from core.mcp.urls import MAX_URL_LENGTH

MCP_ADD_CALLBACK = "pipebot_mcp_add"
MCP_ADD = "pipebot_mcp_add_open"
MCP_TEST = "pipebot_mcp_test"
MCP_REMOVE = "pipebot_mcp_remove"
TITLE = "Add an MCP server"
NAME_BLOCK, URL_BLOCK, TOKEN_BLOCK, ASK_BLOCK = "name", "url", "token", "ask"
FIELDS = (NAME_BLOCK, URL_BLOCK, TOKEN_BLOCK, ASK_BLOCK)
_TOOLS_LINE_CHARS = 600  # the tool names shown for one server
_CONFIRM_TEXT_CHARS = 300  # Slack's limit for a confirm dialog's text


def host_of(url: str) -> str:
    """The URL as the list shows it: scheme, host and path (a stored URL carries no
    credentials: core/mcp/urls.py refuses them)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _tools_line(view: ServerView) -> str:
    if view.listing.error is not None:
        return f"⚠️ {escape_mrkdwn(view.listing.error)}"
    names = [t.name for t in view.listing.tools]
    if not names:
        return "No tools listed."
    shown = clip(", ".join(f"`{escape_mrkdwn(n.replace('`', ''))}`" for n in names), _TOOLS_LINE_CHARS)
    return f"Tools ({len(names):,}): {shown}"


def _server_blocks(view: ServerView, used_by: Sequence[str]) -> list[Block]:
    info = view.info
    ask = texts.ASK_LABELS.get(info.ask, info.ask)
    token = "token set" if info.has_token else "no token"
    head = (
        f"*{escape_mrkdwn(info.name)}* · {escape_mrkdwn(host_of(info.url))} · {token}\n"
        f"Ask before calling: {ask}\n{_tools_line(view)}"
    )
    value = json.dumps({"id": info.id})
    remove = button("Remove", MCP_REMOVE, value=value, style="danger")
    remove.confirm = ConfirmObject(
        title=texts.REMOVE_CONFIRM_TITLE,
        text=clip(texts.remove_question(info.name, list(used_by)), _CONFIRM_TEXT_CHARS),
        confirm="Remove",
        deny="Keep it",
        style="danger",
    )
    return [
        section(head),
        ActionsBlock(block_id=f"mcp_server_{info.id}", elements=[button("Test", MCP_TEST, value=value), remove]),
    ]


def servers_message(
    views: Sequence[ServerView], used_by: Mapping[str, Sequence[str]] | None = None
) -> tuple[str, list[Block]]:
    """The ephemeral list: each server with its tools and buttons, then *Add a server*.
    ``used_by``: per server name (lower case), the agents using it (named in the Remove
    confirmation, core/mcp/manage.agents_by_server).
    Servers past Slack's size budget are counted, not shown."""
    add = ActionsBlock(block_id="mcp_add", elements=[button("Add a server", MCP_ADD, style="primary")])
    if not views:
        return texts.NO_SERVERS, [section(texts.NO_SERVERS), add]
    blocks: list[Block] = [section(f"*MCP servers ({len(views)})*")]
    shown = 0
    for view in views:
        more = _server_blocks(view, (used_by or {}).get(view.info.name.lower(), ()))
        if len(blocks) + len(more) > 46 or blocks_size(blocks + more) > MESSAGE_BLOCKS_JSON_BUDGET - 1500:
            break
        blocks += more
        shown += 1
    if shown < len(views):
        blocks.append(context(f"…and {len(views) - shown} more not shown here."))
    blocks.append(add)
    return f"{len(views)} MCP server(s)", blocks


def _ask_options() -> list[Option]:
    return [
        Option(value=ASK_NEVER, text=texts.ASK_LABELS[ASK_NEVER]),
        Option(value=ASK_EVERY_CALL, text=texts.ASK_LABELS[ASK_EVERY_CALL]),
    ]


def add_modal(
    state: McpFormState,
    *,
    name: str = "",
    url: str = "",
    ask: str = ASK_NEVER,
    notes: Mapping[str, str] | None = None,
) -> View:
    """The form: **Name**, **URL**, **Token** (optional, never prefilled), **Ask before
    calling**. ``notes`` (field → sentence) shows what was found after the form was acked,
    under its field, since inline errors exist only in the ack."""
    notes = notes or {}
    options = _ask_options()
    initial = next((o for o in options if o.value == ask), options[0])
    fields: list[tuple[str, Block]] = [
        (
            NAME_BLOCK,
            InputBlock(
                block_id=NAME_BLOCK,
                label="Name",
                hint=clip("How people and agents' Tools see it, like Tickets.", HINT_TEXT_LIMIT),
                element=PlainTextInputElement(
                    action_id=INPUT, max_length=NAME_MAX, placeholder="Tickets", initial_value=name or None
                ),
            ),
        ),
        (
            URL_BLOCK,
            InputBlock(
                block_id=URL_BLOCK,
                label="URL",
                hint=clip("The server's MCP endpoint (streamable HTTP), https://…", HINT_TEXT_LIMIT),
                element=PlainTextInputElement(
                    action_id=INPUT,
                    max_length=MAX_URL_LENGTH,
                    placeholder="https://tools.example.com/mcp",
                    initial_value=url or None,
                ),
            ),
        ),
        (
            TOKEN_BLOCK,
            InputBlock(
                block_id=TOKEN_BLOCK,
                label="Token",
                optional=True,
                hint=clip(
                    "Sent as Authorization: Bearer. Encrypted at rest and never shown again. Empty: no token.",
                    HINT_TEXT_LIMIT,
                ),
                element=PlainTextInputElement(
                    action_id=INPUT, max_length=min(TOKEN_MAX, PLAIN_TEXT_INPUT_LIMIT), placeholder="Paste the token"
                ),
            ),
        ),
        (
            ASK_BLOCK,
            InputBlock(
                block_id=ASK_BLOCK,
                label="Ask before calling",
                hint=clip("Every call: a run waits for Allow / Deny in its thread before each call.", HINT_TEXT_LIMIT),
                element=RadioButtonsElement(action_id=INPUT, options=options, initial_option=initial),
            ),
        ),
    ]
    blocks: list[Block] = [context("pipebot lists the server's tools before saving it, to check it answers.")]
    for key, block in fields:
        blocks.append(block)
        if key in notes:
            blocks.append(context(f"⚠️ {escape_mrkdwn(notes[key])}"))
    return form_modal(MCP_ADD_CALLBACK, TITLE, "Add", state.encode(), blocks)


def checking_modal() -> View:
    return info_modal(TITLE, texts.CHECKING)


def done_modal(text: str) -> View:
    return info_modal(TITLE, f"✅ {escape_mrkdwn(text)}", close="Done")

"""`/pipebot mcp` end to end: signed slash commands, view submissions and button clicks to the
real `/slack/events`, Slack played by the fake, and a REAL MCP server (tests/support/mcp_server.py)
on loopback, which this module's deployment allows (PIPEBOT_MCP_ALLOWED_HOSTS=127.0.0.1).

What is asserted is what an admin sees (the ack's inline errors, the ephemeral answers, the
views the app opened or updated) and what is stored; and that the token never reaches Slack.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from bot.slack.blocks import mcp as mcp_blocks
from bot.slack.blocks.common import blocks_size
from bot.slack.commands_text import parse_command
from core.context import AppContext
from core.mcp import servers
from core.mcp.client import RemoteTool, ToolListing
from core.mcp.manage import ServerView
from core.mcp.servers import ServerInfo
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import audit
from tests.fakes.slack import ADMIN_ID, TEAM_ID, USER_ID
from tests.support.mcp_server import TOKEN, RunningServer, serve_mcp
from tests.support.slack_app import SlackServer, message_text

WRONG_TOKEN = "not-the-token-7Qx2"
TOOLS = ["lookup_ticket", "slow", "huge", "broken"]


@pytest.fixture(scope="module")
def slack_overrides() -> dict[str, Any]:
    # The loopback test servers are allowed; a listing gives up after 3 s (longer than the
    # form's 1.8 s budget, so a server that never answers takes the "checking…" path).
    return {"PIPEBOT_MCP_ALLOWED_HOSTS": "127.0.0.1", "PIPEBOT_MCP_TIMEOUT_SECONDS": 3}


@pytest.fixture
def mcp_server() -> Iterator[RunningServer]:
    with serve_mcp() as server:
        yield server


class _Connections:
    """Every address this process connects a socket to while ``on`` (a sys audit hook: the
    app's server runs in this process), to show a refused URL was never connected to."""

    def __init__(self) -> None:
        self.on = False
        self.seen: list[str] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.on and event == "socket.connect":
            address = args[1]
            self.seen.append(str(address[0]) if isinstance(address, tuple) else str(address))


_connections = _Connections()


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """An MCP URL on loopback whose server accepts connections and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    finally:
        sock.close()


def _closed_port_url() -> str:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/mcp"


def open_form(slack: SlackServer, user_id: str = ADMIN_ID) -> dict[str, Any]:
    view = slack.open_modal("mcp add", user_id=user_id)
    assert view["callback_id"] == mcp_blocks.MCP_ADD_CALLBACK
    return view


def submit(slack: SlackServer, view: dict[str, Any], values: dict[str, Any], user_id: str = ADMIN_ID) -> dict[str, Any]:
    """Submit the form; the ack's JSON (``{}`` when the modal just closes)."""
    r = slack.post(slack.signer.view_submission(view, values, user_id=user_id))
    assert r.status_code == 200, r.text
    return r.json() if r.content else {}


def settled(slack: SlackServer, view: dict[str, Any], values: dict[str, Any]) -> dict[str, str]:
    """Submit and return the errors per field, whichever path the app took: inline in the ack,
    or (a listing past the budget) as notes under the fields of the form it updated to.
    ``{}``: the server was added."""
    updates = len(slack.fake.calls("views.update"))
    answer = submit(slack, view, values)
    if answer.get("response_action") == "errors":
        return dict(answer["errors"])
    if answer.get("response_action") != "update":
        assert answer == {}
        return {}
    assert "Listing the server's tools" in json.dumps(answer["view"])
    final = slack.fake.wait_for("views.update", count=updates + 1, timeout=15).params["view"]
    if final.get("callback_id") != mcp_blocks.MCP_ADD_CALLBACK:
        return {}
    errors: dict[str, str] = {}
    last_input = None
    for block in final["blocks"]:
        if block["type"] == "input":
            last_input = block["block_id"]
        elif block["type"] == "context" and last_input and "⚠️" in block["elements"][0]["text"]:
            errors[last_input] = block["elements"][0]["text"]
    return errors


def form_values(url: str, *, name: str = "Tickets", token: str | None = TOKEN, ask: str = "never") -> dict[str, Any]:
    return {"Name": name, "URL": url, "Token": token, "Ask before calling": ask}


def stored(ctx: AppContext) -> list[tuple[str, bytes | None, str, str]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(text("SELECT name, token_ciphertext, url, ask FROM mcp_servers ORDER BY id")).all()
    return [(r.name, bytes(r.token_ciphertext) if r.token_ciphertext is not None else None, r.url, r.ask) for r in rows]


def assert_token_never_sent_to_slack(slack: SlackServer, hooks: list[str], token: str = TOKEN) -> None:
    for call in slack.fake.calls():
        assert token not in json.dumps(call.params, ensure_ascii=False, default=str), call.method
        assert token.encode() not in call.raw_body, call.method
    for hook in hooks:
        assert token not in json.dumps(slack.fake.response_url_posts(hook), ensure_ascii=False)


def add_directly(ctx: AppContext, name: str, url: str, *, token: str | None = TOKEN, ask: str = "never") -> None:
    servers.add_server(ctx, TEAM_ID, name=name, url=url, token=token, ask=ask, user_id=ADMIN_ID)


def click(slack: SlackServer, message: dict[str, Any], action_id: str, value: str | None = None) -> str:
    """Press a button of an ephemeral message; returns the response_url the answer goes to."""
    hook = slack.fake.new_response_url(user_id=ADMIN_ID)
    r = slack.post(
        slack.signer.block_actions(
            action_id=action_id,
            value=value,
            message={"type": "message", "ts": "1.0", **message},
            user_id=ADMIN_ID,
            response_url=hook,
        )
    )
    assert r.status_code == 200, r.text
    return hook


# ---- adding ---------------------------------------------------------------------------------


def test_add_lists_the_tools_and_stores_the_token_encrypted(
    ctx: AppContext, slack: SlackServer, mcp_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    view = open_form(slack)
    labels = [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"]
    assert labels == ["Name", "URL", "Token", "Ask before calling"]
    assert settled(slack, view, form_values(mcp_server.url, ask="every_call")) == {}
    assert f"Bearer {TOKEN}" in mcp_server.seen.authorizations  # listed with the token before saving
    said = slack.reply_text(view["_response_url"], timeout=10)
    assert "Added Tickets: 4 tools (lookup_ticket, slow, huge, broken)" in said
    [(name, ciphertext, url, ask)] = stored(slack.ctx)
    assert (name, url, ask) == ("Tickets", mcp_server.url, "every_call")
    assert ciphertext is not None and TOKEN.encode() not in ciphertext
    assert slack.ctx.box.decrypt(ciphertext) == TOKEN
    with transaction(ctx.sessions) as s:
        assert [(e.actor, e.action, e.subject) for e in audit.latest(s, TEAM_ID)] == [
            (ADMIN_ID, "mcp_server_added", "Tickets")
        ]
    assert_token_never_sent_to_slack(slack, [view["_response_url"]])
    assert TOKEN not in caplog.text


def test_a_name_already_used_is_an_inline_error(ctx: AppContext, slack: SlackServer, mcp_server: RunningServer) -> None:
    add_directly(slack.ctx, "Tickets", mcp_server.url)
    view = open_form(slack)
    answer = submit(slack, view, form_values(mcp_server.url, name="TICKETS"))
    assert answer["response_action"] == "errors"
    assert "already has an MCP server called “TICKETS”" in answer["errors"]["name"]
    assert len(stored(slack.ctx)) == 1


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://tools.example.com/mcp", "The URL must start with https://"),
        ("https://10.0.0.5/mcp", "pipebot does not connect to 10.0.0.5: it is a private network address"),
        ("https://169.254.169.254/latest/meta-data", "it is a link-local address"),
        ("https://[::1]:8443/mcp", "pipebot does not connect to ::1: it is a loopback address"),
        ("not a url", "That is not a web address"),
    ],
)
def test_a_refused_url_is_an_inline_error_and_nothing_is_connected_to(
    ctx: AppContext, slack: SlackServer, url: str, said: str
) -> None:
    view = open_form(slack)
    _connections.seen.clear()
    _connections.on = True
    try:
        answer = submit(slack, view, form_values(url))
    finally:
        _connections.on = False
    assert answer["response_action"] == "errors"
    assert said in answer["errors"]["url"]
    assert not {"10.0.0.5", "169.254.169.254", "::1", "tools.example.com"} & set(_connections.seen)
    assert stored(slack.ctx) == []


def test_a_wrong_token_is_an_inline_error_on_token(
    ctx: AppContext, slack: SlackServer, mcp_server: RunningServer
) -> None:
    view = open_form(slack)
    errors = settled(slack, view, form_values(mcp_server.url, token=WRONG_TOKEN))
    assert set(errors) == {"token"}
    assert "Tickets refused pipebot's token (HTTP 401)" in errors["token"]
    assert stored(slack.ctx) == []
    assert_token_never_sent_to_slack(slack, [view["_response_url"]], WRONG_TOKEN)


def test_a_web_page_instead_of_mcp_is_an_inline_error_on_url(ctx: AppContext, slack: SlackServer) -> None:
    view = open_form(slack)
    with serve_mcp(html=True) as site:
        errors = settled(slack, view, form_values(site.url))
    assert set(errors) == {"url"}
    assert "answered with a web page (HTML), not MCP" in errors["url"]
    assert stored(slack.ctx) == []


def test_a_server_that_never_answers_is_checked_after_the_ack(
    ctx: AppContext, slack: SlackServer, hanging_url: str
) -> None:
    view = open_form(slack)
    updates = len(slack.fake.calls("views.update"))
    answer = submit(slack, view, form_values(hanging_url, name="Sleepy"))
    assert answer["response_action"] == "update"  # the listing outlives the form's budget
    again = slack.fake.wait_for("views.update", count=updates + 1, timeout=15).params
    assert again["view_id"] == view["id"] and again["view"]["callback_id"] == mcp_blocks.MCP_ADD_CALLBACK
    shown = json.dumps(again["view"], ensure_ascii=False)
    assert "Sleepy did not answer within 3 s" in shown and "Nothing was saved" in shown
    token_field = next(b for b in again["view"]["blocks"] if b.get("block_id") == "token")
    assert "initial_value" not in token_field["element"]  # never prefilled
    assert stored(slack.ctx) == []
    assert_token_never_sent_to_slack(slack, [view["_response_url"]])


def test_five_hundred_tools_are_fine_and_the_offered_count_is_said(ctx: AppContext, slack: SlackServer) -> None:
    view = open_form(slack)
    with serve_mcp(many_tools=496) as big:
        assert settled(slack, view, form_values(big.url, name="Big")) == {}
    said = slack.reply_text(view["_response_url"], timeout=10)
    assert "Added Big: 500 tools (lookup_ticket, slow, huge, broken, extra_000, …)" in said
    assert "only the first 100 are offered to the model" in said


# ---- listing, testing, removing --------------------------------------------------------------


def test_the_list_shows_each_server_with_its_tools_or_why_not(
    ctx: AppContext, slack: SlackServer, mcp_server: RunningServer
) -> None:
    add_directly(slack.ctx, "Tickets", mcp_server.url, ask="every_call")
    add_directly(slack.ctx, "Gone", _closed_port_url(), token=None)
    sent = slack.command("mcp", user_id=ADMIN_ID)
    message = sent.message(timeout=10)
    said = message_text(message)
    assert "*Tickets*" in said and "Ask before calling: every call" in said and "token set" in said
    assert all(f"`{tool}`" in said for tool in TOOLS)
    assert "*Gone*" in said and "Gone could not be reached" in said
    actions = [el["action_id"] for b in message["blocks"] if b["type"] == "actions" for el in b["elements"]]
    assert actions.count(mcp_blocks.MCP_TEST) == 2 and actions.count(mcp_blocks.MCP_REMOVE) == 2
    assert actions[-1] == mcp_blocks.MCP_ADD
    removes = [
        el
        for b in message["blocks"]
        if b["type"] == "actions"
        for el in b["elements"]
        if el["action_id"] == mcp_blocks.MCP_REMOVE
    ]
    assert all(el["confirm"]["confirm"]["text"] == "Remove" for el in removes)
    assert_token_never_sent_to_slack(slack, [sent.hook])


def test_no_servers_says_how_to_add_one_and_the_button_opens_the_form(ctx: AppContext, slack: SlackServer) -> None:
    message = slack.command("mcp", user_id=ADMIN_ID).message()
    assert "no MCP servers yet" in message_text(message) and "/pipebot mcp add" in message_text(message)
    opened = len(slack.fake.calls("views.open"))
    trigger = slack.fake.new_trigger_id(user_id=ADMIN_ID)
    r = slack.post(
        slack.signer.block_actions(
            action_id=mcp_blocks.MCP_ADD,
            message={"type": "message", "ts": "1.0", **message},
            user_id=ADMIN_ID,
            trigger_id=trigger,
        )
    )
    assert r.status_code == 200
    call = slack.fake.wait_for("views.open", count=opened + 1)
    assert call.ok and call.params["view"]["callback_id"] == mcp_blocks.MCP_ADD_CALLBACK


def test_test_lists_again_bypassing_the_cache(ctx: AppContext, slack: SlackServer, mcp_server: RunningServer) -> None:
    add_directly(slack.ctx, "Tickets", mcp_server.url)
    message = slack.command("mcp", user_id=ADMIN_ID).message(timeout=10)
    before = len(mcp_server.seen.authorizations)
    hook = click(slack, message, mcp_blocks.MCP_TEST)
    said = slack.reply_text(hook, timeout=10)
    assert "✅ Tickets answers: 4 tools in " in said and " ms." in said
    assert len(mcp_server.seen.authorizations) > before  # asked the server, not the cache
    assert "Tickets answers: 4 tools" in slack.command("mcp test tickets", user_id=ADMIN_ID).text(timeout=10)
    assert "no MCP server called “Nope”" in slack.command("mcp test Nope", user_id=ADMIN_ID).text()


def test_test_of_a_server_with_a_token_it_no_longer_takes_says_why(ctx: AppContext, slack: SlackServer) -> None:
    with serve_mcp(token="rotated-token") as srv:
        add_directly(slack.ctx, "Tickets", srv.url)
        said = slack.command("mcp test Tickets", user_id=ADMIN_ID).text(timeout=10)
    assert "⚠️ Tickets refused pipebot's token (HTTP 401)" in said


def test_remove_names_the_agents_that_selected_it(
    ctx: AppContext, slack: SlackServer, mcp_server: RunningServer
) -> None:
    add_directly(slack.ctx, "Tickets", mcp_server.url)
    add_directly(slack.ctx, "Wiki", mcp_server.url)
    with transaction(ctx.sessions) as s:
        agent_repo.create_agent(s, TEAM_ID, name="Triage", model="anthropic:claude-haiku-4-5", tools=["mcp:Tickets"])
        agent_repo.create_agent(s, TEAM_ID, name="Writer", model="anthropic:claude-haiku-4-5", tools=["current_time"])
    message = slack.command("mcp", user_id=ADMIN_ID).message(timeout=10)  # Tickets first: by name
    confirm = json.dumps(message["blocks"], ensure_ascii=False)
    assert "Triage use its tools" in confirm
    hook = click(slack, message, mcp_blocks.MCP_REMOVE)
    said = slack.reply_text(hook, timeout=10)
    assert "Removed the MCP server Tickets" in said
    assert "The agent Triage selected its tools: their runs will fail until the tool is removed" in said
    assert [row[0] for row in stored(slack.ctx)] == ["Wiki"]
    # the same button again: the server is gone
    hook = click(slack, message, mcp_blocks.MCP_REMOVE)
    assert "no longer registered" in slack.reply_text(hook)
    # by command; no agent uses Wiki
    said = slack.command("mcp remove wiki", user_id=ADMIN_ID).text()
    assert "Removed the MCP server Wiki." in said and "agent" not in said
    assert stored(slack.ctx) == []
    assert "no MCP server called “Wiki”" in slack.command("mcp remove Wiki", user_id=ADMIN_ID).text()
    with transaction(ctx.sessions) as s:
        removed = [e.subject for e in audit.latest(s, TEAM_ID) if e.action == "mcp_server_removed"]
    assert removed == ["Wiki", "Tickets"]


# ---- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["mcp", "mcp add", "mcp test Tickets", "mcp remove Tickets"])
def test_non_admins_are_refused(ctx: AppContext, slack: SlackServer, mcp_server: RunningServer, typed: str) -> None:
    add_directly(slack.ctx, "Tickets", mcp_server.url)
    opened = len(slack.fake.calls("views.open"))
    said = slack.command(typed, user_id=USER_ID).text()
    assert "Only workspace admins and owners" in said and "MCP servers" in said
    assert len(slack.fake.calls("views.open")) == opened
    assert [row[0] for row in stored(slack.ctx)] == ["Tickets"]


def test_a_non_admin_cannot_submit_the_form_or_press_its_buttons(
    ctx: AppContext, slack: SlackServer, mcp_server: RunningServer
) -> None:
    view = open_form(slack)
    answer = submit(slack, view, form_values(mcp_server.url), user_id=USER_ID)
    assert "Only workspace admins" in answer["errors"]["name"]
    add_directly(slack.ctx, "Tickets", mcp_server.url)
    message = slack.command("mcp", user_id=ADMIN_ID).message(timeout=10)
    hook = slack.fake.new_response_url(user_id=USER_ID)
    r = slack.post(
        slack.signer.block_actions(
            action_id=mcp_blocks.MCP_REMOVE,
            message={"type": "message", "ts": "1.0", **message},
            user_id=USER_ID,
            response_url=hook,
        )
    )
    assert r.status_code == 200
    assert "Only workspace admins" in slack.reply_text(hook)
    assert [row[0] for row in stored(slack.ctx)] == ["Tickets"]


def test_help_lists_mcp_and_a_missing_name_says_how(ctx: AppContext, slack: SlackServer) -> None:
    assert "`/pipebot mcp add`" in slack.command("help").text()
    assert "Which MCP server? Usage: `/pipebot mcp test NAME`" in slack.command("mcp test", user_id=ADMIN_ID).text()
    assert "I don't know `mcp frob`" in slack.command("mcp frob", user_id=ADMIN_ID).text()


@pytest.mark.parametrize(
    ("typed", "name", "args"),
    [
        ("mcp", "mcp", ()),
        ("MCP list", "mcp", ()),
        ("mcp add", "mcp add", ()),
        ("mcp new", "mcp add", ()),
        ('mcp test "Ticket desk"', "mcp test", ("Ticket desk",)),
        ("mcp remove Ticket desk", "mcp remove", ("Ticket desk",)),
        ("mcp rm Tickets", "mcp remove", ("Tickets",)),
    ],
)
def test_mcp_subcommands_parse(typed: str, name: str, args: tuple[str, ...]) -> None:
    cmd = parse_command(typed)
    assert (cmd.name, cmd.args, cmd.error) == (name, args, None)


def test_a_long_list_stays_within_slacks_limits_and_escapes_what_servers_say() -> None:
    tools = tuple(RemoteTool(f"<!channel>tool_{i:03d}", "", {}) for i in range(500))
    views = [
        ServerView(
            ServerInfo(i, f"Server {i}", f"https://s{i}.example.com/mcp", "never", True, "U1", datetime.now(UTC)),
            ToolListing(tools) if i % 2 else ToolListing(error="<@U123> said no & left"),
        )
        for i in range(60)
    ]
    text, message = mcp_blocks.servers_message(views, {"server 1": ["Triage"] * 100})
    dicts = [b.to_dict() for b in message]  # the models check Slack's per-element limits
    assert len(dicts) <= 50 and blocks_size(message) <= 12_000
    dump = json.dumps(dicts)
    assert "<!channel>" not in dump and "<@U123>" not in dump and "&lt;@U123&gt; said no &amp; left" in dump
    assert "more not shown here" in dump and dicts[-1]["elements"][0]["action_id"] == mcp_blocks.MCP_ADD

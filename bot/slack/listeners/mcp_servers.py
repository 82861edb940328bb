"""`/pipebot mcp`: the workspace's MCP servers for admins (DESIGN §12). The list (each server's
tools, *Test*, *Remove* behind a confirmation, *Add a server*), the form that adds one, and
`mcp test NAME` / `mcp remove NAME`.

Admins only (bot/slack/admin.py), checked again on every button and submission: a list or a
form stays on screen after its viewer stopped being an admin.

Why the form has a budget: before a server is saved its tools are listed once, with its token,
so a wrong token, a web page or a server that does not answer is an inline error while the
admin is still at the form. Listing may take the whole MCP timeout (30 s) and a
``view_submission`` must be answered within 3 s, so, as the settings modal does for provider
keys, a listing that takes longer than ``PROBE_BUDGET`` turns the form into "checking…" and
the outcome arrives by ``views.update`` (the form again with the reason under its field, or
"added"). The token lives only in this process's memory meanwhile: never in private_metadata,
a view or a log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.slack.admin import AdminCheckFailed, is_admin
from bot.slack.blocks import mcp as blocks
from bot.slack.commands_text import MCP, MCP_ADD, MCP_REMOVE, MCP_TEST
from bot.slack.listeners.support import (
    OOPS,
    Reply,
    SaveResult,
    field_errors,
    item_id_of,
    later,
    open_modal,
    selected_value,
    submission,
    tell,
    text_value,
)
from bot.slack.modal_state import McpFormState, StateUnreadable
from bot.slack.payloads import Actor, actor_of, team_of, user_of
from bot.slack.text import escape_mrkdwn
from core.context import AppContext
from core.errors import NotFound, ValidationFailed
from core.mcp import manage, servers, texts
from core.mcp.servers import ServerInfo

log = logging.getLogger(__name__)

PROBE_BUDGET = 1.8  # seconds a submission waits for its checks and tool list before "checking…"
_attempts = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pipebot-mcp-add")


def _require_admin(ctx: AppContext, client: WebClient, team_id: str, user_id: str) -> None:
    """Reply (told to the person) unless they are an admin of this workspace."""
    try:
        allowed = is_admin(ctx, client, user_id, team_id)
    except AdminCheckFailed as exc:
        raise Reply(str(exc)) from None
    if not allowed:
        raise Reply(texts.ADMINS_ONLY)


def _said(text: str) -> str:
    """A sentence of core/mcp/texts.py (names and server answers in it) as safe mrkdwn."""
    return escape_mrkdwn(text)


# ---- the command and the buttons ------------------------------------------------------------


def handle_command(ctx: AppContext, client: WebClient, to: Actor, name: str, server: str | None) -> None:
    """`/pipebot mcp`, `mcp add`, `mcp test NAME`, `mcp remove NAME` (after the ack; a Reply
    is told to the person by the dispatcher's wrapper)."""
    _require_admin(ctx, client, to.team_id, to.user_id)
    if name == MCP_ADD:
        open_add_form(ctx, client, to)
    elif name == MCP_TEST:
        info = manage.find(ctx, to.team_id, name=server or "")
        if info is None:
            raise Reply(_said(texts.no_server(server or "")))
        tell(client, to, _test_text(ctx, to.team_id, info))
    elif name == MCP_REMOVE:
        tell(client, to, _remove(ctx, to.team_id, to.user_id, server or ""))
    elif name == MCP:
        show_servers(ctx, client, to)


def show_servers(ctx: AppContext, client: WebClient, to: Actor) -> None:
    """The ephemeral list; a server that cannot list its tools says why in its line."""
    views = manage.overview(ctx, to.team_id)
    text, message = blocks.servers_message(views, manage.agents_by_server(ctx, to.team_id))
    tell(client, to, text, message)


def open_add_form(ctx: AppContext, client: WebClient, to: Actor) -> None:
    open_modal(client, to.trigger_id, blocks.add_modal(McpFormState(to.channel_id, to.response_url)))


def _test_text(ctx: AppContext, team_id: str, info: ServerInfo) -> str:
    pinged = manage.ping(ctx, team_id, info)
    if pinged.listing.error is not None:
        return f"⚠️ {_said(pinged.listing.error)}"
    return f"✅ {_said(texts.answers(info.name, len(pinged.listing.tools), pinged.ms))}"


def _remove(ctx: AppContext, team_id: str, user_id: str, name: str) -> str:
    try:
        info, agents = manage.remove(ctx, team_id, name, user_id)
    except NotFound as exc:
        raise Reply(_said(str(exc))) from None
    return f"🗑️ {_said(texts.removed(info.name, agents))}"


def _clicked(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> tuple[Actor, ServerInfo]:
    """Who pressed a server's button (an admin, or Reply) and the server it names (by id, in
    the clicker's workspace only; Reply when it is gone)."""
    to = replace(actor_of(body), response_url=body.get("response_url"))
    _require_admin(ctx, client, to.team_id, to.user_id)
    server_id = item_id_of(body)
    info = manage.find(ctx, to.team_id, server_id=server_id) if server_id is not None else None
    if info is None:
        raise Reply(texts.STALE_SERVER)
    return to, info


def test_clicked(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> None:
    to, info = _clicked(ctx, client, body)
    tell(client, to, _test_text(ctx, to.team_id, info))


def remove_clicked(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> None:
    to, info = _clicked(ctx, client, body)
    tell(client, to, _remove(ctx, to.team_id, to.user_id, info.name))


def add_clicked(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> None:
    to = replace(actor_of(body), response_url=body.get("response_url"))
    _require_admin(ctx, client, to.team_id, to.user_id)
    open_add_form(ctx, client, to)


def _on_click(ctx: AppContext, doing: str, work: Any, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    ack()
    later(client, body, doing, work, ctx, client, body)


# ---- the form's submission ------------------------------------------------------------------


@dataclass(frozen=True)
class _Submission:
    """A form sent by an admin: who, where to answer, and the values as typed (the token
    kept out of any repr)."""

    team_id: str
    user_id: str
    state: McpFormState
    to: Actor
    name: str
    url: str
    ask: str
    token: str = field(repr=False)


def _plain(errors: Mapping[str, str]) -> dict[str, str]:
    """Inline errors are plain text: mrkdwn emphasis and code marks are dropped."""
    return {k: re.sub(r"[*`]", "", v) for k, v in errors.items()}


def _read(
    ctx: AppContext, client: WebClient, body: Mapping[str, Any], context: BoltContext | None
) -> _Submission | dict[str, str]:
    """The submission, or the errors to show: an unreadable form, someone not an admin."""
    view = body["view"]
    team_id, user_id = team_of(body, context), user_of(body)
    try:
        state = McpFormState.decode(view.get("private_metadata"))
    except StateUnreadable as exc:
        return {blocks.NAME_BLOCK: str(exc)}
    try:
        _require_admin(ctx, client, team_id, user_id)
    except Reply as exc:
        return {blocks.NAME_BLOCK: str(exc)}
    values = (view.get("state") or {}).get("values") or {}
    return _Submission(
        team_id,
        user_id,
        state,
        Actor(team_id, user_id, channel_id=state.channel_id, response_url=state.response_url),
        name=text_value(values, blocks.NAME_BLOCK),
        url=text_value(values, blocks.URL_BLOCK),
        ask=selected_value(values, blocks.ASK_BLOCK),
        token=text_value(values, blocks.TOKEN_BLOCK),
    )


def _attempt(ctx: AppContext, sub: _Submission) -> str | dict[str, str]:
    """Check the form (the URL rule resolves the host: DNS can be slow too), list the
    server's tools once with its token, and save it if that worked: the sentence saying so,
    or the errors by field. Nothing is connected to before the checks pass."""
    try:
        draft = servers.check_draft(ctx, sub.team_id, name=sub.name, url=sub.url, token=sub.token, ask=sub.ask)
        listing = manage.probe(ctx, draft)
        if listing.error is not None:
            return {manage.failed_field(draft, listing): listing.error}
        info = manage.save_probed(ctx, sub.team_id, draft, listing, sub.user_id)
    except ValidationFailed as exc:
        return field_errors(exc.errors, blocks.FIELDS, blocks.NAME_BLOCK)
    return manage.added_text(info, listing)


def _finish(
    ctx: AppContext, sub: _Submission, attempt: Future[str | dict[str, str]], view_id: str | None, c: WebClient
) -> None:
    """After the ack: wait for the attempt, then show the form again with the reason under
    its field (nothing saved, the token not prefilled) or "added", and tell the admin."""
    try:
        outcome = attempt.result()
    except Exception:  # noqa: BLE001 - the "checking…" view must not stay up forever
        log.exception("adding an MCP server failed")
        outcome = {blocks.NAME_BLOCK: OOPS}
    if isinstance(outcome, dict):
        notes = {k: f"{v} {texts.NOT_SAVED}" for k, v in outcome.items()}
        again = blocks.add_modal(sub.state, name=sub.name, url=sub.url, ask=sub.ask, notes=notes)
        c.views_update(view_id=view_id, view=again.to_dict())
        return
    c.views_update(view_id=view_id, view=blocks.done_modal(outcome).to_dict())
    tell(c, sub.to, f"✅ {_said(outcome)}")


def save_server(ctx: AppContext, client: WebClient, body: Mapping[str, Any], context: BoltContext | None) -> SaveResult:
    """Check the form, list the server's tools once (with its token), then save it; within
    ``PROBE_BUDGET`` the outcome is in the ack, else it follows by ``views.update``."""
    sub = _read(ctx, client, body, context)
    if not isinstance(sub, _Submission):
        return {"response_action": "errors", "errors": _plain(sub)}, None
    attempt = _attempts.submit(_attempt, ctx, sub)
    try:
        outcome = attempt.result(timeout=PROBE_BUDGET)
    except FutureTimeout:
        view_id = body["view"].get("id")
        return {"response_action": "update", "view": blocks.checking_modal().to_dict()}, partial(
            _finish, ctx, sub, attempt, view_id
        )
    if isinstance(outcome, dict):
        return {"response_action": "errors", "errors": _plain(outcome)}, None
    return None, lambda c: tell(c, sub.to, f"✅ {_said(outcome)}")


def register(app: App, ctx: AppContext) -> None:
    """The form's submission and the list's *Add a server*, *Test* and *Remove* buttons."""
    app.view(blocks.MCP_ADD_CALLBACK)(submission(ctx, save_server, blocks.NAME_BLOCK))
    app.action(blocks.MCP_ADD)(partial(_on_click, ctx, "opening the MCP server form", add_clicked))
    app.action(blocks.MCP_TEST)(partial(_on_click, ctx, "testing an MCP server", test_clicked))
    app.action(blocks.MCP_REMOVE)(partial(_on_click, ctx, "removing an MCP server", remove_clicked))

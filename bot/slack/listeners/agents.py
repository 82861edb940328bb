"""Agents in Slack: `/pipebot agent new|edit|delete`, the agent modal's submission, and the
Edit/Delete… menu and Delete button of the agents list.

Tenancy: the team id always comes from the signed payload, never from button values or
private_metadata, so a crafted value can only name rows of the caller's workspace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.models.blocks import Block
from sqlalchemy.exc import IntegrityError

from bot.slack.blocks import agents as blocks
from bot.slack.blocks.common import (
    DELETE_AGENT,
    INPUT,
    confirm_delete_message,
)
from bot.slack.blocks.home import HOME_NEW_AGENT
from bot.slack.listeners.support import (
    Reply,
    SaveResult,
    block_dicts,
    checked,
    field_errors,
    item_id_of,
    later,
    menu_choice,
    open_modal,
    selected_value,
    submission,
    tell,
    text_value,
)
from bot.slack.member_guard import member_problem, require_full_member
from bot.slack.modal_state import AgentModalState, StateUnreadable
from bot.slack.name_match import not_found_hint
from bot.slack.payloads import Actor, channel_of, team_of, user_of
from bot.slack.text import escape_mrkdwn
from core import agents as core_agents
from core import credentials
from core.agent_tools import ServerChoice
from core.agents import AgentDraft, clean_name
from core.audit import AuditAction
from core.context import AppContext
from core.errors import NotFound, ValidationFailed
from core.mcp import cache as mcp_cache
from core.mcp.client import ToolListing
from core.messages import COMMAND
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import audit
from storage.repos import mcp_servers as mcp_repo

log = logging.getLogger(__name__)


def find_agent(s: Any, team_id: str, name: str) -> Any:
    """The agent called ``name`` (any case, quotes already removed) or Reply with did-you-mean."""
    agent = agent_repo.get_agent_by_name(s, team_id, clean_name(name))
    if agent is None:
        raise Reply(not_found_hint("agent", name, [a.name for a in agent_repo.list_agents(s, team_id)]))
    return agent


def open_agent_modal(
    ctx: AppContext,
    client: WebClient,
    trigger_id: str,
    team_id: str,
    *,
    agent_name: str | None = None,
    user_id: str,
    agent_id: int | None = None,
    new_name: str | None = None,
    channel_id: str | None = None,
    response_url: str | None = None,
) -> None:
    """New agent (no name/id) or edit; raises Reply when the agent does not exist or
    ``user_id`` is not a full member (bot/slack/member_guard.py)."""
    require_full_member(ctx, client, team_id, user_id)
    with transaction(ctx.sessions) as s:
        agent = None
        if agent_id is not None:
            agent = agent_repo.get_agent(s, team_id, agent_id)
            if agent is None:
                raise Reply("That agent no longer exists; it may have been deleted.")
        elif agent_name is not None:
            agent = find_agent(s, team_id, agent_name)
        providers = credentials.available_providers(s, ctx, team_id)
        state = AgentModalState(agent.id if agent else None, channel_id, response_url)
        servers = tool_servers(ctx, team_id, [(row.id, row.name) for row in mcp_repo.list_servers(s, team_id)])
        view = blocks.agent_modal(providers, agent=agent, name=new_name, state=state, servers=servers)
    open_modal(client, trigger_id, view)


def tool_servers(ctx: AppContext, team_id: str, rows: list[tuple[int, str]]) -> list[ServerChoice]:
    """The workspace's MCP servers for the Tools menu, each with its tool count when a cached
    listing has it. Never a connection: a trigger_id lives 3 s, and a slow or dead server
    must not keep the form from opening."""
    return [ServerChoice(name, cached_tool_count(ctx, team_id, server_id)) for server_id, name in rows]


def cached_tool_count(ctx: AppContext, team_id: str, server_id: int) -> int | None:
    """How many tools the server's cached listing holds, None when nothing is cached (the
    listing asked for then is an error one, which the cache never keeps)."""
    listing = mcp_cache.cached_listing(ctx, team_id, server_id, lambda: ToolListing(error="not cached"))
    return None if listing.error is not None else len(listing.tools)


def selected_values(values: Mapping[str, Any], block_id: str) -> list[str]:
    """The values picked in a multi select (none: an empty list)."""
    options = ((values.get(block_id) or {}).get(INPUT) or {}).get("selected_options") or []
    return [str(o.get("value")) for o in options if isinstance(o, Mapping) and o.get("value")]


def confirm_delete(
    ctx: AppContext,
    client: WebClient,
    team_id: str,
    user_id: str,
    *,
    name: str | None = None,
    item_id: int | None = None,
) -> tuple[str, list[Block]]:
    """The "are you sure?" message, naming the pipelines that use the agent (full members only)."""
    require_full_member(ctx, client, team_id, user_id)
    with transaction(ctx.sessions) as s:
        agent = agent_repo.get_agent(s, team_id, item_id) if item_id is not None else find_agent(s, team_id, name or "")
        if agent is None:
            raise Reply("That agent no longer exists.")
        used = list(agent_repo.pipelines_using_agent(s, team_id, agent.id))
        return confirm_delete_message("agent", agent.id, agent.name, used)


def delete_agent(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> str:
    """Delete after the Delete button (full members only; recorded in the audit trail); says
    what happened (including an already-gone agent)."""
    team_id, user_id = team_of(body), user_of(body)
    item_id = item_id_of(body)
    if item_id is None:
        return "That button is out of date. Run the command again."
    if (problem := member_problem(ctx, client, team_id, user_id)) is not None:
        return problem
    with transaction(ctx.sessions) as s:
        agent = agent_repo.get_agent(s, team_id, item_id)
        if agent is None:
            return "That agent was already deleted."
        name = agent.name
        used = list(agent_repo.pipelines_using_agent(s, team_id, item_id))
        agent_repo.delete_agent(s, team_id, item_id)
        audit.record(s, team_id, user_id, AuditAction.AGENT_DELETED, name, {"agent_id": item_id, "used_by": used})
    text = f"🗑️ Deleted the agent *{escape_mrkdwn(name)}*."
    if used:
        text += (
            " ⚠️ "
            + ", ".join(f"*{escape_mrkdwn(n)}*" for n in used)
            + f" now use a deleted agent; edit them with `{COMMAND} pipeline edit NAME` and pick another."
        )
    return text


def menu_action(ctx: AppContext, client: WebClient, body: Mapping[str, Any], respond: Respond) -> None:
    """Edit / Delete… from the overflow menu next to an agent in the list."""
    item_id, what = menu_choice(body)
    team_id = team_of(body)
    if what == "edit":
        open_agent_modal(
            ctx,
            client,
            body.get("trigger_id") or "",
            team_id,
            user_id=user_of(body),
            agent_id=item_id,
            channel_id=channel_of(body),
            response_url=body.get("response_url"),
        )
    elif what == "delete":
        fallback, question = confirm_delete(ctx, client, team_id, user_of(body), item_id=item_id)
        respond(text=fallback, blocks=block_dicts(question), response_type="ephemeral", replace_original=False)


def save_agent(ctx: AppContext, client: WebClient, body: Mapping[str, Any], context: BoltContext | None) -> SaveResult:
    """Validate and save the agent modal. Returns (ack kwargs for errors, or None to close;
    a follow-up to run after the ack)."""
    view = body["view"]
    team_id, user_id = team_of(body, context), user_of(body)
    if (problem := member_problem(ctx, client, team_id, user_id)) is not None:
        return {"response_action": "errors", "errors": {"name": problem}}, None
    try:
        state = AgentModalState.decode(view.get("private_metadata"))
    except StateUnreadable as exc:
        return {"response_action": "errors", "errors": {"name": str(exc)}}, None
    values = (view.get("state") or {}).get("values") or {}
    draft = AgentDraft(
        name=text_value(values, "name"),
        system_prompt=text_value(values, "system_prompt"),
        model=selected_value(values, "model"),
        temperature=text_value(values, "temperature") or None,
        max_output_tokens=text_value(values, "max_output_tokens") or None,
        sees_files=checked(values, blocks.SEES_FILES_BLOCK),
        tools=selected_values(values, blocks.TOOLS_BLOCK),
    )
    agent_id = state.agent_id
    try:
        with transaction(ctx.sessions) as s:
            if agent_id:
                agent = core_agents.update(s, team_id, agent_id, draft)
            else:
                agent = core_agents.create(s, team_id, draft, user_id)
            line = blocks.agent_line(agent)
    except ValidationFailed as exc:
        return {"response_action": "errors", "errors": field_errors(exc.errors, blocks.AGENT_FIELDS, "name")}, None
    except NotFound as exc:
        return {"response_action": "errors", "errors": {"name": str(exc)}}, None
    except IntegrityError:  # someone saved the same name a moment ago
        return {"response_action": "errors", "errors": {"name": "That name was just taken. Pick another."}}, None
    verb = "Updated" if agent_id else "Created"
    text = f"✅ {verb} the agent {line}"
    return None, lambda client: tell(
        client, Actor(team_id, user_id, channel_id=state.channel_id, response_url=state.response_url), text
    )


def menu(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
    """Edit/Delete… in the list's overflow menu."""
    ack()
    later(client, body, "the agent menu", menu_action, ctx, client, body, respond)


def delete(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
    """Delete under the "delete X?" question: the question becomes the answer."""
    ack()
    later(
        client, body, "deleting an agent", lambda: respond(text=delete_agent(ctx, client, body), replace_original=True)
    )


def new_from_home(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """Home's *New agent*: the same modal as `/pipebot agent new`."""
    ack()
    trigger_id, team_id, user_id = body.get("trigger_id") or "", team_of(body), user_of(body)
    later(
        client,
        body,
        "opening the agent form from Home",
        lambda: open_agent_modal(ctx, client, trigger_id, team_id, user_id=user_id),
    )


def register(app: App, ctx: AppContext) -> None:
    """The agent modal's submission, the list's menu, the Delete button and Home's *New agent*."""
    app.view(blocks.AGENT_CALLBACK)(submission(ctx, save_agent, "name"))
    app.action(blocks.AGENT_MENU)(partial(menu, ctx))
    app.action(DELETE_AGENT)(partial(delete, ctx))
    app.action(HOME_NEW_AGENT)(partial(new_from_home, ctx))

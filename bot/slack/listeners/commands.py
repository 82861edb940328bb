"""`/pipebot`: the dispatcher of its subcommands, and the answers it gives in the ack.

Slack's timing rules shape this module. The app runs with
``process_before_response=True``: Slack gets its HTTP answer when the listener returns.

* Read-only answers (help, lists, "delete X?") go in the ack itself: Slack shows an
  ack's body to the user as an ephemeral reply, so that is one round trip instead of
  two and no work left behind. `/pipebot agents` reads through bot/slack/ack_reads.py
  (one lean, statement_timeout-bounded query, no thread hop); the other reads run in a
  thread under ``ACK_BUDGET``. Either way, if the database is slow the ack goes out empty
  and the answer follows through the response_url.
* Everything that calls Slack (views.open, users.info, posts) runs after the ack
  (bot/slack/listeners/support.after_ack), in the surface's own module: agents,
  pipelines, settings, runs, artifacts. This module imports them; none imports it back.
* A ``trigger_id`` lives 3 s, so a modal is opened before anything slow, and a command
  whose trigger expired anyway gets an ephemeral "run it again".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.slack.ack_reads import AckReads
from bot.slack.blocks.agents import agents_message
from bot.slack.blocks.common import DELETE_CANCEL
from bot.slack.blocks.pipelines import pipelines_message
from bot.slack.client import client_for
from bot.slack.command_tokens import args_after_first_word
from bot.slack.commands_text import (
    AGENT_DELETE,
    AGENT_EDIT,
    AGENT_NEW,
    AGENTS,
    ARTIFACTS,
    AUDIT,
    HELP,
    MCP_COMMANDS,
    PIPELINE_DELETE,
    PIPELINE_EDIT,
    PIPELINE_NEW,
    PIPELINES,
    RUN,
    SCHEDULE_NEW,
    SCHEDULES,
    SETTINGS,
    TRIGGER_NEW,
    TRIGGERS,
    UNKNOWN,
    Command,
    help_text,
    parse_command,
)
from bot.slack.listeners import agents, artifacts, audit, mcp_servers, pipelines, runs, schedules, settings, triggers
from bot.slack.listeners.support import OOPS, Reply, ephemeral, later
from bot.slack.payloads import Actor, channel_of, team_of, user_of
from bot.slack.text import decode_slack_text
from core.context import AppContext
from core.messages import COMMAND
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import pipelines as pipeline_repo

log = logging.getLogger(__name__)

ACK_BUDGET = 1.0  # seconds a read-only answer may take before it is sent after the ack instead
_reads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="pipebot-ack-read")
FAST = (HELP, UNKNOWN, AGENTS, PIPELINES, AGENT_DELETE, PIPELINE_DELETE)


def is_quick(cmd: Command) -> bool:
    """Answered in the ack: no Slack API call needed, at most one database read."""
    return cmd.name in FAST or (cmd.error is not None and cmd.name not in (RUN, ARTIFACTS))


def quick_answer(
    ctx: AppContext,
    body: Mapping[str, Any],
    cmd: Command,
    reads: AckReads | None = None,
    client: WebClient | None = None,
) -> dict[str, Any]:
    """The reply to a quick command, as keyword arguments for ``ack()`` / ``respond()``.
    ``reads``: the lean, time-bounded read path for the ack (bot/slack/ack_reads.py);
    ``client``: for the delete questions, which ask who is deleting (bot/slack/member_guard.py)."""
    team_id = team_of(body)
    if cmd.name == UNKNOWN:
        if cmd.error:
            extra = (
                " Did you mean " + " or ".join(f"`{COMMAND} {g}`" for g in cmd.suggestions) + "?"
                if cmd.suggestions and "Did you mean" not in cmd.error
                else ""
            )
            return ephemeral(cmd.error + extra)
        unknown = cmd.args[0] if cmd.args else (body.get("text") or "")
        return ephemeral(help_text(COMMAND, unknown=unknown, suggestions=cmd.suggestions))
    if cmd.error:
        return ephemeral(cmd.error)
    if cmd.name == HELP:
        return ephemeral(help_text(COMMAND))
    try:
        if cmd.name == AGENT_DELETE:
            return ephemeral(
                *agents.confirm_delete(ctx, _client(ctx, client, team_id), team_id, user_of(body), name=cmd.arg)
            )
        if cmd.name == PIPELINE_DELETE:
            return ephemeral(
                *pipelines.confirm_delete(ctx, _client(ctx, client, team_id), team_id, user_of(body), name=cmd.arg)
            )
        if cmd.name == AGENTS:
            if reads is not None:
                return ephemeral(*agents_message(reads.agents(team_id)))
            with transaction(ctx.sessions) as s:
                return ephemeral(*agents_message(agent_repo.list_agents(s, team_id)))
        with transaction(ctx.sessions) as s:
            return ephemeral(*pipelines_message(pipeline_repo.list_pipelines(s, team_id)))
    except Reply as exc:
        return ephemeral(str(exc))


def _client(ctx: AppContext, client: WebClient | None, team_id: str) -> WebClient:
    """The request's client (the listener passes it); the workspace's where none was given."""
    return client if client is not None else client_for(ctx, team_id)


def slow_command(ctx: AppContext, client: WebClient, body: Mapping[str, Any], cmd: Command, respond: Respond) -> None:
    """The commands that call Slack (modals, admin check) or start work (run, artifacts)."""
    team_id = team_of(body)
    user_id, channel_id = user_of(body), channel_of(body)
    response_url = body.get("response_url")
    trigger_id = body.get("trigger_id") or ""
    if cmd.name == RUN:
        runs.handle_run(ctx, client, dict(body), args_after_first_word(body.get("text") or ""))
    elif cmd.name == ARTIFACTS:
        artifacts.handle_artifacts(ctx, client, dict(body), args_after_first_word(body.get("text") or ""))
    elif cmd.name == AGENT_NEW:
        agents.open_agent_modal(
            ctx,
            client,
            trigger_id,
            team_id,
            user_id=user_id,
            new_name=cmd.arg,
            channel_id=channel_id,
            response_url=response_url,
        )
    elif cmd.name == AGENT_EDIT:
        agents.open_agent_modal(
            ctx,
            client,
            trigger_id,
            team_id,
            user_id=user_id,
            agent_name=cmd.arg,
            channel_id=channel_id,
            response_url=response_url,
        )
    elif cmd.name == PIPELINE_NEW:
        pipelines.open_pipeline_modal(
            ctx,
            client,
            trigger_id,
            team_id,
            user_id=user_id,
            new_name=cmd.arg,
            channel_id=channel_id,
            response_url=response_url,
        )
    elif cmd.name == PIPELINE_EDIT:
        pipelines.open_pipeline_modal(
            ctx,
            client,
            trigger_id,
            team_id,
            user_id=user_id,
            pipeline_name=cmd.arg,
            channel_id=channel_id,
            response_url=response_url,
        )
    elif cmd.name == SETTINGS:
        settings.open_settings_modal(
            ctx, client, trigger_id, team_id, user_id, channel_id=channel_id, response_url=response_url
        )
    elif cmd.name == SCHEDULE_NEW:
        schedules.open_schedule_modal(
            ctx, client, trigger_id, team_id, user_id, channel_id=channel_id, response_url=response_url
        )
    elif cmd.name == SCHEDULES:
        schedules.show_schedules(ctx, client, team_id, user_id, respond)
    elif cmd.name == TRIGGER_NEW:
        triggers.open_trigger_modal(
            ctx, client, trigger_id, team_id, user_id, channel_id=channel_id, response_url=response_url
        )
    elif cmd.name == TRIGGERS:
        triggers.show_triggers(ctx, team_id, respond)
    elif cmd.name == AUDIT:
        audit.show_audit(ctx, client, Actor(team_id, user_id, channel_id=channel_id, response_url=response_url))
    elif cmd.name in MCP_COMMANDS:
        to = Actor(team_id, user_id, trigger_id=trigger_id, channel_id=channel_id, response_url=response_url)
        mcp_servers.handle_command(ctx, client, to, cmd.name, cmd.arg)
    else:  # a subcommand commands_text knows and this dispatcher does not
        respond(**ephemeral(help_text(COMMAND)))


def handle_command(
    ctx: AppContext,
    ack: Ack,
    body: Mapping[str, Any],
    client: WebClient,
    respond: Respond,
    reads: AckReads | None = None,
) -> None:
    """The `/pipebot` listener: answer in the ack when quick, else ack and continue after it."""
    # Slack sends &, < and > as entities and mentions/links as <…> entities: decode once
    # here, so names ("R&D") match and run input reaches the model as typed.
    text = decode_slack_text(body.get("text") or "")
    body = {**body, "text": text}
    cmd = parse_command(text, body.get("command") or COMMAND)
    if not is_quick(cmd):
        ack()
        later(client, body, "pipebot command", slow_command, ctx, client, body, cmd, respond)
        return
    if cmd.name in (HELP, UNKNOWN) or cmd.error:  # no database: nothing to wait for
        ack(**quick_answer(ctx, body, cmd))
        return
    if cmd.name == AGENTS and reads is not None:
        # Bounded by the read engine itself (statement_timeout, pool timeout): no thread hop.
        try:
            answer = quick_answer(ctx, body, cmd, reads)
        except (DBAPIError, PoolTimeout):
            log.warning("the agents list missed the ack budget; answering through the response_url")
            ack()
            later(client, body, "pipebot command", lambda: respond(**quick_answer(ctx, body, cmd)))
            return
        except Exception:  # noqa: BLE001 - the user must hear something
            log.exception("pipebot command failed")
            answer = ephemeral(OOPS)
        ack(**answer)
        return
    future = _reads.submit(quick_answer, ctx, body, cmd, client=client)
    try:
        answer = future.result(timeout=ACK_BUDGET)
    except FutureTimeout:
        ack()  # the database is slow today: answer through the response_url when it is done
        later(client, body, "pipebot command", lambda: respond(**future.result()))
        return
    except Exception:  # noqa: BLE001 - the user must hear something
        log.exception("pipebot command failed")
        answer = ephemeral(OOPS)
    ack(**answer)


def pipebot_command(
    ctx: AppContext, reads: AckReads, ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond
) -> None:
    """`/pipebot …`."""
    handle_command(ctx, ack, body, client, respond, reads)


def cancel_delete(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
    """Cancel under the "delete X?" question this module answers in the ack."""
    ack()
    later(
        client,
        body,
        "cancelling a delete",
        lambda: respond(text="Cancelled: nothing was deleted.", replace_original=True),
    )


def register(app: App, ctx: AppContext) -> AckReads:
    """Attach `/pipebot` and the Cancel of its delete question; returns the lean read path
    it answers lists with."""
    reads = AckReads(ctx.engine)
    app.command(COMMAND)(partial(pipebot_command, ctx, reads))
    app.action(DELETE_CANCEL)(cancel_delete)
    return reads

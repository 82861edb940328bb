"""`/pipebot` and the modals it opens: agents, pipelines, settings.

Timing rules (Slack's, DESIGN §5) shape every handler here. The app runs with
``process_before_response=True``: Slack gets its HTTP answer when the listener returns.

* Read-only answers (help, lists, "delete X?") go in the ack itself: Slack shows an
  ack's body to the user as an ephemeral reply, so that is one round trip instead of
  two and no work left behind. `/pipebot agents` reads through bot/slack_ack_reads.py
  (one lean, statement_timeout-bounded query, no thread hop); the other reads run in a
  thread under ``ACK_BUDGET``. Either way, if the database is slow the ack goes out empty
  and the answer follows through the response_url.
* Everything that calls Slack (views.open, users.info, posts) runs after the ack in a
  small thread pool (``after_ack``). Not Bolt's ``lazy=[...]``: it deep-copies the whole
  request, WebClient included, on the ack path (about 0.8 ms of a 1.5 ms dispatch,
  bench/bench_slack_ack.py), for nothing we need.
* A ``trigger_id`` lives 3 s, so a modal is opened before anything slow, and a command
  whose trigger expired anyway gets an ephemeral "run it again".
* A ``view_submission`` must be answered within 3 s *with* its validation errors, so
  validation (database only) runs before the ack. Provider keys are checked with the
  provider inside a time budget; a slow provider turns the modal into "checking…" and
  the result arrives by ``views.update`` (see ``save_settings``).

Tenancy: the team id always comes from the signed payload, never from button values
or private_metadata, so a crafted value can only name rows of the caller's workspace.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.webhook import WebhookClient
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.slack.blocks import views
from bot.slack.command_args import (
    AGENT_DELETE,
    AGENT_EDIT,
    AGENT_NEW,
    AGENTS,
    ARTIFACTS,
    HELP,
    PIPELINE_DELETE,
    PIPELINE_EDIT,
    PIPELINE_NEW,
    PIPELINES,
    RUN,
    SETTINGS,
    UNKNOWN,
    Command,
    did_you_mean,
    help_text,
    parse_command,
)
from bot.slack.ack_reads import AckReads
from bot.slack.admin import REFUSED, AdminCheckFailed, is_admin
from bot.slack.payloads import team_of
from bot.slack.text import decode_slack_text, escape_mrkdwn
from core import agents as core_agents
from core import credentials
from core import pipelines as core_pipelines
from core.agents import AgentDraft, clean_name
from core.context import AppContext
from core.errors import NotFound, ValidationFailed
from core.pipelines import PipelineDraft
from providers.registry import PROVIDER_IDS, PROVIDER_NAMES
from storage import repos
from storage.db import transaction

log = logging.getLogger(__name__)

COMMAND = "/pipebot"
ACK_BUDGET = 1.0  # seconds a read-only answer may take before it is sent after the ack instead
KEY_CHECK_BUDGET = 1.8  # seconds a settings submission waits for the provider before "checking…"
TRIGGER_ERRORS = ("expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id")
TRIGGER_EXPIRED = ("Slack gives an app 3 seconds to open a form, and that passed before I could open it "
                   "(the server may be busy). Please run the command again.")
OOPS = "Something went wrong on pipebot's side (it has been logged). Please try again."

_background = ThreadPoolExecutor(max_workers=8, thread_name_prefix="pipebot-after-ack")
_reads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="pipebot-ack-read")
_key_checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pipebot-key-check")


class Reply(Exception):
    """A message for the person who typed the command (ephemeral), not an error to log."""


# ---- small helpers -------------------------------------------------------------------------

def after_ack(fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Run ``fn`` in the background pool: the listener returns (and Slack gets its ack)
    without waiting for it. Exceptions are logged."""
    def run() -> None:
        try:
            fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - background work: log, never crash the pool
            log.exception("pipebot background task %s failed", getattr(fn, "__name__", fn))
    _background.submit(run)


def _blocks(blocks: Sequence[Block | dict[str, Any]]) -> list[dict[str, Any]]:
    """Models are rendered with to_dict() (which validates Slack's limits); dicts (the list
    messages, built lean for the ack path) pass as they are."""
    return [b if isinstance(b, dict) else b.to_dict() for b in blocks]


def notify(client: WebClient, *, text: str, user_id: str, response_url: str | None = None,
           channel_id: str | None = None, blocks: list[Block] | None = None) -> None:
    """An ephemeral note for ``user_id``: through the command's response_url (works in any
    channel for 30 minutes), else chat.postEphemeral, else a DM from the app."""
    payload = _blocks(blocks) if blocks else None
    if response_url:
        try:
            resp = WebhookClient(response_url, timeout=10).send(text=text, blocks=payload,
                                                                response_type="ephemeral")
            if resp.status_code == 200:
                return
        except Exception:  # noqa: BLE001 - fall through to the Web API
            log.info("response_url post failed; trying chat.postEphemeral")
    if channel_id:
        try:
            client.chat_postEphemeral(channel=channel_id, user=user_id, text=text, blocks=payload)
            return
        except SlackApiError as exc:
            log.info("chat.postEphemeral failed (%s); sending a DM", exc.response.get("error"))
    client.chat_postMessage(channel=user_id, text=text, blocks=payload)


def open_modal(client: WebClient, trigger_id: str, view: View) -> None:
    """views.open, turning Slack's trigger errors into a message the user can act on."""
    try:
        client.views_open(trigger_id=trigger_id, view=view.to_dict())
    except SlackApiError as exc:
        if exc.response.get("error") in TRIGGER_ERRORS:
            raise Reply(TRIGGER_EXPIRED) from None
        raise


def _names_hint(kind: str, name: str, names: list[str]) -> str:
    guesses = did_you_mean(name, names)
    text = f"No {kind} named “{escape_mrkdwn(clean_name(name))}” in this workspace."
    if guesses:
        text += " Did you mean " + " or ".join(f"*{escape_mrkdwn(g)}*" for g in guesses) + "?"
    return text + f" `{COMMAND} {kind}s` lists them."


def find_agent(s: Any, team_id: str, name: str) -> Any:
    """The agent called ``name`` (any case, quotes already removed) or Reply with did-you-mean."""
    agent = repos.get_agent_by_name(s, team_id, clean_name(name))
    if agent is None:
        raise Reply(_names_hint("agent", name, [a.name for a in repos.list_agents(s, team_id)]))
    return agent


def find_pipeline(s: Any, team_id: str, name: str) -> Any:
    pipeline = repos.get_pipeline_by_name(s, team_id, clean_name(name))
    if pipeline is None:
        raise Reply(_names_hint("pipeline", name, [p.name for p in repos.list_pipelines(s, team_id)]))
    return pipeline


def _text(values: Mapping[str, Any], block_id: str) -> str:
    return ((values.get(block_id) or {}).get(views.INPUT) or {}).get("value") or ""


def _selected(values: Mapping[str, Any], block_id: str) -> str:
    option = ((values.get(block_id) or {}).get(views.INPUT) or {}).get("selected_option") or {}
    return option.get("value") or ""


def _checked(values: Mapping[str, Any], block_id: str) -> bool:
    return bool(((values.get(block_id) or {}).get(views.INPUT) or {}).get("selected_options"))


def _field_errors(errors: Mapping[str, str], known: tuple[str, ...], fallback: str) -> dict[str, str]:
    """core errors → ``response_action: errors``; a key with no input joins ``fallback``."""
    out: dict[str, str] = {}
    for key, message in errors.items():
        target = key if key in known else fallback
        out[target] = f"{out[target]} {message}" if target in out else message
    return out


# ---- modal openers (also usable from App Home buttons) -------------------------------------

def open_agent_modal(ctx: AppContext, client: WebClient, trigger_id: str, team_id: str, *,
                     agent_name: str | None = None, agent_id: int | None = None, new_name: str | None = None,
                     channel_id: str | None = None, response_url: str | None = None) -> None:
    """New agent (no name/id) or edit; raises Reply when the agent does not exist."""
    with transaction(ctx.sessions) as s:
        agent = None
        if agent_id is not None:
            agent = repos.get_agent(s, team_id, agent_id)
            if agent is None:
                raise Reply("That agent no longer exists; it may have been deleted.")
        elif agent_name is not None:
            agent = find_agent(s, team_id, agent_name)
        providers = credentials.available_providers(s, ctx, team_id)
        meta = {"c": channel_id, "r": response_url, "a": agent.id if agent else None}
        view = views.agent_modal(providers, agent=agent, name=new_name, metadata=meta)
    open_modal(client, trigger_id, view)


def open_pipeline_modal(ctx: AppContext, client: WebClient, trigger_id: str, team_id: str, *,
                        pipeline_name: str | None = None, pipeline_id: int | None = None,
                        new_name: str | None = None, channel_id: str | None = None,
                        response_url: str | None = None) -> None:
    """The pipeline builder, new or prefilled from an existing pipeline (orphans flagged)."""
    with transaction(ctx.sessions) as s:
        if pipeline_id is not None or pipeline_name is not None:
            pipeline = (repos.get_pipeline(s, team_id, pipeline_id) if pipeline_id is not None
                        else find_pipeline(s, team_id, pipeline_name or ""))
            if pipeline is None:
                raise Reply("That pipeline no longer exists; it may have been deleted.")
            form = views.form_from_pipeline(pipeline, channel_id=channel_id, response_url=response_url)
        else:
            form = views.PipelineForm(name=new_name or "", channel_id=channel_id, response_url=response_url)
        view = views.pipeline_modal(list(repos.list_agents(s, team_id)), form)
    open_modal(client, trigger_id, view)


def open_settings_modal(ctx: AppContext, client: WebClient, trigger_id: str, team_id: str, user_id: str, *,
                        channel_id: str | None = None, response_url: str | None = None) -> None:
    """Admins only; everyone else gets Reply(REFUSED) and no modal."""
    try:
        allowed = is_admin(ctx, client, user_id)
    except AdminCheckFailed as exc:
        raise Reply(str(exc)) from None
    if not allowed:
        raise Reply(REFUSED)
    with transaction(ctx.sessions) as s:
        status = credentials.describe(s, ctx, team_id)
        stored = repos.credential_hints(s, team_id)
    view = views.settings_modal(status, stored, metadata={"c": channel_id, "r": response_url})
    open_modal(client, trigger_id, view)


def confirm_delete(ctx: AppContext, team_id: str, kind: str, *, name: str | None = None,
                   item_id: int | None = None) -> tuple[str, list[Block]]:
    """The "are you sure?" message for deleting an agent (with the pipelines that use it)
    or a pipeline."""
    with transaction(ctx.sessions) as s:
        if kind == "agent":
            item = repos.get_agent(s, team_id, item_id) if item_id is not None else find_agent(s, team_id, name or "")
            if item is None:
                raise Reply("That agent no longer exists.")
            used = list(repos.pipelines_using_agent(s, team_id, item.id))
        else:
            item = (repos.get_pipeline(s, team_id, item_id) if item_id is not None
                    else find_pipeline(s, team_id, name or ""))
            if item is None:
                raise Reply("That pipeline no longer exists.")
            used = []
        return views.confirm_delete_message(kind, item.id, item.name, used)


# ---- /pipebot ------------------------------------------------------------------------------

def _args_after_first_word(text: str) -> str:
    m = re.match(r"\s*\S+", text)
    return text[m.end():].lstrip() if m else ""


def _optional_handler(module: str, name: str) -> Callable[..., None] | None:
    """The other helper's handler if that module exists (imported lazily: after the ack)."""
    import importlib
    import importlib.util

    if importlib.util.find_spec(module) is None:
        return None
    return getattr(importlib.import_module(module), name, None)


FAST = (HELP, UNKNOWN, AGENTS, PIPELINES, AGENT_DELETE, PIPELINE_DELETE)


def is_quick(cmd: Command) -> bool:
    """Answered in the ack: no Slack API call needed, at most one database read."""
    return cmd.name in FAST or (cmd.error is not None and cmd.name not in (RUN, ARTIFACTS))


def _ephemeral(text: str, blocks: Sequence[Block | dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"text": text, "response_type": "ephemeral"}
    if blocks:
        out["blocks"] = _blocks(blocks)
    return out


def quick_answer(ctx: AppContext, body: Mapping[str, Any], cmd: Command,
                 reads: AckReads | None = None) -> dict[str, Any]:
    """The reply to a quick command, as keyword arguments for ``ack()`` / ``respond()``.
    ``reads``: the lean, time-bounded read path for the ack (bot/slack_ack_reads.py)."""
    team_id = team_of(body)
    if cmd.name == UNKNOWN:
        if cmd.error:
            extra = (" Did you mean " + " or ".join(f"`{COMMAND} {g}`" for g in cmd.suggestions) + "?"
                     if cmd.suggestions and "Did you mean" not in cmd.error else "")
            return _ephemeral(cmd.error + extra)
        unknown = cmd.args[0] if cmd.args else (body.get("text") or "")
        return _ephemeral(help_text(COMMAND, unknown=unknown, suggestions=cmd.suggestions))
    if cmd.error:
        return _ephemeral(cmd.error)
    if cmd.name == HELP:
        return _ephemeral(help_text(COMMAND))
    try:
        if cmd.name in (AGENT_DELETE, PIPELINE_DELETE):
            kind = "agent" if cmd.name == AGENT_DELETE else "pipeline"
            return _ephemeral(*confirm_delete(ctx, team_id, kind, name=cmd.arg))
        if cmd.name == AGENTS:
            if reads is not None:
                return _ephemeral(*views.agents_message(reads.agents(team_id)))
            with transaction(ctx.sessions) as s:
                return _ephemeral(*views.agents_message(repos.list_agents(s, team_id)))
        with transaction(ctx.sessions) as s:
            return _ephemeral(*views.pipelines_message(repos.list_pipelines(s, team_id)))
    except Reply as exc:
        return _ephemeral(str(exc))


def slow_command(ctx: AppContext, client: WebClient, body: Mapping[str, Any], cmd: Command,
                 respond: Callable[..., Any]) -> None:
    """The commands that call Slack (modals, admin check) or start work (run, artifacts)."""
    team_id = team_of(body)
    user_id = body.get("user_id") or ""
    channel_id = body.get("channel_id")
    response_url = body.get("response_url")
    trigger_id = body.get("trigger_id") or ""
    where = {"channel_id": channel_id, "response_url": response_url}
    if cmd.name in (RUN, ARTIFACTS):
        module, fn = ("bot.slack.listeners.runs", "handle_run") if cmd.name == RUN else ("bot.slack.listeners.artifacts", "handle_artifacts")
        handler = _optional_handler(module, fn)
        if handler is None:
            raise Reply(f"`{COMMAND} {cmd.name}` is not available on this server yet.")
        handler(ctx, client, dict(body), _args_after_first_word(body.get("text") or ""), respond)
    elif cmd.name == AGENT_NEW:
        open_agent_modal(ctx, client, trigger_id, team_id, new_name=cmd.arg, **where)
    elif cmd.name == AGENT_EDIT:
        open_agent_modal(ctx, client, trigger_id, team_id, agent_name=cmd.arg, **where)
    elif cmd.name == PIPELINE_NEW:
        open_pipeline_modal(ctx, client, trigger_id, team_id, new_name=cmd.arg, **where)
    elif cmd.name == PIPELINE_EDIT:
        open_pipeline_modal(ctx, client, trigger_id, team_id, pipeline_name=cmd.arg, **where)
    elif cmd.name == SETTINGS:
        open_settings_modal(ctx, client, trigger_id, team_id, user_id, **where)
    else:  # a subcommand command_args knows and this dispatcher does not
        respond(**_ephemeral(help_text(COMMAND)))


def handle_command(ctx: AppContext, ack: Callable[..., None], body: Mapping[str, Any], client: WebClient,
                   respond: Callable[..., Any], reads: AckReads | None = None) -> None:
    """The `/pipebot` listener: answer in the ack when quick, else ack and continue after it."""
    # Slack sends &, < and > as entities and mentions/links as <…> entities: decode once
    # here, so names ("R&D") match and run input reaches the model as typed.
    text = decode_slack_text(body.get("text") or "")
    body = {**body, "text": text}
    cmd = parse_command(text, body.get("command") or COMMAND)
    if not is_quick(cmd):
        ack()
        after_ack(_guarded, respond, lambda: slow_command(ctx, client, body, cmd, respond))
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
            after_ack(_guarded, respond, lambda: respond(**quick_answer(ctx, body, cmd)))
            return
        except Exception:  # noqa: BLE001 - the user must hear something
            log.exception("pipebot command failed")
            answer = _ephemeral(OOPS)
        ack(**answer)
        return
    future = _reads.submit(quick_answer, ctx, body, cmd)
    try:
        answer = future.result(timeout=ACK_BUDGET)
    except FutureTimeout:
        ack()  # the database is slow today: answer through the response_url when it is done
        after_ack(_guarded, respond, lambda: respond(**future.result()))
        return
    except Exception:  # noqa: BLE001 - the user must hear something
        log.exception("pipebot command failed")
        answer = _ephemeral(OOPS)
    ack(**answer)


def _guarded(respond: Callable[..., Any], fn: Callable[[], None]) -> None:
    """Reply → ephemeral message; anything else → logged, and the user told."""
    try:
        fn()
    except Reply as exc:
        respond(text=str(exc), response_type="ephemeral", replace_original=False)
    except Exception:  # noqa: BLE001 - the user must hear something
        log.exception("pipebot command failed")
        try:
            respond(text=OOPS, response_type="ephemeral", replace_original=False)
        except Exception:  # noqa: BLE001
            log.exception("could not tell the user about the failure")


# ---- view submissions ----------------------------------------------------------------------

def save_agent(ctx: AppContext, body: Mapping[str, Any], context: BoltContext | None) -> tuple[dict[str, Any] | None, Callable[[WebClient], None] | None]:
    """Validate and save the agent modal. Returns (ack kwargs for errors, or None to close;
    a follow-up to run after the ack)."""
    view = body["view"]
    team_id, user_id = team_of(body, context), body["user"]["id"]
    meta = views.decode_metadata(view.get("private_metadata"))
    values = (view.get("state") or {}).get("values") or {}
    draft = AgentDraft(name=_text(values, "name"), system_prompt=_text(values, "system_prompt"),
                       model=_selected(values, "model"), temperature=_text(values, "temperature") or None,
                       max_output_tokens=_text(values, "max_output_tokens") or None)
    agent_id = meta.get("a")
    try:
        with transaction(ctx.sessions) as s:
            if agent_id:
                agent = core_agents.update(s, team_id, int(agent_id), draft)
            else:
                agent = core_agents.create(s, team_id, draft, user_id)
            line = views.agent_line(agent)
    except ValidationFailed as exc:
        return {"response_action": "errors", "errors": _field_errors(exc.errors, views.AGENT_FIELDS, "name")}, None
    except NotFound as exc:
        return {"response_action": "errors", "errors": {"name": str(exc)}}, None
    except IntegrityError:  # someone saved the same name a moment ago
        return {"response_action": "errors", "errors": {"name": "That name was just taken. Pick another."}}, None
    verb = "Updated" if agent_id else "Created"
    text = f"✅ {verb} the agent {line}"
    return None, lambda client: notify(client, text=text, user_id=user_id, response_url=meta.get("r"),
                                       channel_id=meta.get("c"))


def save_pipeline(ctx: AppContext, body: Mapping[str, Any], context: BoltContext | None) -> tuple[dict[str, Any] | None, Callable[[WebClient], None] | None]:
    """Validate and save the builder; errors land on the step (or name/budget) they concern."""
    view = body["view"]
    team_id, user_id = team_of(body, context), body["user"]["id"]
    form = views.PipelineForm.from_view(view)
    draft = PipelineDraft(name=form.name, agent_ids=[st.agent_id for st in form.steps], budget_usd=form.budget or None)
    # A step whose agent was deleted must be re-picked (or removed with "Remove a step"):
    # core would quietly drop it when it is the last one.
    orphaned = {f"step_{i}": "" for i, st in enumerate(form.steps, 1) if st.agent_id is None and st.deleted_name}
    try:
        with transaction(ctx.sessions) as s:
            if orphaned:
                try:
                    core_pipelines.validate(s, team_id, draft, pipeline_id=form.pipeline_id)
                except ValidationFailed as exc:
                    raise ValidationFailed({**exc.errors, **orphaned}) from None
                raise ValidationFailed(orphaned)
            if form.pipeline_id:
                pipeline = core_pipelines.update(s, team_id, form.pipeline_id, draft)
            else:
                pipeline = core_pipelines.create(s, team_id, draft, user_id)
            line = views.pipeline_line(pipeline)
    except ValidationFailed as exc:
        errors: dict[str, str] = {}
        for key, message in exc.errors.items():
            m = re.match(r"^step_(\d+)$", key)
            if m and int(m.group(1)) <= len(form.steps):
                step = form.steps[int(m.group(1)) - 1]
                if step.agent_id is None and step.deleted_name:
                    message = (f"Step {m.group(1)} used the agent “{step.deleted_name}”, which was deleted. "
                               "Pick another agent.")
            block = form.error_block(key) if (m or key in ("name", views.BUDGET_BLOCK)) else "name"
            errors[block] = f"{errors[block]} {message}" if block in errors else message
        return {"response_action": "errors", "errors": errors}, None
    except NotFound as exc:
        return {"response_action": "errors", "errors": {"name": str(exc)}}, None
    except IntegrityError:
        return {"response_action": "errors", "errors": {"name": "That name was just taken. Pick another."}}, None
    verb = "Updated" if form.pipeline_id else "Created"
    text = f"✅ {verb} the pipeline {line}"
    return None, lambda client: notify(client, text=text, user_id=user_id, response_url=form.response_url,
                                       channel_id=form.channel_id)


def _check_all(ctx: AppContext, keys: Mapping[str, str]) -> dict[str, Future[None]]:
    return {p: _key_checks.submit(credentials.check_key, ctx, p, key, field=views.key_block(p))
            for p, key in keys.items()}


def _check_errors(futures: Mapping[str, Future[None]]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for provider, future in futures.items():
        try:
            future.result()
        except ValidationFailed as exc:
            errors.update(exc.errors)
        except Exception:  # noqa: BLE001 - never echo an SDK error (it may carry request data)
            log.exception("checking the %s key failed unexpectedly", provider)
            errors[views.key_block(provider)] = (f"Could not check the key with {PROVIDER_NAMES[provider]} "
                                                  "right now. Try again in a minute.")
    return errors


def _apply_settings(ctx: AppContext, team_id: str, user_id: str, keys: Mapping[str, str],
                    removes: set[str]) -> str:
    lines = []
    with transaction(ctx.sessions) as s:
        for provider, key in keys.items():
            credentials.save_key(s, ctx, team_id, provider, key, user_id)
            lines.append(f"Saved the {PROVIDER_NAMES[provider]} key (ends in …{key.strip()[-4:]}).")
        for provider in sorted(removes):
            if repos.delete_credential(s, team_id, provider):
                lines.append(f"Removed the {PROVIDER_NAMES[provider]} key.")
    return " ".join(lines) or "Nothing changed."


def save_settings(ctx: AppContext, client: WebClient, body: Mapping[str, Any],
                  context: BoltContext | None) -> tuple[dict[str, Any] | None, Callable[[WebClient], None] | None]:
    """Check new keys with their providers, then save them and apply removals.

    Why a budget: the answer must reach Slack within 3 s. Checks run in parallel; if they
    finish within KEY_CHECK_BUDGET, bad keys get inline errors as usual. Otherwise the
    modal is replaced by a "checking…" view and the follow-up finishes the checks and
    updates that view with the outcome (errors shown under the fields, or "saved").
    Keys live only in this process's memory meanwhile: never in private_metadata or logs.
    """
    view = body["view"]
    team_id, user_id = team_of(body, context), body["user"]["id"]
    meta = views.decode_metadata(view.get("private_metadata"))
    first = views.key_block(PROVIDER_IDS[0])
    try:
        allowed = is_admin(ctx, client, user_id)
    except AdminCheckFailed as exc:
        return {"response_action": "errors", "errors": {first: str(exc)}}, None
    if not allowed:
        return {"response_action": "errors", "errors": {first: REFUSED}}, None
    values = (view.get("state") or {}).get("values") or {}
    keys = {p: _text(values, views.key_block(p)).strip() for p in PROVIDER_IDS}
    keys = {p: k for p, k in keys.items() if k}
    removes = {p for p in PROVIDER_IDS if _checked(values, views.remove_block(p))}
    both = {views.key_block(p): "Paste a new key or tick Remove, not both." for p in keys.keys() & removes}
    if both:
        return {"response_action": "errors", "errors": both}, None

    def done_text(summary: str) -> str:
        return f"✅ {summary}"

    futures = _check_all(ctx, keys)
    _, pending = wait(futures.values(), timeout=KEY_CHECK_BUDGET)
    if not pending:
        errors = _check_errors(futures)
        if errors:
            return {"response_action": "errors", "errors": errors}, None
        summary = _apply_settings(ctx, team_id, user_id, keys, removes)
        return None, lambda c: notify(c, text=done_text(summary), user_id=user_id, response_url=meta.get("r"),
                                      channel_id=meta.get("c"))

    names = " and ".join(PROVIDER_NAMES[p] for p in keys)
    checking = views.info_modal("pipebot settings", f"⏳ Checking the key with {names}… this takes a few seconds.")
    view_id = view.get("id")

    def finish(c: WebClient) -> None:
        wait(futures.values())
        errors = _check_errors(futures)
        if errors:
            with transaction(ctx.sessions) as s:
                status = credentials.describe(s, ctx, team_id)
                stored = repos.credential_hints(s, team_id)
            notes = {k: f"{v} Nothing was saved; paste the key again." for k, v in errors.items()}
            again = views.settings_modal(status, stored, metadata=meta, notes=notes)
            c.views_update(view_id=view_id, view=again.to_dict())
            return
        summary = _apply_settings(ctx, team_id, user_id, keys, removes)
        c.views_update(view_id=view_id, view=views.info_modal("pipebot settings", done_text(summary),
                                                              close="Done").to_dict())
        notify(c, text=done_text(summary), user_id=user_id, response_url=meta.get("r"), channel_id=meta.get("c"))

    return {"response_action": "update", "view": checking.to_dict()}, finish


# ---- block actions -------------------------------------------------------------------------

def _action_value(body: Mapping[str, Any]) -> str:
    action = (body.get("actions") or [{}])[0]
    return (action.get("selected_option") or {}).get("value") or action.get("value") or ""


def rebuild_pipeline_modal(ctx: AppContext, client: WebClient, body: Mapping[str, Any], *,
                           add: bool = False, remove: int | None = None) -> None:
    """Add step / remove a step: rebuild the builder from the view's state (so picks made
    so far survive) and views.update it (hash-guarded against double clicks)."""
    view = body["view"]
    team_id = team_of(body)
    form = views.PipelineForm.from_view(view)
    if add and len(form.steps) < views.MAX_STEPS:
        form.steps.append(views.StepPick())
    if remove is not None and 1 <= remove <= len(form.steps) and len(form.steps) > 1:
        del form.steps[remove - 1]
    form.rev += 1
    with transaction(ctx.sessions) as s:
        new_view = views.pipeline_modal(list(repos.list_agents(s, team_id)), form)
    try:
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=new_view.to_dict())
    except SlackApiError as exc:
        if exc.response.get("error") != "hash_conflict":
            raise
        log.info("pipeline builder changed meanwhile (double click?); update skipped")


def delete_item(ctx: AppContext, body: Mapping[str, Any], kind: str) -> str:
    """Delete after the Delete button; says what happened (including an already-gone item)."""
    team_id = team_of(body)
    try:
        item_id = int(json.loads(_action_value(body))["id"])
    except (ValueError, KeyError, TypeError):
        return "That button is out of date. Run the command again."
    with transaction(ctx.sessions) as s:
        if kind == "agent":
            agent = repos.get_agent(s, team_id, item_id)
            if agent is None:
                return "That agent was already deleted."
            name = agent.name
            used = list(repos.pipelines_using_agent(s, team_id, item_id))
            repos.delete_agent(s, team_id, item_id)
        else:
            pipeline = repos.get_pipeline(s, team_id, item_id)
            if pipeline is None:
                return "That pipeline was already deleted."
            name, used = pipeline.name, []
            repos.delete_pipeline(s, team_id, item_id)
    text = f"🗑️ Deleted the {kind} *{escape_mrkdwn(name)}*."
    if used:
        text += (" ⚠️ " + ", ".join(f"*{escape_mrkdwn(n)}*" for n in used) +
                 " now use a deleted agent; edit them with `/pipebot pipeline edit NAME` and pick another.")
    return text


def menu_action(ctx: AppContext, client: WebClient, body: Mapping[str, Any], respond: Callable[..., Any],
                kind: str) -> None:
    """Edit / Delete… from the overflow menu next to an agent or pipeline in a list."""
    try:
        choice = json.loads(_action_value(body))
        item_id, what = int(choice["id"]), choice["do"]
    except (ValueError, KeyError, TypeError):
        raise Reply("That menu is out of date. Run the list command again.") from None
    team_id = team_of(body)
    channel_id = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    if what == "edit":
        opener = open_agent_modal if kind == "agent" else open_pipeline_modal
        id_arg = {"agent_id": item_id} if kind == "agent" else {"pipeline_id": item_id}
        opener(ctx, client, body.get("trigger_id") or "", team_id, channel_id=channel_id,
               response_url=body.get("response_url"), **id_arg)
    elif what == "delete":
        fallback, blocks = confirm_delete(ctx, team_id, kind, item_id=item_id)
        respond(text=fallback, blocks=_blocks(blocks), response_type="ephemeral", replace_original=False)


# ---- registration --------------------------------------------------------------------------

def register(app: App, ctx: AppContext) -> None:
    """Attach `/pipebot`, the three modals' submissions and the buttons/menus to ``app``."""

    reads = AckReads(ctx.engine)

    def pipebot_command(ack: Callable[..., None], body: dict[str, Any], client: WebClient,
                        respond: Callable[..., Any]) -> None:
        handle_command(ctx, ack, body, client, respond, reads)

    app.command(COMMAND)(pipebot_command)

    def submission(save: Callable[..., tuple[dict[str, Any] | None, Callable[[WebClient], None] | None]],
                   with_client: bool = False) -> Callable[..., None]:
        def handle(ack: Callable[..., None], body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
            try:
                answer, follow_up = (save(ctx, client, body, context) if with_client else save(ctx, body, context))
            except Exception:  # noqa: BLE001 - keep the modal open and say so
                log.exception("saving %s failed", body.get("view", {}).get("callback_id"))
                first = "name" if not with_client else views.key_block(PROVIDER_IDS[0])
                ack(response_action="errors", errors={first: OOPS})
                return
            ack(**answer) if answer else ack()
            if follow_up is not None:
                after_ack(follow_up, client)
        return handle

    app.view(views.AGENT_CALLBACK)(submission(save_agent))
    app.view(views.PIPELINE_CALLBACK)(submission(save_pipeline))
    app.view(views.SETTINGS_CALLBACK)(submission(save_settings, with_client=True))

    def action(work: Callable[[dict[str, Any], WebClient, Callable[..., Any]], None]) -> Callable[..., None]:
        """Ack a click at once; do its work (views.update, a delete, a reply) after the ack."""
        def handle(ack: Callable[..., None], body: dict[str, Any], client: WebClient,
                   respond: Callable[..., Any]) -> None:
            ack()
            after_ack(_guarded, respond, lambda: work(body, client, respond))
        return handle

    def remove_step(body: dict[str, Any], client: WebClient, respond: Callable[..., Any]) -> None:
        try:
            position = int(_action_value(body))
        except ValueError:
            return
        rebuild_pipeline_modal(ctx, client, body, remove=position)

    app.action(views.ADD_STEP)(action(lambda body, client, respond: rebuild_pipeline_modal(ctx, client, body, add=True)))
    app.action(views.REMOVE_STEP)(action(remove_step))
    app.action(views.AGENT_MENU)(action(lambda body, client, respond: menu_action(ctx, client, body, respond, "agent")))
    app.action(views.PIPELINE_MENU)(action(
        lambda body, client, respond: menu_action(ctx, client, body, respond, "pipeline")))
    app.action(views.DELETE_AGENT)(action(
        lambda body, client, respond: respond(text=delete_item(ctx, body, "agent"), replace_original=True)))
    app.action(views.DELETE_PIPELINE)(action(
        lambda body, client, respond: respond(text=delete_item(ctx, body, "pipeline"), replace_original=True)))
    app.action(views.DELETE_CANCEL)(action(
        lambda body, client, respond: respond(text="Cancelled: nothing was deleted.", replace_original=True)))

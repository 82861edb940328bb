"""`/pipebot settings`: the provider keys and workspace limits modal (admins only) and its
submission. Limits are checked by core/limits.py and saved with their audit event in the
transaction that saves the keys.

A ``view_submission`` must be answered within 3 s *with* its validation errors, and keys
are checked with their provider before they are saved: a slow provider turns the modal
into "checking…" and the outcome arrives by ``views.update`` (see ``save_settings``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.slack.admin import REFUSED, AdminCheckFailed, is_admin
from bot.slack.blocks import settings as blocks
from bot.slack.blocks.common import info_modal
from bot.slack.listeners.support import (
    Reply,
    SaveResult,
    checked,
    open_modal,
    submission,
    tell,
    text_value,
)
from bot.slack.modal_state import SettingsState, StateUnreadable
from bot.slack.payloads import Actor, team_of, user_of
from core import credentials, limits
from core.audit import AuditAction
from core.context import AppContext
from core.errors import ValidationFailed
from core.schedules import store as schedule_store
from core.schedules import texts as schedule_texts
from providers.registry import PROVIDER_IDS, PROVIDER_NAMES
from storage.db import transaction
from storage.repos import audit
from storage.repos import credentials as credential_repo
from storage.repos import workspaces as workspace_repo
from storage.repos.workspaces import Limits

log = logging.getLogger(__name__)

MIN_SCHEDULE_MAX = 1440  # minutes: a day
KEY_CHECK_BUDGET = 1.8  # seconds a settings submission waits for the provider before "checking…"
_key_checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pipebot-key-check")


def open_settings_modal(
    ctx: AppContext,
    client: WebClient,
    trigger_id: str,
    team_id: str,
    user_id: str,
    *,
    channel_id: str | None = None,
    response_url: str | None = None,
) -> None:
    """Admins only; everyone else gets Reply(REFUSED) and no modal."""
    try:
        allowed = is_admin(ctx, client, user_id, team_id)
    except AdminCheckFailed as exc:
        raise Reply(str(exc)) from None
    if not allowed:
        raise Reply(REFUSED)
    with transaction(ctx.sessions) as s:
        status = credentials.describe(s, ctx, team_id)
        stored = credential_repo.credential_hints(s, team_id)
        current = workspace_repo.limits(s, team_id)
    view = blocks.settings_modal(
        status,
        stored,
        state=SettingsState(channel_id, response_url),
        limits=current,
        min_schedule_minutes=schedule_store.min_minutes(ctx, team_id),
    )
    open_modal(client, trigger_id, view)


def _check_all(ctx: AppContext, keys: Mapping[str, str]) -> dict[str, Future[None]]:
    return {
        p: _key_checks.submit(credentials.check_key, ctx, p, key, field=blocks.key_block(p)) for p, key in keys.items()
    }


def _check_errors(futures: Mapping[str, Future[None]]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for provider, future in futures.items():
        try:
            future.result()
        except ValidationFailed as exc:
            errors.update(exc.errors)
        except Exception:  # noqa: BLE001 - never echo an SDK error (it may carry request data)
            log.exception("checking the %s key failed unexpectedly", provider)
            errors[blocks.key_block(provider)] = (
                f"Could not check the key with {PROVIDER_NAMES[provider]} right now. Try again in a minute."
            )
    return errors


def _apply_settings(
    ctx: AppContext,
    team_id: str,
    user_id: str,
    keys: Mapping[str, str],
    removes: set[str],
    new_limits: Limits,
    min_minutes: int | None = None,
) -> str:
    lines = []
    shortest = min_minutes or schedule_store.DEFAULT_MIN_MINUTES  # empty: the default
    if shortest != schedule_store.min_minutes(ctx, team_id):
        schedule_store.set_min_minutes(ctx, team_id, min_minutes)
        lines.append(f"Shortest schedule interval: {shortest} minute{'s' if shortest != 1 else ''}.")
    with transaction(ctx.sessions) as s:
        lines.extend(limits.save_limits(s, team_id, user_id, new_limits))
        for provider, key in keys.items():
            credentials.save_key(s, ctx, team_id, provider, key, user_id)
            # the audit trail names the provider, never the key
            audit.record(s, team_id, user_id, AuditAction.KEY_SAVED, PROVIDER_NAMES[provider], {"provider": provider})
            lines.append(f"Saved the {PROVIDER_NAMES[provider]} key (ends in …{key.strip()[-4:]}).")
        for provider in sorted(removes):
            if credential_repo.delete_credential(s, team_id, provider):
                audit.record(
                    s, team_id, user_id, AuditAction.KEY_REMOVED, PROVIDER_NAMES[provider], {"provider": provider}
                )
                lines.append(f"Removed the {PROVIDER_NAMES[provider]} key.")
    return " ".join(lines) or "Nothing changed."


@dataclass(frozen=True)
class _Submission:
    """A settings submission that passed the form's own checks: who, where to answer, and
    which keys to check and save or remove."""

    team_id: str
    user_id: str
    state: SettingsState
    to: Actor
    keys: dict[str, str]
    removes: set[str]
    limits: Limits
    min_minutes: int | None = None


def _read_submission(
    ctx: AppContext, client: WebClient, body: Mapping[str, Any], context: BoltContext | None
) -> _Submission | dict[str, str]:
    """The submission, or the errors to show under its fields: an unreadable form, someone
    not an admin (any more), or a provider with both a new key and Remove ticked."""
    view = body["view"]
    team_id, user_id = team_of(body, context), user_of(body)
    first = blocks.key_block(PROVIDER_IDS[0])
    try:
        state = SettingsState.decode(view.get("private_metadata"))
    except StateUnreadable as exc:
        return {first: str(exc)}
    to = Actor(team_id, user_id, channel_id=state.channel_id, response_url=state.response_url)
    try:
        allowed = is_admin(ctx, client, user_id, team_id)
    except AdminCheckFailed as exc:
        return {first: str(exc)}
    if not allowed:
        return {first: REFUSED}
    values = (view.get("state") or {}).get("values") or {}
    keys = {p: text_value(values, blocks.key_block(p)).strip() for p in PROVIDER_IDS}
    keys = {p: k for p, k in keys.items() if k}
    removes = {p for p in PROVIDER_IDS if checked(values, blocks.remove_block(p))}
    errors = {blocks.key_block(p): "Paste a new key or tick Remove, not both." for p in keys.keys() & removes}
    try:
        new_limits = limits.parse_limits(
            text_value(values, blocks.DAILY_LIMIT_BLOCK),
            text_value(values, blocks.PER_HOUR_BLOCK),
            checked(values, blocks.PUBLIC_LINKS_BLOCK),
        )
    except ValidationFailed as exc:
        errors.update({_LIMIT_BLOCKS[k]: v for k, v in exc.errors.items()})
    min_minutes = _min_minutes(text_value(values, blocks.MIN_SCHEDULE_BLOCK))
    if min_minutes == 0:
        errors[blocks.MIN_SCHEDULE_BLOCK] = schedule_texts.MIN_MINUTES_ERROR
    if errors:
        return errors
    return _Submission(team_id, user_id, state, to, keys, removes, new_limits, min_minutes or None)


def _min_minutes(typed: str) -> int | None:
    """The shortest schedule interval typed: None when empty (1), 0 when not 1–1440."""
    text = typed.strip()
    if not text:
        return None
    return int(text) if text.isdigit() and 1 <= int(text) <= MIN_SCHEDULE_MAX else 0


_LIMIT_BLOCKS = {limits.DAILY_FIELD: blocks.DAILY_LIMIT_BLOCK, limits.PER_HOUR_FIELD: blocks.PER_HOUR_BLOCK}


def _done_text(summary: str) -> str:
    return f"✅ {summary}"


def _finish_checks(
    ctx: AppContext, sub: _Submission, futures: Mapping[str, Future[None]], view_id: str | None, c: WebClient
) -> None:
    """After the ack: wait for the slow checks, then show the errors in the form again
    (nothing saved) or save and say so, in the "checking…" view and to the person."""
    wait(futures.values())
    errors = _check_errors(futures)
    if errors:
        with transaction(ctx.sessions) as s:
            status = credentials.describe(s, ctx, sub.team_id)
            stored = credential_repo.credential_hints(s, sub.team_id)
        notes = {k: f"{v} Nothing was saved; paste the key again." for k, v in errors.items()}
        again = blocks.settings_modal(
            status, stored, state=sub.state, notes=notes, limits=sub.limits, min_schedule_minutes=sub.min_minutes
        )
        c.views_update(view_id=view_id, view=again.to_dict())
        return
    summary = _apply_settings(ctx, sub.team_id, sub.user_id, sub.keys, sub.removes, sub.limits, sub.min_minutes)
    c.views_update(view_id=view_id, view=info_modal("pipebot settings", _done_text(summary), close="Done").to_dict())
    tell(c, sub.to, _done_text(summary))


def save_settings(
    ctx: AppContext, client: WebClient, body: Mapping[str, Any], context: BoltContext | None
) -> SaveResult:
    """Check new keys with their providers, then save them and apply removals.

    Why a budget: the answer must reach Slack within 3 s. Checks run in parallel; if they
    finish within KEY_CHECK_BUDGET, bad keys get inline errors as usual. Otherwise the
    modal is replaced by a "checking…" view and the follow-up (``_finish_checks``) finishes
    the checks and updates that view with the outcome (errors shown under the fields, or
    "saved"). Keys live only in this process's memory meanwhile: never in private_metadata
    or logs.
    """
    sub = _read_submission(ctx, client, body, context)
    if not isinstance(sub, _Submission):
        return {"response_action": "errors", "errors": sub}, None
    futures = _check_all(ctx, sub.keys)
    _, pending = wait(futures.values(), timeout=KEY_CHECK_BUDGET)
    if not pending:
        errors = _check_errors(futures)
        if errors:
            return {"response_action": "errors", "errors": errors}, None
        summary = _apply_settings(ctx, sub.team_id, sub.user_id, sub.keys, sub.removes, sub.limits, sub.min_minutes)
        return None, lambda c: tell(c, sub.to, _done_text(summary))

    names = " and ".join(PROVIDER_NAMES[p] for p in sub.keys)
    checking = info_modal("pipebot settings", f"⏳ Checking the key with {names}… this takes a few seconds.")
    return {"response_action": "update", "view": checking.to_dict()}, partial(
        _finish_checks, ctx, sub, futures, body["view"].get("id")
    )


def register(app: App, ctx: AppContext) -> None:
    """The settings modal's submission."""
    app.view(blocks.SETTINGS_CALLBACK)(submission(ctx, save_settings, blocks.key_block(PROVIDER_IDS[0])))

"""Making, listing and changing triggers (DESIGN §13): every rule a surface needs, so Slack's
form and list and the webhook route say the same things. A webhook's secret is made here,
returned once and kept only as its SHA-256; checking one compares in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.context import AppContext
from core.errors import ValidationFailed
from core.text import clean_text
from core.triggers import texts
from storage.db import transaction
from storage.models import TRIGGER_KINDS, Trigger
from storage.repos import pipelines as pipeline_repo
from storage.repos import triggers as repo
from storage.repos.workspaces import ensure_workspace

REACTION, MESSAGE, WEBHOOK = TRIGGER_KINDS
DEFAULT_RUNS_PER_HOUR = 30
MAX_RUNS_PER_HOUR = 1000
MAX_TRIGGERS = 200
MAX_CHANNELS = 100
_EMOJI = re.compile(r"^[a-z0-9_+'\-]{1,100}$")


class TriggerRefused(Exception):
    """A change that may not be made (not found, not yours); the message says why."""


@dataclass(frozen=True)
class TriggerDraft:
    kind: str
    pipeline_id: int | None
    channels: tuple[str, ...] = ()
    emoji: str = ""
    matching: str = ""
    runs_per_hour: int | str | None = None
    name: str = ""


@dataclass(frozen=True)
class TriggerView:
    id: str
    team_id: str
    kind: str
    name: str
    pipeline_id: int | None
    pipeline_name: str
    emoji: str | None
    matching: str | None
    channels: list[str] = field(default_factory=list)
    runs_per_hour: int = DEFAULT_RUNS_PER_HOUR
    created_by: str = ""
    paused: bool = False

    def listens_in(self, channel_id: str) -> bool:
        """Empty channels: every channel the app is in."""
        return not self.channels or channel_id in self.channels

    def matches(self, text: str) -> bool:
        """A message trigger's optional Matching text, found anywhere, any case."""
        return not self.matching or self.matching.casefold() in (text or "").casefold()


def view_of(row: Trigger) -> TriggerView:
    return TriggerView(
        str(row.id),
        row.team_id,
        row.kind,
        row.name,
        row.pipeline_id,
        row.pipeline_name,
        row.emoji,
        row.matching,
        list(row.channels or []),
        row.runs_per_hour,
        row.created_by,
        row.paused_at is not None,
    )


def emoji_name(raw: str) -> str:
    """``:memo:`` or ``memo`` → ``memo`` (what Slack's reaction events carry)."""
    return (raw or "").strip().strip(":").strip().lower()


def create(
    ctx: AppContext, team_id: str, user_id: str, draft: TriggerDraft, *, is_guest: bool = False
) -> tuple[TriggerView, str | None]:
    """Check and save; the trigger and, for a webhook, its secret (shown once, never again)."""
    if is_guest:
        raise TriggerRefused(texts.GUESTS_CANNOT)
    errors: dict[str, str] = {}
    kind = (draft.kind or "").strip()
    if kind not in TRIGGER_KINDS:
        errors["kind"] = texts.KIND_UNKNOWN
    channels = tuple(dict.fromkeys(c.strip() for c in draft.channels if c and c.strip()))
    if len(channels) > MAX_CHANNELS:
        errors["channels"] = texts.TOO_MANY_CHANNELS
    emoji = emoji_name(draft.emoji)
    if kind == REACTION:
        if not emoji:
            errors["emoji"] = texts.EMOJI_MISSING
        elif not _EMOJI.match(emoji):
            errors["emoji"] = texts.EMOJI_MALFORMED
    matching = clean_text(draft.matching or "").strip()
    if len(matching) > 200:
        errors["matching"] = texts.MATCHING_TOO_LONG
    per_hour = DEFAULT_RUNS_PER_HOUR
    if kind == MESSAGE and draft.runs_per_hour not in (None, ""):
        try:
            per_hour = int(str(draft.runs_per_hour).strip())
        except ValueError:
            per_hour = 0
        if not 1 <= per_hour <= MAX_RUNS_PER_HOUR:
            errors["runs_per_hour"] = texts.RUNS_PER_HOUR
    if kind == WEBHOOK and len(channels) != 1:
        errors["channels"] = texts.WEBHOOK_ONE_CHANNEL
    name = " ".join(clean_text(draft.name or "").split())
    if len(name) > 80:
        errors["name"] = texts.NAME_TOO_LONG
    with transaction(ctx.sessions) as s:
        ensure_workspace(s, team_id)
        pipeline = pipeline_repo.get_pipeline(s, team_id, draft.pipeline_id) if draft.pipeline_id else None
        if pipeline is None:
            errors["pipeline"] = texts.PIPELINE_MISSING
        if repo.count_of_team(s, team_id) >= MAX_TRIGGERS:
            errors["pipeline"] = texts.TOO_MANY
        if errors:
            raise ValidationFailed(errors)
        assert pipeline is not None
        secret = secrets.token_urlsafe(32) if kind == WEBHOOK else None
        row = repo.add(
            s,
            team_id,
            kind=kind,
            name=name or pipeline.name,
            pipeline_id=pipeline.id,
            pipeline_name=pipeline.name,
            emoji=emoji if kind == REACTION else None,
            matching=(matching or None) if kind == MESSAGE else None,
            channels=list(channels),
            runs_per_hour=per_hour,
            secret_hash=secret_hash(secret) if secret else None,
            created_by=user_id,
        )
        return view_of(row), secret


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(stored_hash: str | None, offered: str) -> bool:
    """Constant-time: a wrong secret takes as long to refuse as a nearly right one."""
    if not stored_hash or not offered:
        return False
    return hmac.compare_digest(stored_hash, secret_hash(offered))


def list_triggers(ctx: AppContext, team_id: str) -> list[TriggerView]:
    with transaction(ctx.sessions) as s:
        return [view_of(r) for r in repo.of_team(s, team_id)]


def active(ctx: AppContext, team_id: str, kind: str) -> list[TriggerView]:
    with transaction(ctx.sessions) as s:
        return [view_of(r) for r in repo.active_of_kind(s, team_id, kind)]


def pause(ctx: AppContext, team_id: str, trigger_id: str, user_id: str, *, is_admin: bool = False) -> TriggerView:
    with transaction(ctx.sessions) as s:
        row = _mine(s, team_id, trigger_id, user_id, is_admin)
        if row.paused_at is None:
            row.paused_at = datetime.now(UTC)
        return view_of(row)


def resume(ctx: AppContext, team_id: str, trigger_id: str, user_id: str, *, is_admin: bool = False) -> TriggerView:
    with transaction(ctx.sessions) as s:
        row = _mine(s, team_id, trigger_id, user_id, is_admin)
        if row.pipeline_id is None:
            raise TriggerRefused(texts.pipeline_gone(row.pipeline_name))
        row.paused_at = None
        return view_of(row)


def delete(ctx: AppContext, team_id: str, trigger_id: str, user_id: str, *, is_admin: bool = False) -> TriggerView:
    with transaction(ctx.sessions) as s:
        row = _mine(s, team_id, trigger_id, user_id, is_admin)
        view = view_of(row)
        s.delete(row)
        return view


def _mine(s: object, team_id: str, trigger_id: str, user_id: str, is_admin: bool) -> Trigger:
    try:
        tid = uuid.UUID(str(trigger_id))
    except ValueError:
        raise TriggerRefused(texts.NOT_FOUND) from None
    row = repo.get(s, team_id, tid)  # type: ignore[arg-type]
    if row is None:
        raise TriggerRefused(texts.NOT_FOUND)
    if row.created_by != user_id and not is_admin:
        raise TriggerRefused(texts.NOT_YOURS)
    return row

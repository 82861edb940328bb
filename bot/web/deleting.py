"""Who may delete a run's result from its web page, and the form's CSRF token (DESIGN §10).

The rule is core/artifacts/deletion.py's: the run's requester or an admin. The page knows who
is looking only where people sign in with Slack, so the button exists only there. Admin is
asked of Slack (bot/slack/admin.is_admin: PIPEBOT_ADMINS, or a full-member admin or owner of
the run's workspace); when Slack cannot say, the page offers no button and a POST is refused
with a page saying so, never a guess.

The form's token is an HMAC, under a key derived from PIPEBOT_SECRET_KEY with its own label,
of the session (its workspace, user and issue time), the run's workspace and the artifact: a
form made for one sign-in and one run works for nothing else, and signing in again (a new
issue time) retires the forms of the old session. Every key of the rotation list checks it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import Connection

from bot.slack.admin import AdminCheckFailed, is_admin
from bot.slack.client import SlackNotConfigured, client_for
from bot.web.notice_view import DeleteForm
from bot.web.sessions import WebSession
from core.context import AppContext
from storage.repos import artifacts as artifact_repo

__all__ = ["DeleteCheckFailed", "DeleteRight", "delete_token", "offer", "right_of", "token_ok"]

_LABEL = b"pipebot web delete form v1"


class DeleteCheckFailed(Exception):
    """Slack would not say whether the person is an admin; the message says why."""


@dataclass(frozen=True)
class DeleteRight:
    """May the person delete, and as what (``admin`` is passed on to the delete)."""

    allowed: bool
    admin: bool = False


def _mac(secret: str, session: WebSession, team_id: str, artifact_id: str) -> str:
    key = hmac.new(secret.encode("utf-8"), _LABEL, hashlib.sha256).digest()
    message = "\n".join((session.team_id, session.user_id, str(session.issued_at), team_id, artifact_id))
    digest = hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def delete_token(keys: Sequence[str], session: WebSession, team_id: str, artifact_id: str) -> str:
    """The token of the *Delete* form for this session and artifact (newest key)."""
    if not keys:
        raise ValueError("no PIPEBOT_SECRET_KEY: a delete form cannot be signed")
    return _mac(keys[0], session, team_id, artifact_id)


def token_ok(keys: Sequence[str], session: WebSession, team_id: str, artifact_id: str, token: str | None) -> bool:
    """Whether ``token`` (posted) is this session's for this artifact, under any key."""
    if not token or len(token) > 100:
        return False
    return any(hmac.compare_digest(_mac(k, session, team_id, artifact_id), token) for k in keys)


def right_of(ctx: AppContext, user_id: str, team_id: str, created_by: str | None) -> DeleteRight:
    """The requester may (no Slack call), else an admin of ``team_id`` (the run's workspace).
    Raises :class:`DeleteCheckFailed` when Slack cannot say who is an admin."""
    if created_by and created_by == user_id:
        return DeleteRight(True)
    try:
        admin = is_admin(ctx, client_for(ctx, team_id), user_id, team_id)
    except (AdminCheckFailed, SlackNotConfigured) as exc:
        raise DeleteCheckFailed(str(exc)) from None
    return DeleteRight(admin, admin)


def offer(
    ctx: AppContext,
    conn: Connection,
    session: WebSession | None,
    team_id: str,
    artifact_id: str,
    sig: str,
) -> DeleteForm | None:
    """The artifact page's *Delete* form for a person who may use it, else None (nobody signed
    in, neither requester nor admin, or Slack unable to say). The caller has checked that the
    person sees the run and that it is not deleted already. The action is relative to the page
    (``/artifacts/{id}``), so it works under any PIPEBOT_PUBLIC_URL path."""
    if session is None:
        return None
    created_by = artifact_repo.created_by_of(conn, team_id, artifact_id)
    try:
        if not right_of(ctx, session.user_id, team_id, created_by).allowed:
            return None
    except DeleteCheckFailed:
        return None
    action = f"{artifact_id}/delete?s={quote(sig, safe='')}"
    return DeleteForm(action, delete_token(ctx.keys, session, team_id, artifact_id))

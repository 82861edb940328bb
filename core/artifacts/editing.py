"""Saving an edit as a new version: the rules of core/artifacts/versions.py applied to the
stored version, and the save, in one transaction.

Two ways in, one rule set: the Slack modal (the caller knows the Slack user) and the web
editor reached through an edit link (the link names the user, and is spent by the save).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.artifacts import edit_links, messages
from core.artifacts.versions import EditRefused, apply_edit, clean_note, current_text, parse_target
from core.context import AppContext
from core.links import signing_keys
from core.messages import RESULT_DELETED
from storage.db import transaction
from storage.repos import artifact_versions as versions
from storage.repos import edit_links as used_links
from storage.repos.artifact_versions import ArtifactNotFound, VersionConflict

__all__ = [
    "EDIT_TEXT_MAX_BYTES",
    "EDIT_TEXT_MAX_LABEL",
    "ArtifactNotFound",
    "EditTooLong",
    "Editor",
    "VersionConflict",
    "edit_too_long",
    "new_link",
    "open_editor",
    "save_edit",
    "save_from_link",
]

#: The longest text an edit saves, counted in bytes of UTF-8 (not characters), so that the
#: transports' ceilings follow from it: form-encoded, a byte is at most 3 (``%E2``), so a
#: maximal edit is at most 1.5 MiB on the wire, inside the web editor's 2 MiB form
#: (bot/web/editor_routes.MAX_FORM_BYTES). Slack's modal holds 3,000 characters, far below.
#: It also bounds what a compare of two versions works on (core/artifacts/diff.py).
EDIT_TEXT_MAX_BYTES = 512 * 1024
EDIT_TEXT_MAX_LABEL = "512 KB (524,288 bytes of UTF-8)"


class EditTooLong(EditRefused):
    """An edit's text past :data:`EDIT_TEXT_MAX_BYTES`: refused before anything is read or
    written, and (on the web) never shown back."""


def edit_too_long(text: str) -> EditTooLong | None:
    """The refusal for a text past the cap, or None. Cheap for any length: the UTF-8 size is
    only computed when the character count does not already settle it."""
    if len(text) <= EDIT_TEXT_MAX_BYTES // 4:
        return None
    size = len(text.encode("utf-8", "surrogatepass"))
    if size <= EDIT_TEXT_MAX_BYTES:
        return None
    return EditTooLong(messages.EDIT_TOO_LONG.format(size=size, limit=EDIT_TEXT_MAX_LABEL))


@dataclass(frozen=True)
class Editor:
    """What the editor page shows: the text to edit, from the link's base version, and the
    CSRF token its form must post back. ``latest`` > ``base_version`` means someone saved
    since the link was made (the page can say so before anything is typed)."""

    link: edit_links.EditLink
    target: str
    text: str
    latest: int
    csrf: str
    steps: Sequence[int]


def _save(
    s: Any,
    team_id: str,
    artifact_id: str,
    base: versions.VersionRow,
    target: str,
    text: str,
    author: str,
    note: str | None,
) -> int:
    if base.content.get("deleted"):
        raise EditRefused(RESULT_DELETED)
    too_long = edit_too_long(text)
    if too_long is not None:
        raise too_long
    edit = parse_target(target)
    content = apply_edit(base.content, edit, text, base_version=base.number)
    return versions.save_version(
        s, team_id, artifact_id, base_version=base.number, content=content, edited=edit.key, author=author, note=note
    )


def save_edit(
    ctx: AppContext,
    team_id: str,
    artifact_id: str,
    *,
    base_version: int,
    target: str,
    text: str,
    author: str,
    note: str | None = None,
) -> int:
    """Save ``text`` as ``target``'s new text on top of ``base_version``; the new number.

    Raises :class:`EditRefused` (empty, unchanged, no such step, note too long; its subclass
    :class:`EditTooLong` past :data:`EDIT_TEXT_MAX_BYTES`),
    :class:`ArtifactNotFound`, or :class:`VersionConflict` (someone saved meanwhile; it
    carries the edit back).
    """
    clean = clean_note(note)
    with transaction(ctx.sessions) as s:
        base = versions.get_version(s, team_id, artifact_id, base_version)
        if base is None:
            if versions.latest_version(s, team_id, artifact_id) is None:
                raise ArtifactNotFound(artifact_id)
            raise EditRefused(messages.NO_VERSION.format(version=base_version))
        return _save(s, team_id, artifact_id, base, target, text, author, clean)


def open_editor(
    ctx: AppContext, token: str, artifact_id: str, *, target: str = "output", now: float | None = None
) -> Editor:
    """Check an edit link for the editor page (not spending it: reloading the page is fine)."""
    keys = signing_keys(ctx)
    link = edit_links.read(token, keys, artifact_id=artifact_id, now=now)
    with transaction(ctx.sessions) as s:
        if used_links.edit_link_used(s, link.nonce):
            raise edit_links.reused()
        base = versions.get_version(s, link.team_id, link.artifact_id, link.base_version)
        if base is None:
            raise ArtifactNotFound(artifact_id)
        if base.content.get("deleted"):
            raise EditRefused(RESULT_DELETED)
        latest = versions.latest_version(s, link.team_id, link.artifact_id)
    text = current_text(base.content, parse_target(target))
    steps = [int(st["position"]) for st in base.content.get("steps") or []]
    return Editor(
        link=link,
        target=target,
        text=text,
        latest=latest.number if latest else base.number,
        csrf=edit_links.csrf_token(link, keys),
        steps=steps,
    )


def save_from_link(
    ctx: AppContext,
    token: str,
    artifact_id: str,
    *,
    csrf: str | None,
    target: str,
    text: str,
    note: str | None = None,
    now: float | None = None,
) -> int:
    """The editor form's POST: check the link and its CSRF token, spend the link and save the
    version in one transaction (a refused save leaves the link unspent, to try again)."""
    keys = signing_keys(ctx)
    link = edit_links.read(token, keys, artifact_id=artifact_id, now=now)
    edit_links.check_csrf(link, csrf, keys)
    clean = clean_note(note)
    with transaction(ctx.sessions) as s:
        base = versions.get_version(s, link.team_id, link.artifact_id, link.base_version)
        if base is None:
            raise ArtifactNotFound(artifact_id)
        if not used_links.record_edit_link_use(
            s, link.team_id, link.nonce, link.artifact_id, link.user_id, link.expires
        ):
            raise edit_links.reused()
        return _save(s, link.team_id, link.artifact_id, base, target, text, link.user_id, clean)


def new_link(
    ctx: AppContext,
    team_id: str,
    artifact_id: str | uuid.UUID,
    user_id: str,
    base_version: int,
    *,
    part: str | None = None,
    now: float | None = None,
) -> str:
    """The editor URL to send (ephemerally) to ``user_id``, open on ``part`` (``step:N``;
    None or ``output``: the final output)."""
    token = edit_links.mint(
        signing_keys(ctx),
        team_id=team_id,
        artifact_id=str(artifact_id),
        user_id=user_id,
        base_version=base_version,
        now=now,
    )
    return edit_links.edit_url(ctx.settings.public_url, str(artifact_id), token, part)

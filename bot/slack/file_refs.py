"""Slack's file objects as the run request's :class:`~core.inputs.refs.FileRef` values.

Why a module of its own: every way in (message shortcut, mention, DM) receives files the same
way, and Slack does not always send a whole file object. Files first shared in a Slack Connect
channel arrive as a stub (``mode: "file_access"``, no name, type or URL: NOTES §1), and a
message shortcut's payload may carry the same, so anything missing a name, URL or size is
completed with ``files.info`` before the request is built. The limits (count, size, type)
are core's (core/inputs/rules.py): this only says what Slack said, and refuses what cannot be
a file at all (a Google Drive link, a deleted file's tombstone).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.text import escape_mrkdwn
from core.inputs.refs import FileRef

__all__ = ["FileNotUsable", "file_ids", "file_refs", "file_refs_by_id"]

log = logging.getLogger(__name__)

#: Modes whose bytes Slack does not host (``external``: Google Drive, Dropbox…) or that are gone.
_NOT_HOSTED = {"external": "is a link to another service, not a file in Slack", "tombstone": "was deleted"}


class FileNotUsable(Exception):
    """A shared file pipebot cannot take; the message (mrkdwn) names it and says what to do."""


def cannot_see(name: str) -> str:
    """What the requester reads when Slack will not show pipebot a file (one text, every surface)."""
    return f"pipebot can't see {name}: invite @pipebot to the channel it was shared in, then try again."


def _label(obj: Mapping[str, Any]) -> str:
    name = obj.get("name") or obj.get("title") or obj.get("id") or "a file"
    return f"*{escape_mrkdwn(str(name))}*"


def _incomplete(obj: Mapping[str, Any]) -> bool:
    return (
        obj.get("mode") == "file_access"
        or not obj.get("name")
        or not (obj.get("url_private") or obj.get("url_private_download"))
        or not isinstance(obj.get("size"), int)
    )


def _info(client: WebClient, file_id: str, label: str) -> dict[str, Any]:
    try:
        found = client.files_info(file=file_id)["file"]
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        log.info("files.info %s: %s", file_id, error)
        if error == "missing_scope":
            raise FileNotUsable(
                "pipebot needs the files:read scope to read shared files: reinstall it from the manifest."
            ) from None
        raise FileNotUsable(cannot_see(label)) from None
    return dict(found) if isinstance(found, Mapping) else {}


def _ref(obj: Mapping[str, Any]) -> FileRef:
    mode = str(obj.get("mode") or "hosted")
    if mode in _NOT_HOSTED:
        raise FileNotUsable(f"{_label(obj)} {_NOT_HOSTED[mode]}: share the file itself in Slack, then try again.")
    size = obj.get("size")
    return FileRef(
        file_id=str(obj.get("id") or ""),
        name=str(obj.get("name") or obj.get("title") or obj.get("id") or "file"),
        mimetype=str(obj.get("mimetype") or ""),
        filetype=str(obj.get("filetype") or ""),
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
        # url_private is on every hosted file; _download is missing on some (NOTES §1)
        url=str(obj.get("url_private") or obj.get("url_private_download") or ""),
    )


def file_refs(client: WebClient, files: Iterable[Any]) -> tuple[FileRef, ...]:
    """The files of an event or a payload as FileRefs, stubs completed with ``files.info``;
    raises :class:`FileNotUsable` for the first one that cannot be had."""
    out = []
    for raw in files:
        if not isinstance(raw, Mapping) or not raw.get("id"):
            continue
        obj: Mapping[str, Any] = raw
        if obj.get("mode") not in _NOT_HOSTED and _incomplete(obj):
            obj = _info(client, str(obj["id"]), _label(obj))
        out.append(_ref(obj))
    return tuple(out)


def file_ids(files: Iterable[Any]) -> tuple[str, ...]:
    """Just the ids (a modal keeps these in its private_metadata and completes them on submit)."""
    return tuple(str(f["id"]) for f in files if isinstance(f, Mapping) and f.get("id"))


def file_refs_by_id(client: WebClient, ids: Iterable[str]) -> tuple[FileRef, ...]:
    """FileRefs for file ids, each from ``files.info``."""
    return tuple(_ref(_info(client, fid, "a file of that message")) for fid in ids)

"""Shared files: ``files.info``, downloads of ``url_private``, and the people's messages and
events that carry files (``app_mention``, a DM's ``message`` event, a message shortcut's message).

As Slack does it (NOTES §1, api.slack.com/types/file):

* A file object has ``id`` (F…), ``name``, ``title``, ``mimetype``, ``filetype``, ``size``,
  ``mode`` ("hosted"), ``url_private`` and ``url_private_download`` (here on the fake's own
  host: ``{base}/files-pri/{team}-{id}/{name}``), ``permalink`` and where it was shared
  (``channels`` public, ``groups`` private, ``ims``).
* Files first shared in a Slack Connect channel arrive in events as a stub
  (``mode: "file_access"``, ``file_access: "check_file_info"``) without name, type or URL:
  the app must call ``files.info``.
* ``files.info`` answers ``file_not_found`` for an unknown or deleted file, and for a file
  in no conversation the bot is in (Slack hides what the token cannot see).
* ``GET url_private`` needs ``Authorization: Bearer <bot token>``; without it, with a wrong
  token or when the bot is in none of the file's conversations Slack answers **200 with an
  HTML login page**, not an error; a deleted file is 404. The body is sent in chunks.
"""

from __future__ import annotations

import secrets
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.fakes.slack.limits import GENERAL, TEAM_ID, USER_ID
from tests.fakes.slack.records import ApiError, Call
from tests.fakes.slack.state import SlackState

DOWNLOAD_PREFIX = "/files-pri/"
DOWNLOAD_CHUNK = 64 * 1024
LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Slack</title></head><body><h1>Sign in to your workspace</h1></body></html>"
)


@dataclass
class Download:
    """One GET of a file URL, as the fake received and answered it."""

    path: str
    headers: dict[str, str]
    status: int
    content_type: str
    file_id: str | None


def stub_of(file_obj: dict[str, Any]) -> dict[str, Any]:
    """The Slack Connect stub Slack puts in events instead of ``file_obj``."""
    return {
        "id": file_obj["id"],
        "mode": "file_access",
        "file_access": "check_file_info",
        "created": 0,
        "timestamp": 0,
        "user": "",
    }


class FilesMixin(SlackState):
    """Files, their downloads, and people's messages that carry them."""

    # ----------------------------------------------------------------- world setup
    def _file_store(self) -> dict[str, dict[str, Any]]:
        return self._files

    def add_file(
        self,
        data: bytes,
        name: str,
        *,
        mimetype: str = "text/plain",
        filetype: str = "text",
        channel: str = GENERAL,
        user_id: str = USER_ID,
        team_id: str = TEAM_ID,
        title: str | None = None,
        mode: str = "hosted",
        size: int | None = None,
    ) -> dict[str, Any]:
        """A file ``user_id`` shared in ``channel``: returns Slack's file object. ``size``
        overrides the reported size (a 60 MB file without 60 MB of bytes)."""
        with self._lock:
            store = self._file_store()
            fid = self._new_id("F")
            chan = self.channels.get(channel) or {}
            quoted = urllib.parse.quote(name)
            now = int(time.time())
            obj: dict[str, Any] = {
                "id": fid,
                "created": now,
                "timestamp": now,
                "name": name,
                "title": title if title is not None else name,
                "mimetype": mimetype,
                "filetype": filetype,
                "pretty_type": filetype.upper(),
                "user": user_id,
                "user_team": team_id,
                "editable": False,
                "size": len(data) if size is None else size,
                "mode": mode,
                "is_external": mode == "external",
                "external_type": "gdrive" if mode == "external" else "",
                "is_public": bool(chan) and not chan.get("is_private"),
                "public_url_shared": False,
                "display_as_bot": False,
                "username": "",
                "url_private": f"{self.base}{DOWNLOAD_PREFIX}{team_id}-{fid}/{quoted}",
                "url_private_download": f"{self.base}{DOWNLOAD_PREFIX}{team_id}-{fid}/download/{quoted}",
                "permalink": f"https://{self.teams[team_id]['domain']}.slack.com/files/{user_id}/{fid}/{quoted}",
                "channels": [],
                "groups": [],
                "ims": [],
                "comments_count": 0,
            }
            if chan:
                kind = "ims" if chan.get("is_im") else "groups" if chan.get("is_private") else "channels"
                obj[kind].append(channel)
            store[fid] = {"obj": obj, "data": data, "team_id": team_id, "deleted": False}
            return dict(obj)

    def delete_file(self, file_id: str) -> None:
        """The file is deleted in Slack: files.info says ``file_not_found``, downloads 404."""
        with self._lock:
            self._file_store()[file_id]["deleted"] = True

    def redirect_file(self, file_id: str, location: str) -> None:
        """Answer the file's URL with ``302 Location: location`` (a file host moving it)."""
        with self._lock:
            self._files[file_id]["redirect"] = location

    def file_object(self, file_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._file_store()[file_id]["obj"])

    def downloads(self, file_id: str | None = None) -> list[Download]:
        """Every GET of a file URL the fake received (``file_id``: of that file only)."""
        with self._lock:
            self._file_store()
            return [d for d in self._downloads if file_id is None or d.file_id == file_id]

    # ----------------------------------------------------------------- who may see a file
    def _bot_sees_file(self, entry: dict[str, Any], team_id: str) -> bool:
        obj = entry["obj"]
        for cid in obj["channels"] + obj["groups"] + obj["ims"]:
            chan = self.channels.get(cid)
            if chan is None or not chan.get("is_member"):
                continue
            if entry["team_id"] == team_id or chan.get("is_ext_shared"):
                return True
        return False

    def _m_files_info(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        entry = self._file_store().get(str(params.get("file") or ""))
        if entry is None or entry["deleted"] or not self._bot_sees_file(entry, ctx["team"]["id"]):
            raise ApiError("file_not_found")
        return {"file": dict(entry["obj"]), "comments": [], "response_metadata": {"next_cursor": ""}}

    def _download(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes | Iterator[bytes]]:
        """``GET /files-pri/{team}-{id}/[download/]{name}``."""
        rest = path[len(DOWNLOAD_PREFIX) :]
        key = rest.split("/", 1)[0]
        fid = key.rsplit("-", 1)[-1] if "-" in key else None
        with self._lock:
            entry = self._file_store().get(fid or "")
            auth = headers.get("authorization", "")
            token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
            info = self.tokens.get(token)
            if entry is not None and entry.get("redirect") and "/moved/" not in path:
                self._downloads.append(Download(path, dict(headers), 302, "text/plain", fid))
                return 302, {"Content-Type": "text/plain", "Location": entry["redirect"]}, b""
            if entry is None or entry["deleted"]:
                status, ctype, body = 404, "text/plain", b"file not found"
            elif info is None or info["revoked"] or not self._bot_sees_file(entry, info["team_id"]):
                status, ctype, body = 200, "text/html; charset=utf-8", LOGIN_PAGE
            else:
                status, ctype, body = 200, entry["obj"]["mimetype"] or "application/octet-stream", entry["data"]
            self._downloads.append(Download(path, dict(headers), status, ctype, fid))
        if status != 200 or ctype.startswith("text/html"):
            return status, {"Content-Type": ctype}, body
        return status, {"Content-Type": ctype}, _chunks(body)

    # ----------------------------------------------------------------- people's messages
    def post_as_user(
        self,
        channel: str,
        text: str,
        *,
        user_id: str = USER_ID,
        team_id: str = TEAM_ID,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A person posts ``text`` (and ``files``) in ``channel``, at the top or in a thread:
        returns the message as Slack stores it."""
        with self._lock:
            chan = self._resolve_channel(channel)
            msg: dict[str, Any] = {
                "type": "message",
                "ts": self._next_ts(),
                "user": user_id,
                "team": team_id,
                "text": text,
                "client_msg_id": secrets.token_hex(8),
            }
            if files:
                msg["files"] = [dict(f) for f in files]
                msg["subtype"] = "file_share"
                msg["upload"] = False
            if thread_ts:
                msg["thread_ts"] = self._thread_root(chan, thread_ts)
            self._store(chan, msg)
            return self._public(msg)

    def fill_thread(
        self, channel: str, thread_ts: str, count: int, *, user_id: str = USER_ID, text: str = "reply {i}"
    ) -> list[str]:
        """Add ``count`` replies by ``user_id`` to a thread at once (a 5,000-message thread
        without 5,000 round trips); returns their ts, oldest first."""
        with self._lock:
            chan = self._resolve_channel(channel)
            msgs = self._messages.setdefault(chan["id"], [])
            out = []
            for i in range(count):
                ts = self._next_ts()
                msg = {"type": "message", "ts": ts, "user": user_id, "team": TEAM_ID, "text": text.format(i=i)}
                msgs.append({**msg, "thread_ts": thread_ts})
                out.append(ts)
            for parent in msgs:
                if parent["ts"] == thread_ts:
                    parent["thread_ts"] = thread_ts
                    parent["reply_count"] = parent.get("reply_count", 0) + count
                    if out:
                        parent["latest_reply"] = out[-1]
            return out

    def _event_files(self, files: list[dict[str, Any]] | None, stub: bool) -> list[dict[str, Any]]:
        return [stub_of(f) if stub else dict(f) for f in files or []]

    def mention_event(
        self,
        text: str,
        *,
        channel: str = GENERAL,
        user_id: str = USER_ID,
        team_id: str = TEAM_ID,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
        stub_files: bool = False,
    ) -> dict[str, Any]:
        """A person posts ``text`` mentioning the app (``<@BOT> run Digest …``): stores the
        message and returns the ``app_mention`` event Slack sends (``signer.event(...)``);
        ``stub_files``: the files as Slack Connect stubs."""
        msg = self.post_as_user(channel, text, user_id=user_id, team_id=team_id, thread_ts=thread_ts, files=files)
        event: dict[str, Any] = {
            "type": "app_mention",
            "user": user_id,
            "text": text,
            "ts": msg["ts"],
            "team": team_id,
            "channel": self._resolve_channel(channel)["id"],
            "client_msg_id": msg["client_msg_id"],
        }
        if msg.get("thread_ts"):
            event["thread_ts"] = msg["thread_ts"]
        if files:
            event["files"] = self._event_files(files, stub_files)
            event["upload"] = False
        return event

    def dm_event(
        self,
        text: str,
        *,
        user_id: str = USER_ID,
        team_id: str = TEAM_ID,
        files: list[dict[str, Any]] | None = None,
        stub_files: bool = False,
    ) -> dict[str, Any]:
        """A person writes to the app in its Messages tab: stores the message in their DM with
        the bot and returns the ``message`` event (``channel_type: "im"``; subtype
        ``file_share`` when it carries files)."""
        channel = self.dm_channel(user_id)
        msg = self.post_as_user(channel, text, user_id=user_id, team_id=team_id, files=files)
        event: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "channel_type": "im",
            "user": user_id,
            "text": text,
            "ts": msg["ts"],
            "team": team_id,
            "client_msg_id": msg["client_msg_id"],
        }
        if files:
            event["subtype"] = "file_share"
            event["files"] = self._event_files(files, stub_files)
            event["upload"] = False
        return event


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), DOWNLOAD_CHUNK):
        yield data[start : start + DOWNLOAD_CHUNK]

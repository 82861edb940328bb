"""A run's inputs as the request names them, before anything is downloaded.

A :class:`FileRef` is what Slack's file object says of a file (name, type, size, where to
download it): enough to refuse a file before a byte is fetched (core/inputs/rules.py). A
:class:`ThreadRef` names the thread whose earlier messages reach step 1; the worker fetches
them (core/inputs/source.py) and keeps them with the run as :class:`ThreadMessage` values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["FileRef", "ThreadMessage", "ThreadRef"]


@dataclass(frozen=True)
class FileRef:
    """One shared file as its surface described it. ``url`` is where its bytes are (Slack's
    ``url_private``); ``size`` in bytes (None: unknown, refused like an oversized file)."""

    file_id: str
    name: str
    mimetype: str = ""
    filetype: str = ""
    size: int | None = None
    url: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "name": self.name,
            "mimetype": self.mimetype,
            "filetype": self.filetype,
            "size": self.size,
            "url": self.url,
        }


@dataclass(frozen=True)
class ThreadRef:
    """The thread a run was started in: its earlier messages (those before ``before_ts``,
    exclusive; None: all) are the context of step 1."""

    channel_id: str
    thread_ts: str
    before_ts: str | None = None
    # A schedule's digest (DESIGN §13): the channel's own messages after this ts (its history,
    # not a thread's replies); ``thread_ts`` is then the same ts.
    since_ts: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"channel_id": self.channel_id, "thread_ts": self.thread_ts, "before_ts": self.before_ts}
        if self.since_ts:
            out["since_ts"] = self.since_ts
        return out

    @classmethod
    def from_json(cls, value: Any) -> ThreadRef | None:
        if not isinstance(value, dict) or not value.get("channel_id") or not value.get("thread_ts"):
            return None
        return cls(
            str(value["channel_id"]),
            str(value["thread_ts"]),
            value.get("before_ts") or None,
            str(value["since_ts"]) if value.get("since_ts") else None,
        )


@dataclass(frozen=True)
class ThreadMessage:
    """One earlier message of the thread as the model reads it: who (display name), what
    they wrote (Slack's entities decoded) and the names of the files it carried."""

    author: str
    text: str
    ts: str = ""
    file_names: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"author": self.author, "text": self.text, "ts": self.ts, "file_names": list(self.file_names)}

    @classmethod
    def from_json(cls, value: Any) -> ThreadMessage:
        v = value if isinstance(value, dict) else {}
        names = v.get("file_names") or []
        return cls(
            str(v.get("author") or ""),
            str(v.get("text") or ""),
            str(v.get("ts") or ""),
            tuple(str(n) for n in names if isinstance(n, str)),
        )

"""A thread's earlier messages as step 1 reads them: the newest kept within the limits
(DESIGN §11), and the text that marks them as context rather than instructions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core import messages
from core.inputs.refs import ThreadMessage, ThreadRef

__all__ = ["MAX_THREAD_CHARS", "MAX_THREAD_MESSAGES", "context_text", "keep_newest", "thread_json"]

MAX_THREAD_MESSAGES = 50
MAX_THREAD_CHARS = 20_000


def line(message: ThreadMessage) -> str:
    """``Name: text [files: a.pdf, b.png]``: one message as the model reads it."""
    files = f" [files: {', '.join(message.file_names)}]" if message.file_names else ""
    return f"{message.author or 'someone'}: {message.text}{files}"


def keep_newest(
    found: Sequence[ThreadMessage], max_messages: int = MAX_THREAD_MESSAGES, max_chars: int = MAX_THREAD_CHARS
) -> tuple[list[ThreadMessage], int]:
    """The newest messages (oldest first) whose lines fit ``max_chars`` together, at most
    ``max_messages`` of them, and how many older ones were left out. A newest message
    longer than the whole budget is kept, cut to fit: the latest word matters most."""
    kept: list[ThreadMessage] = []
    used = 0
    for message in reversed(found):
        if len(kept) >= max_messages:
            break
        size = len(line(message)) + 1
        if used + size > max_chars:
            if not kept:
                room = max(0, max_chars - (size - len(message.text)))
                kept.append(ThreadMessage(message.author, message.text[:room], message.ts, message.file_names))
            break
        kept.append(message)
        used += size
    kept.reverse()
    return kept, len(found) - len(kept)


def thread_json(ref: ThreadRef, kept: Sequence[ThreadMessage], left_out: int) -> dict[str, Any]:
    """What ``runs.thread`` holds once the thread was fetched."""
    return {"ref": ref.to_json(), "messages": [m.to_json() for m in kept], "left_out": left_out}


def fetched(thread: dict[str, Any] | None) -> bool:
    """Whether the run's thread needs no fetching (none, or fetched already)."""
    return thread is None or "messages" in thread


def context_text(thread: dict[str, Any] | None) -> str | None:
    """Step 1's context: the thread's messages, marked as such; None without any."""
    if not thread or not thread.get("messages"):
        return None
    lines = [messages.THREAD_CONTEXT_HEADER]
    if left := int(thread.get("left_out") or 0):
        lines.append(messages.thread_left_out(left))
    lines += [line(ThreadMessage.from_json(m)) for m in thread["messages"]]
    return "\n".join(lines)

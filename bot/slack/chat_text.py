"""What pipebot says when someone talks to it in a message: an ``@pipebot`` mention in a
channel or thread, or a DM in its Messages tab (one source for each of these texts), and the
pure reading of such a message: ``run NAME [text]``, ``help``, or anything else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.messages import COMMAND

__all__ = [
    "DM_FRIENDLY",
    "DM_HELP",
    "DM_USAGE",
    "MENTION_HELP",
    "MENTION_USAGE",
    "ChatCommand",
    "no_input_text",
    "parse_chat_command",
]

MENTION_USAGE = "To run a pipeline here, mention me with its name: `@pipebot run NAME your input…`"
MENTION_HELP = (
    "I run AI pipelines on what you share here:\n"
    "• `@pipebot run NAME your input…` runs pipeline NAME on your text and the files of your message; "
    "inside a thread it also reads the thread's earlier messages.\n"
    "• The message shortcut *Run a pipeline on this message* runs one on any message.\n"
    f"• `{COMMAND} pipelines` lists the pipelines; `{COMMAND} help` shows everything else."
)
DM_HELP = (
    "Send me `run NAME your input…` (attach files if you like) and I'll run pipeline NAME here.\n"
    f"`{COMMAND} pipelines` lists the pipelines; `{COMMAND} help` shows everything else."
)
DM_FRIENDLY = "Hi! I run pipelines: send `run NAME your input…`, or `help` to see what I can do."
DM_USAGE = "Which pipeline should I run? Send `run NAME your input…` (attach files if you like)."

_LEADING_MENTION = re.compile(r"^\s*(?:<@[UW][A-Z0-9]+(?:\|[^>]*)?>[\s,:]*)+", re.IGNORECASE)


def no_input_text(pipeline: str, *, in_dm: bool) -> str:
    """A run with no text, no files and no thread to read (mrkdwn; ``pipeline`` escaped)."""
    example = f"run {pipeline} your input…" if in_dm else f"@pipebot run {pipeline} your input…"
    return f"What should *{pipeline}* run on? Put your input after the name (or attach files): `{example}`"


@dataclass(frozen=True)
class ChatCommand:
    """``kind``: run (``args``: the text after ``run``), help, empty (nothing but the mention)
    or other (anything else, kept in ``args``)."""

    kind: str
    args: str = ""


def parse_chat_command(text: str) -> ChatCommand:
    """Read a mention's or a DM's text as Slack sends it (the leading ``<@BOT>`` mentions
    stripped; entities in the rest are left for the run's input decoding)."""
    rest = _LEADING_MENTION.sub("", text or "", count=1).strip()
    if not rest:
        return ChatCommand("empty")
    parts = rest.split(None, 1)
    head = parts[0].lower()
    if head == "run":
        return ChatCommand("run", parts[1].strip() if len(parts) > 1 else "")
    if head in ("help", "?", "/help"):
        return ChatCommand("help")
    return ChatCommand("other", rest)

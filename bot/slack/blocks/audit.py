"""Block Kit for `/pipebot audit`: the workspace's latest audit events, newest first (pure).

One line per event: when (Slack's ``<!date>``, UTC as its fallback), who (a mention), what in
words (one text per core.audit.AuditAction) and its subject, escaped: a subject is a name
someone typed (an agent, a pipeline), so it never reaches Slack as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block

from bot.slack.blocks.common import context, one_line, section, slack_date
from bot.slack.text import escape_mrkdwn
from core.audit import AuditAction

#: What each action says, after the person's mention.
ACTION_TEXT: dict[str, str] = {
    AuditAction.KEY_SAVED: "saved a provider key",
    AuditAction.KEY_REMOVED: "removed a provider key",
    AuditAction.LIMITS_CHANGED: "changed the workspace limits",
    AuditAction.SETTING_CHANGED: "changed a setting",
    AuditAction.AGENT_DELETED: "deleted an agent",
    AuditAction.PIPELINE_DELETED: "deleted a pipeline",
    AuditAction.PIPELINE_BUDGET_CHANGED: "changed a pipeline's budget",
    AuditAction.RUN_DELETED: "deleted a run's result",
    AuditAction.MCP_SERVER_ADDED: "added an MCP server",
    AuditAction.MCP_SERVER_REMOVED: "removed an MCP server",
    AuditAction.SCHEDULE_CREATED: "made a schedule",
    AuditAction.SCHEDULE_DELETED: "deleted a schedule",
}
#: Events packed into one section (50 events stay well inside a message's 50 blocks).
PER_SECTION = 10
SUBJECT_CHARS = 80
TITLE = "*Audit trail*: the latest changes to keys, limits and settings, and what was deleted"
EMPTY = "Nothing recorded yet: keys saved or removed, limits and settings changed and deletions show here."


def event_line(event: Any) -> str:
    """One event: ``<date> · @who · what: subject``."""
    what = ACTION_TEXT.get(event.action) or escape_mrkdwn(one_line(str(event.action), 40))
    actor = f"<@{event.actor}>" if event.actor and event.actor.isalnum() else escape_mrkdwn(event.actor or "someone")
    subject = (event.subject or "").strip()
    line = f"{slack_date(event.created_at)} · {actor} {what}"
    return line + (f": *{escape_mrkdwn(one_line(subject, SUBJECT_CHARS))}*" if subject else "")


def audit_message(events: Sequence[Any]) -> tuple[str, list[Block]]:
    """The ephemeral answer: a title, then the events newest first, ten to a section."""
    if not events:
        return EMPTY, [section(EMPTY)]
    lines = [event_line(e) for e in events]
    blocks: list[Block] = [section(TITLE)]
    for start in range(0, len(lines), PER_SECTION):
        blocks.append(section("\n".join(lines[start : start + PER_SECTION])))
    blocks.append(context(f"The latest {len(lines)} events, newest first. Times are in your time zone."))
    return "Audit trail", blocks

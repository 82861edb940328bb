"""Block Kit for approvals in a run's thread (DESIGN §12): the request (the output so far with
**Approve**, **Edit & approve**, **Reject**; a tool call with **Allow** / **Deny**), the same
message once decided (buttons gone, who decided), and the Edit & approve and Reject modals.

Pure builders, and the one home of the texts these surfaces show. Model output and tool
arguments are untrusted: the output goes into a markdown block through ``safe_markdown``
(mentions defused), tool names and arguments into mrkdwn through ``escape_mrkdwn``. A waiting
run has no artifact yet (it is written when the run ends), so output too long for the message
is cut at a clean boundary with a note saying where the whole text will be.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, Block, InputBlock, MarkdownBlock, PlainTextInputElement

from bot.slack.blocks.common import (
    button,
    context,
    fit_markdown,
    form_modal,
    name_md,
    one_line,
    safe_markdown,
    section,
    slack_date,
)
from bot.slack.blocks.limits import PLAIN_TEXT_INPUT_LIMIT, PRACTICAL_MESSAGE_LIMIT
from bot.slack.text import clip, escape_mrkdwn
from core.reporter import ApprovalView
from core.runs.approvals import REASON_MAX
from storage.states import ApprovalKind, ApprovalStatus

# action ids (the value of each button: the approval's id)
APPROVE = "approval_approve"
EDIT_APPROVE = "approval_edit"
REJECT = "approval_reject"
ALLOW = "approval_allow"
DENY = "approval_deny"
ACTIONS_BLOCK = "approval_actions"
# the modals
EDIT_CALLBACK = "approval_edit_modal"
REJECT_CALLBACK = "approval_reject_modal"
TEXT_BLOCK = "approval_text"
REASON_BLOCK = "approval_reason"
FIELD = "value"

#: How much of the output the request shows; the rest is in the artifact once the run ends.
OUTPUT_SHOWN_MAX = 2800
#: How much of a tool call's arguments the request shows.
ARGUMENTS_SHOWN_MAX = 1500

TOO_LONG_TO_EDIT = (
    "This output is {chars:,} characters, more than a Slack form holds ({limit:,}), so it cannot be "
    "edited here without cutting it. Press Approve to go on with it as it is, or Reject and say what "
    "to change."
)


def _who(users: list[str]) -> str:
    names = [f"<@{u}>" for u in users]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def waiting_for(approval: ApprovalView) -> str:
    """ "Waiting for @a or @b, until <date>" (the run's starter when nobody is named; a tool
    call: the starter or an admin)."""
    if approval.kind == ApprovalKind.TOOL_CALL:
        people = f"{_who([approval.requested_by])} or an admin" if approval.requested_by else "an admin"
    elif approval.approvers:
        people = _who(approval.approvers)
    else:
        people = _who([approval.requested_by]) if approval.requested_by else "an admin"
    return f"Waiting for {people}, until {slack_date(approval.due_at)}"


def decided_line(approval: ApprovalView) -> str | None:
    """How the request ended, for the message that showed it (None while it is pending)."""
    by = f"<@{approval.decided_by}>" if approval.decided_by else "someone"
    tool = approval.kind == ApprovalKind.TOOL_CALL
    match approval.status:
        case ApprovalStatus.APPROVED:
            if tool:
                return f"✅ Allowed by {by}"
            return f"✅ Approved by {by}" + (" with edits" if approval.edited else "")
        case ApprovalStatus.REJECTED:
            why = f": {escape_mrkdwn(clip(approval.reason, 500))}" if approval.reason else ""
            return f"❌ {'Denied' if tool else 'Rejected'} by {by}{why}"
        case ApprovalStatus.TIMED_OUT:
            return f"⌛ Not {'allowed' if tool else 'approved'} in time ({approval.timeout_hours} h)"
        case ApprovalStatus.CANCELLED:
            return f"🚫 Cancelled by {by}" if approval.decided_by else "🚫 Cancelled"
    return None


def tool_label(payload: dict[str, Any] | None) -> str:
    """ "Tickets · lookup_ticket" (plain text)."""
    payload = payload or {}
    return f"{payload.get('server') or 'tool'} · {payload.get('tool') or '?'}"


def arguments_text(payload: dict[str, Any] | None) -> str:
    """A tool call's arguments as pretty JSON (what the model sent when it is not an object)."""
    args = (payload or {}).get("arguments")
    if isinstance(args, str):
        return args
    try:
        return json.dumps(args, indent=2, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return str(args)


def _code(text: str, limit: int) -> str:
    """Untrusted text in an mrkdwn code block: escaped, cut, and unable to close the fence."""
    body = clip(text, limit).replace("```", "``\u200b`")
    return f"```{escape_mrkdwn(body)}```"


def _output_blocks(output: str) -> list[Block]:
    output = output.strip()
    if not output:
        return [context("_The steps before returned no text._")]
    shown = fit_markdown(safe_markdown(output), None, OUTPUT_SHOWN_MAX)
    blocks: list[Block] = [MarkdownBlock(text=shown)]
    if len(shown) < len(output):
        blocks.append(
            context(f"Cut here: the whole output ({len(output):,} characters) will be in the run's artifact.")
        )
    return blocks


def _buttons(approval: ApprovalView) -> ActionsBlock:
    aid = approval.approval_id
    if approval.kind == ApprovalKind.TOOL_CALL:
        elements = [button("Allow", ALLOW, value=aid, style="primary"), button("Deny", DENY, value=aid, style="danger")]
    else:
        elements = [
            button("Approve", APPROVE, value=aid, style="primary"),
            button("Edit & approve", EDIT_APPROVE, value=aid),
            button("Reject", REJECT, value=aid, style="danger"),
        ]
    return ActionsBlock(block_id=ACTIONS_BLOCK, elements=elements)


def approval_message(pipeline_name: str, approval: ApprovalView) -> tuple[str, list[Block]]:
    """The request in the thread, with its buttons while pending and the decision after."""
    name = name_md(pipeline_name)
    if approval.kind == ApprovalKind.TOOL_CALL:
        label = tool_label(approval.payload)
        head = f"🔧 {name} wants to call *{escape_mrkdwn(label)}*"
        blocks: list[Block] = [section(head), section(_code(arguments_text(approval.payload), ARGUMENTS_SHOWN_MAX))]
        text = f"🔧 {escape_mrkdwn(pipeline_name)} wants to call {escape_mrkdwn(label)}"
    else:
        head = f"⏸️ {name} waits for approval of step {approval.position - 1}'s output"
        blocks = [section(head), *_output_blocks(approval.output)]
        text = f"⏸️ {escape_mrkdwn(pipeline_name)} waits for approval: {escape_mrkdwn(one_line(approval.output, 200))}"
    decided = decided_line(approval)
    if decided is None:
        blocks += [context(waiting_for(approval)), _buttons(approval)]
    else:
        blocks.append(context(decided))
        text = f"{text}\n{decided}"
    return clip(text, PRACTICAL_MESSAGE_LIMIT), blocks


def fits_edit(output: str) -> bool:
    """Whether Edit & approve can prefill the whole output (Slack's inputs hold 3,000)."""
    return len(output) <= PLAIN_TEXT_INPUT_LIMIT


def too_long_to_edit(output: str) -> str:
    return TOO_LONG_TO_EDIT.format(chars=len(output), limit=PLAIN_TEXT_INPUT_LIMIT)


def edit_modal(pipeline_name: str, output: str, metadata: str) -> Any:
    """Edit & approve: **Text** prefilled with the output; what is saved is what the next step gets."""
    return form_modal(
        EDIT_CALLBACK,
        "Edit & approve",
        "Approve",
        metadata,
        [
            section(f"Edit the output of {name_md(pipeline_name)}; the run goes on with your text."),
            InputBlock(
                block_id=TEXT_BLOCK,
                label="Text",
                element=PlainTextInputElement(
                    action_id=FIELD,
                    multiline=True,
                    max_length=PLAIN_TEXT_INPUT_LIMIT,
                    initial_value=output or None,
                ),
            ),
        ],
    )


def reject_modal(pipeline_name: str, metadata: str) -> Any:
    """Reject: an optional **Reason**, kept with the run's failure ("rejected by @x: reason")."""
    return form_modal(
        REJECT_CALLBACK,
        "Reject",
        "Reject",
        metadata,
        [
            section(f"Reject this run of {name_md(pipeline_name)}: it ends as failed."),
            InputBlock(
                block_id=REASON_BLOCK,
                label="Reason",
                optional=True,
                element=PlainTextInputElement(
                    action_id=FIELD, multiline=True, max_length=REASON_MAX, placeholder="What should change?"
                ),
            ),
        ],
    )

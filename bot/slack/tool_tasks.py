"""A tool call as the run's thread shows it: core's ToolCallView (what the worker says of the
call) made into the plan task the progress reply sends (bot/slack/blocks/runs.ToolTaskView)."""

from __future__ import annotations

from bot.slack.blocks.runs import TOOL_TASK_STATUS, TOOL_WAITING_NOTE, ToolTaskView
from core.reporter import ToolCallView


def tool_task(call: ToolCallView) -> ToolTaskView:
    """The task for ``call``: its status in Slack's words (a call waiting for Allow / Deny is
    pending and says so), the error as the task's output. An unknown status reads as running."""
    status = TOOL_TASK_STATUS.get(call.status, "in_progress")
    note = (call.error or "") if status == "error" else (TOOL_WAITING_NOTE if call.status == "waiting" else "")
    return ToolTaskView(
        call_id=call.call_id, position=call.position, label=call.label, detail=call.detail, status=status, note=note
    )

"""What the audit trail records: one name per kind of change, so `/pipebot audit` can say
each in words (DESIGN §10). Callers record in the same transaction as the change
(storage/repos/audit.record)."""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    KEY_SAVED = "key_saved"
    KEY_REMOVED = "key_removed"
    LIMITS_CHANGED = "limits_changed"
    SETTING_CHANGED = "setting_changed"
    AGENT_DELETED = "agent_deleted"
    PIPELINE_DELETED = "pipeline_deleted"
    PIPELINE_BUDGET_CHANGED = "pipeline_budget_changed"
    RUN_DELETED = "run_deleted"
    MCP_SERVER_ADDED = "mcp_server_added"
    MCP_SERVER_REMOVED = "mcp_server_removed"
    SCHEDULE_CREATED = "schedule_created"
    SCHEDULE_DELETED = "schedule_deleted"

"""approvals: a person in the loop (DESIGN §12)

- ``pipeline_steps.kind``: an agent step or an approval step; an approval step's
  ``approvers`` (Slack user ids, empty: whoever started the run) and ``timeout_hours``.
- ``run_steps.status`` accepts ``waiting``: an approval step asked and has no answer yet.
- ``approvals``: each request for a person's decision (an approval step, or one tool call),
  the one place a waiting run's state lives while no worker holds it.

Revision ID: 0012
Revises: 0011
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STEP_STATUSES_BEFORE = "status IN ('running', 'succeeded', 'failed')"
_STEP_STATUSES = "status IN ('running', 'waiting', 'succeeded', 'failed')"


def upgrade() -> None:
    op.add_column("pipeline_steps", sa.Column("kind", sa.String(16), nullable=False, server_default="agent"))
    op.add_column(
        "pipeline_steps",
        sa.Column("approvers", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    op.add_column("pipeline_steps", sa.Column("timeout_hours", sa.Integer(), nullable=True))
    op.create_check_constraint(op.f("ck_pipeline_steps_kind"), "pipeline_steps", "kind IN ('agent', 'approval')")
    op.drop_constraint(op.f("ck_run_steps_status"), "run_steps", type_="check")
    op.create_check_constraint(op.f("ck_run_steps_status"), "run_steps", _STEP_STATUSES)
    op.create_table(
        "approvals",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("run_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "team_id", sa.String(32), sa.ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("approvers", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("requested_by", sa.String(32), nullable=True),
        sa.Column("output_shown", sa.Text(), nullable=False),
        sa.Column("timeout_hours", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("edited_text", sa.Text(), nullable=True),
        sa.Column("channel_id", sa.String(32), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'timed_out', 'cancelled')", name=op.f("ck_approvals_status")),
        sa.CheckConstraint("kind IN ('step', 'tool_call')", name=op.f("ck_approvals_kind")),
    )
    op.create_index("ix_approvals_run_position", "approvals", ["run_id", "position"])
    op.create_index(
        "ix_approvals_pending_due", "approvals", ["due_at"], postgresql_where=sa.text("status = 'pending'")
    )


def downgrade() -> None:
    op.drop_index("ix_approvals_pending_due", table_name="approvals")
    op.drop_index("ix_approvals_run_position", table_name="approvals")
    op.drop_table("approvals")
    op.execute("UPDATE run_steps SET status = 'failed', error_kind = 'approval_timed_out' WHERE status = 'waiting'")
    op.drop_constraint(op.f("ck_run_steps_status"), "run_steps", type_="check")
    op.create_check_constraint(op.f("ck_run_steps_status"), "run_steps", _STEP_STATUSES_BEFORE)
    op.execute("DELETE FROM pipeline_steps WHERE kind = 'approval'")
    op.drop_constraint(op.f("ck_pipeline_steps_kind"), "pipeline_steps", type_="check")
    op.drop_column("pipeline_steps", "timeout_hours")
    op.drop_column("pipeline_steps", "approvers")
    op.drop_column("pipeline_steps", "kind")

"""schedules: pipelines that run themselves at set times (DESIGN §13)

- ``schedules``: a pipeline run on a 5-field cron in a time zone, posting in a channel.
  ``next_fire_at`` is the next wall-clock time, in UTC, that is due; maintenance takes due
  rows with ``FOR UPDATE SKIP LOCKED`` and moves it on in the same transaction, so each
  fire time is taken once however many workers run. ``pending_fire_at``: a fire taken whose
  run is not recorded yet (a worker that dies between the two leaves it for the next).
- ``workspaces.min_schedule_minutes``: the admins' shortest schedule interval (NULL: 1).
- ``runs.origin``: what started a run nobody typed (a schedule, a trigger), for its
  parent message and its page.

Revision ID: 0014
Revises: 0013
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "team_id", sa.String(32), sa.ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("pipeline_id", sa.BigInteger(), sa.ForeignKey("pipelines.id", ondelete="SET NULL"), nullable=True),
        sa.Column("pipeline_name", sa.String(80), nullable=False),
        sa.Column("cron", sa.String(120), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("input", sa.Text(), nullable=False, server_default=""),
        sa.Column("digest", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("next_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_missed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", postgresql.UUID(as_uuid=True), nullable=True),
    )
    op.create_index("ix_schedules_team", "schedules", ["team_id", "created_at"])
    op.create_index(
        "ix_schedules_due",
        "schedules",
        ["next_fire_at"],
        postgresql_where=sa.text("paused_at IS NULL"),
    )
    op.create_index(
        "ix_schedules_pending",
        "schedules",
        ["pending_fire_at"],
        postgresql_where=sa.text("pending_fire_at IS NOT NULL"),
    )
    op.add_column("workspaces", sa.Column("min_schedule_minutes", sa.Integer(), nullable=True))
    op.add_column("runs", sa.Column("origin", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "origin")
    op.drop_column("workspaces", "min_schedule_minutes")
    op.drop_index("ix_schedules_pending", table_name="schedules")
    op.drop_index("ix_schedules_due", table_name="schedules")
    op.drop_index("ix_schedules_team", table_name="schedules")
    op.drop_table("schedules")

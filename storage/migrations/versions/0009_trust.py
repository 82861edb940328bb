"""trust: where a run's artifact belongs, deletion, workspace limits, the audit trail

- ``artifacts.channel_id``: the conversation the run ran in (DESIGN §10: a run belongs to
  it and is visible to those who can see it), copied from ``runs`` for existing rows, with
  an index that serves "latest N of these conversations".
- ``artifacts.deleted_at`` / ``deleted_by``: a deleted result leaves a tombstone row.
- ``workspaces`` gains the admin limits: ``daily_limit_usd``, ``runs_per_person_hour``,
  ``public_links`` (anyone with a link may open public-channel runs; off) and
  ``limit_notice_on`` (the UTC day admins were last told 80 % of the daily limit was spent).
- ``runs`` gains an index for "this person's runs in the last hour".
- ``audit_events``: who changed keys, limits, settings, MCP servers, or deleted what.

Revision ID: 0009
Revises: 0008
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("artifacts", sa.Column("channel_id", sa.String(32), nullable=True))
    op.add_column("artifacts", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("artifacts", sa.Column("deleted_by", sa.String(32), nullable=True))
    op.execute("UPDATE artifacts a SET channel_id = r.channel_id FROM runs r WHERE a.run_id = r.id")
    op.create_index(
        "ix_artifacts_team_channel_created",
        "artifacts",
        ["team_id", "channel_id", sa.text("created_at DESC"), sa.text("id DESC")],
    )
    op.add_column("workspaces", sa.Column("daily_limit_usd", sa.Numeric(18, 8), nullable=True))
    op.add_column("workspaces", sa.Column("runs_per_person_hour", sa.Integer(), nullable=True))
    op.add_column(
        "workspaces", sa.Column("public_links", sa.Boolean(), nullable=False, server_default=sa.text("false"))
    )
    op.add_column("workspaces", sa.Column("limit_notice_on", sa.Date(), nullable=True))
    op.create_index("ix_runs_team_requester_created", "runs", ["team_id", "requested_by", sa.text("created_at DESC")])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False, server_default=""),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["workspaces.team_id"], name=op.f("fk_audit_events_team_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index("ix_audit_events_team_created", "audit_events", ["team_id", sa.text("created_at DESC")])


def downgrade() -> None:
    op.drop_index("ix_audit_events_team_created", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index("ix_runs_team_requester_created", table_name="runs")
    for column in ("limit_notice_on", "public_links", "runs_per_person_hour", "daily_limit_usd"):
        op.drop_column("workspaces", column)
    op.drop_index("ix_artifacts_team_channel_created", table_name="artifacts")
    for column in ("deleted_by", "deleted_at", "channel_id"):
        op.drop_column("artifacts", column)

"""triggers: pipelines that run on a reaction, a new message or a webhook (DESIGN §13)

One table for the three kinds: ``emoji`` for a reaction trigger, ``matching`` and
``runs_per_hour`` for a message trigger, ``secret_hash`` (SHA-256 of the secret shown once)
for a webhook. ``channels``: the channels it listens in (empty: every channel the app is
in); a webhook posts in exactly one. What a trigger started once is kept by the run's
``dedupe_key`` (a reaction: once per message and trigger; a webhook: its Idempotency-Key).

Revision ID: 0015
Revises: 0014
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "triggers",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "team_id", sa.String(32), sa.ForeignKey("workspaces.team_id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("pipeline_id", sa.BigInteger(), sa.ForeignKey("pipelines.id", ondelete="SET NULL"), nullable=True),
        sa.Column("pipeline_name", sa.String(80), nullable=False),
        sa.Column("emoji", sa.String(100), nullable=True),
        sa.Column("matching", sa.String(200), nullable=True),
        sa.Column("channels", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("runs_per_hour", sa.Integer(), nullable=False, server_default="30"),
        sa.Column("secret_hash", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('reaction', 'message', 'webhook')", name=op.f("ck_triggers_kind")),
    )
    op.create_index("ix_triggers_team_kind", "triggers", ["team_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_triggers_team_kind", table_name="triggers")
    op.drop_table("triggers")

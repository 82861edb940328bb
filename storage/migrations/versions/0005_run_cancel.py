"""run cancel: who asked to cancel a run and when, and an index for queue positions

- ``runs`` gains ``cancel_requested_by`` (a Slack user id, or ``cli``) and
  ``cancel_requested_at``. PostgreSQL decides whether a run was cancelled, so a worker in
  any process sees the request; both columns are nullable, so adding them rewrites nothing.
- ``ix_runs_queued_created``: a partial index on the queued runs in queue order, which
  serves "how many runs are ahead of this one" without reading finished runs.

Revision ID: 0005
Revises: 0004
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("cancel_requested_by", sa.String(32), nullable=True))
    op.add_column("runs", sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_runs_queued_created", "runs", ["created_at", "id"],
                    postgresql_where=sa.text("status = 'queued'"))


def downgrade() -> None:
    op.drop_index("ix_runs_queued_created", table_name="runs")
    op.drop_column("runs", "cancel_requested_at")
    op.drop_column("runs", "cancel_requested_by")

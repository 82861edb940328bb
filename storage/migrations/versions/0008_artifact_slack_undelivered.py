"""artifact slack_undelivered: what of a run Slack never took

``artifacts`` gains ``slack_undelivered`` (text, NULL when everything arrived): the messages
of the run (its result, its ✅/❌ mark) that Slack refused or that waited past the delivery
patience, so the artifact page can say the thread is incomplete. Nullable: adding it
rewrites nothing.

Revision ID: 0008
Revises: 0007
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("artifacts", sa.Column("slack_undelivered", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("artifacts", "slack_undelivered")

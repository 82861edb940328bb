"""approvals.resume_state: where a step paused for a tool call's Allow / Deny picks up

A step whose model called a tool of a server marked "Ask before calling: every call" stops
and waits like an approval step (DESIGN §12). What it had said and heard so far, what it
had cost and which calls it had made are kept with the request, so the worker that takes
the run up again goes on from there and never pays for the earlier rounds twice.

Revision ID: 0013
Revises: 0012
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("approvals", sa.Column("resume_state", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("approvals", "resume_state")

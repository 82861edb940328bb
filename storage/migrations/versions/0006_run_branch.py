"""runs from a step of an artifact: where a branch run comes from and what it changes

``runs`` gains ``branch`` (JSONB, NULL for an ordinary run): the source artifact and version,
the step the run starts from, the agent, model and input that step uses instead, what changed,
and what each reused step cost in the source. The executor reads it to start at that step; the
artifact the run writes copies the lineage from it. Nullable without a default, so adding it
rewrites nothing.

The downgrade drops the column: a branch run then reads as an ordinary run whose earlier steps
were finished by an earlier attempt (which, for the executor, they were).

Revision ID: 0006
Revises: 0005
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("branch", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "branch")

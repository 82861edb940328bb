"""artifacts.output_tsv: the output's search vector, stored, with a GIN index

Replaces the expression index ``ix_artifacts_output_fts`` on
``to_tsvector('english', coalesce(content->>'output', ''))`` with a column PostgreSQL
generates from the same expression (``GENERATED ALWAYS AS … STORED``) and a GIN index on it.
With only the expression indexed, every row the planner checks outside the index (walking
``created_at`` order) re-parses its whole output; the planner underrates that cost and, at 1M
artifacts, walked ``ix_artifacts_team_created`` for rare words (75 ms) instead of using GIN.

A generated column fills itself on every insert, including the executor's
``INSERT … ON CONFLICT DO NOTHING``, which therefore needs no change.

Adding a stored generated column rewrites the table (about 2 minutes at 1M artifacts, under an
exclusive lock); the old index is dropped first so the rewrite does not rebuild it.

Revision ID: 0003
Revises: 0002
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

EXPRESSION = "to_tsvector('english'::regconfig, coalesce(content->>'output', ''))"


def upgrade() -> None:
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")  # GIN builds much faster with room
    op.drop_index("ix_artifacts_output_fts", table_name="artifacts", postgresql_using="gin")
    op.add_column("artifacts", sa.Column("output_tsv", postgresql.TSVECTOR(),
                                         sa.Computed(EXPRESSION, persisted=True), nullable=False))
    op.create_index("ix_artifacts_output_tsv", "artifacts", ["output_tsv"], postgresql_using="gin")
    # Statistics for the new column (its most common lexemes) are what the planner estimates a
    # search's selectivity from; without them it guesses, and may walk created_at for a rare word.
    op.execute("ANALYZE artifacts (output_tsv)")


def downgrade() -> None:
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    op.drop_index("ix_artifacts_output_tsv", table_name="artifacts", postgresql_using="gin")
    op.drop_column("artifacts", "output_tsv")
    op.create_index("ix_artifacts_output_fts", "artifacts", [sa.literal_column(EXPRESSION)],
                    postgresql_using="gin")

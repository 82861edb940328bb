"""inputs: files and threads a run takes in (DESIGN §11)

- ``run_files``: each file a run takes in, recorded from Slack's description when the run is
  requested; its bytes once downloaded go to ``run_file_chunks`` (pieces, so a large file is
  never one value in memory), with its sha256 and, for a PDF, its extracted text.
- ``runs.thread``: the thread whose earlier messages reach step 1, and those messages once
  fetched.
- ``agents.sees_files``: a later step's agent gets the run's files too.

Revision ID: 0010
Revises: 0009
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("agents", sa.Column("sees_files", sa.Boolean(), nullable=False, server_default=sa.text("false")))
    op.add_column("runs", sa.Column("thread", postgresql.JSONB(), nullable=True))
    op.create_table(
        "run_files",
        sa.Column("id", sa.BigInteger(), autoincrement=True, primary_key=True),
        sa.Column("run_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("slack_file_id", sa.String(32), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("mimetype", sa.String(200), nullable=False, server_default=""),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False, server_default=""),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extracted_text", sa.Text(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("run_id", "position", name="uq_run_files_run_position"),
    )
    op.create_table(
        "run_file_chunks",
        sa.Column(
            "file_id", sa.BigInteger(), sa.ForeignKey("run_files.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("run_file_chunks")
    op.drop_table("run_files")
    op.drop_column("runs", "thread")
    op.drop_column("agents", "sees_files")

"""artifact lifecycle: versions, lineage, feedback and used edit links

- ``artifacts`` gains ``latest_version`` (NOT NULL DEFAULT 1: PostgreSQL stores a constant
  default in the catalogue, so adding it rewrites nothing, even at 1M artifacts) and the lineage
  of a branch (``parent_artifact_id`` SET NULL on delete, ``parent_version``,
  ``branched_from_step``, ``branch_changes``), with a partial index for "branches of this
  artifact".
- ``artifact_versions`` holds version 2 and later; version 1 stays ``artifacts.content``, so
  existing artifacts need no copy and the executor's insert needs no change.
- ``artifact_feedback``: one vote per person per version.
- ``edit_link_uses``: the nonce of every edit link that was used, so a replay is refused.

The downgrade drops what the upgrade added: every artifact keeps its version 1 (its content as
the run wrote it); later versions, votes and lineage go with their tables and columns.

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

EDIT_TARGET = "^(output|step:[1-9][0-9]*)$"


def upgrade() -> None:
    op.add_column("artifacts", sa.Column("latest_version", sa.Integer(), server_default=sa.text("1"), nullable=False))
    op.add_column("artifacts", sa.Column("parent_artifact_id", postgresql.UUID(as_uuid=True), nullable=True))
    op.add_column("artifacts", sa.Column("parent_version", sa.Integer(), nullable=True))
    op.add_column("artifacts", sa.Column("branched_from_step", sa.Integer(), nullable=True))
    op.add_column("artifacts", sa.Column("branch_changes", postgresql.JSONB(), nullable=True))
    op.create_foreign_key("fk_artifacts_parent_artifact_id_artifacts", "artifacts", "artifacts",
                          ["parent_artifact_id"], ["id"], ondelete="SET NULL")
    op.create_index("ix_artifacts_parent_created", "artifacts",
                    ["parent_artifact_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
                    postgresql_where=sa.text("parent_artifact_id IS NOT NULL"))

    op.create_table(
        "artifact_versions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("team_id", sa.String(32), sa.ForeignKey("workspaces.team_id", ondelete="CASCADE",
                                                          name="fk_artifact_versions_team_id_workspaces"),
                  nullable=False),
        sa.Column("artifact_id", postgresql.UUID(as_uuid=True),
                  sa.ForeignKey("artifacts.id", ondelete="CASCADE", name="fk_artifact_versions_artifact_id_artifacts"),
                  nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("content", postgresql.JSONB(), nullable=False),
        sa.Column("edited", sa.String(16), nullable=False),
        sa.Column("author", sa.String(32), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("artifact_id", "number", name="uq_artifact_versions_artifact_number"),
        sa.CheckConstraint("number >= 2", name="ck_artifact_versions_number"),
        sa.CheckConstraint(f"edited ~ '{EDIT_TARGET}'", name="ck_artifact_versions_edited"),
        sa.CheckConstraint("char_length(note) <= 500", name="ck_artifact_versions_note"),
        sa.PrimaryKeyConstraint("id", name="pk_artifact_versions"),
    )

    op.create_table(
        "artifact_feedback",
        sa.Column("artifact_id", postgresql.UUID(as_uuid=True),
                  sa.ForeignKey("artifacts.id", ondelete="CASCADE", name="fk_artifact_feedback_artifact_id_artifacts"),
                  nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("team_id", sa.String(32), sa.ForeignKey("workspaces.team_id", ondelete="CASCADE",
                                                          name="fk_artifact_feedback_team_id_workspaces"),
                  nullable=False),
        sa.Column("vote", sa.SmallInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("artifact_id", "version", "user_id", name="pk_artifact_feedback"),
        sa.CheckConstraint("vote IN (-1, 1)", name="ck_artifact_feedback_vote"),
        sa.CheckConstraint("version >= 1", name="ck_artifact_feedback_version"),
    )

    op.create_table(
        "edit_link_uses",
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("team_id", sa.String(32), sa.ForeignKey("workspaces.team_id", ondelete="CASCADE",
                                                          name="fk_edit_link_uses_team_id_workspaces"),
                  nullable=False),
        sa.Column("artifact_id", postgresql.UUID(as_uuid=True),
                  sa.ForeignKey("artifacts.id", ondelete="CASCADE", name="fk_edit_link_uses_artifact_id_artifacts"),
                  nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name="pk_edit_link_uses"),
    )
    op.create_index("ix_edit_link_uses_expires", "edit_link_uses", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_edit_link_uses_expires", table_name="edit_link_uses")
    op.drop_table("edit_link_uses")
    op.drop_table("artifact_feedback")
    op.drop_table("artifact_versions")
    op.drop_index("ix_artifacts_parent_created", table_name="artifacts")
    op.drop_constraint("fk_artifacts_parent_artifact_id_artifacts", "artifacts", type_="foreignkey")
    for column in ("branch_changes", "branched_from_step", "parent_version", "parent_artifact_id", "latest_version"):
        op.drop_column("artifacts", column)

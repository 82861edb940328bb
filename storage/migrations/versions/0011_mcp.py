"""mcp: the MCP servers a workspace registers, and the tool calls a step made (DESIGN §12)

- ``mcp_servers``: name (unique per workspace, case-insensitive), URL, the token encrypted
  like a provider key, whether each call asks a person first.
- ``run_steps.tool_calls``: each tool call of the step (name, server, arguments, result
  excerpt, duration, error, fee).

Revision ID: 0011
Revises: 0010
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mcp_servers",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("token_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("ask", sa.String(16), nullable=False, server_default="never"),
        sa.Column("created_by", sa.String(32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("ask IN ('never', 'every_call')", name=op.f("ck_mcp_servers_ask")),
        sa.ForeignKeyConstraint(
            ["team_id"], ["workspaces.team_id"], name=op.f("fk_mcp_servers_team_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mcp_servers")),
    )
    op.create_index("uq_mcp_servers_team_lower_name", "mcp_servers", ["team_id", sa.text("lower(name)")], unique=True)
    op.add_column("run_steps", sa.Column("tool_calls", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("run_steps", "tool_calls")
    op.drop_index("uq_mcp_servers_team_lower_name", table_name="mcp_servers")
    op.drop_table("mcp_servers")

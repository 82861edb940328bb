"""The MCP servers a workspace registered (DESIGN §12): name, URL, the token encrypted like a
provider key (storage/secrets.SecretBox), and whether each call asks a person first.

Every function takes the workspace and filters by it. The token leaves this module only
through ``server_token`` (decrypted for the worker's call); nothing else reads the column."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storage.models import McpServer
from storage.repos.stored_secrets import StoredSecret
from storage.repos.workspaces import ensure_workspace
from storage.secrets import SecretBox


def add_server(
    s: Session,
    team_id: str,
    *,
    name: str,
    url: str,
    token: str | None,
    ask: str,
    box: SecretBox,
    created_by: str | None = None,
) -> McpServer:
    """Insert a server; a name the workspace already uses (any case) raises IntegrityError
    (storage.db re-exports it), so two admins adding the same name at once get one row."""
    ensure_workspace(s, team_id)
    row = McpServer(
        team_id=team_id,
        name=name,
        url=url,
        token_ciphertext=box.encrypt(token) if token else None,
        ask=ask,
        created_by=created_by,
    )
    s.add(row)
    s.flush()
    return row


def list_servers(s: Session, team_id: str) -> Sequence[McpServer]:
    return s.scalars(select(McpServer).where(McpServer.team_id == team_id).order_by(func.lower(McpServer.name))).all()


def get_server_by_name(s: Session, team_id: str, name: str) -> McpServer | None:
    return s.scalar(
        select(McpServer).where(McpServer.team_id == team_id, func.lower(McpServer.name) == name.strip().lower())
    )


def remove_server(s: Session, team_id: str, name: str) -> McpServer | None:
    """Delete the server named ``name`` (any case); the removed row, or None if there was none."""
    row = get_server_by_name(s, team_id, name)
    if row is None:
        return None
    s.delete(row)
    s.flush()
    return row


def server_token(s: Session, team_id: str, server_id: int, box: SecretBox) -> str | None:
    """The decrypted token of one server (None: it has none, or no such server here).
    SecretError (storage.secrets) when PIPEBOT_SECRET_KEY no longer opens it."""
    ciphertext = s.scalar(
        select(McpServer.token_ciphertext).where(McpServer.team_id == team_id, McpServer.id == server_id)
    )
    return box.decrypt(ciphertext) if ciphertext is not None else None


def server_exists(s: Session, team_id: str, server_id: int) -> bool:
    return s.scalar(select(McpServer.id).where(McpServer.team_id == team_id, McpServer.id == server_id)) is not None


def token_secrets(s: Session) -> Sequence[StoredSecret]:
    """Every MCP server token, as ``pipebot rotate-key`` reads stored secrets
    (storage/repos/stored_secrets.py); the ciphertext only."""
    rows = s.execute(
        select(McpServer.id, McpServer.team_id, McpServer.name, McpServer.token_ciphertext)
        .where(McpServer.token_ciphertext.is_not(None))
        .order_by(McpServer.id)
    )
    return [
        StoredSecret(
            "mcp_servers",
            "token_ciphertext",
            r.id,
            r.team_id,
            f"the token of MCP server {r.name}",
            bytes(r.token_ciphertext),
        )
        for r in rows
    ]


def replace_token_ciphertext(s: Session, server_id: int, ciphertext: bytes) -> None:
    """Store the same token encrypted anew (rotation)."""
    s.execute(update(McpServer).where(McpServer.id == server_id).values(token_ciphertext=ciphertext))

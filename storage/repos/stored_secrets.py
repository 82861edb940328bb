"""Every secret pipebot stores encrypted, for ``pipebot rotate-key`` (core/secret_rotation.py):
provider keys (``provider_credentials.ciphertext``) and the Slack tokens of OAuth installs
(``slack_installations`` / ``slack_bots``, sealed by bot/slack/client.EncryptedInstallationStore
as ``fernet:`` + Fernet token; a value without the marker was stored before encryption and is
left as it is).

Why here: rotation reads and rewrites ciphertext it never decrypts into anything but the new
ciphertext, row by row, and only this layer knows the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["SEALED_PREFIX", "StoredSecret", "provider_secrets", "slack_secrets", "update_secret"]

#: Marks a sealed Slack token (bot/slack/client.py writes it).
SEALED_PREFIX = "fernet:"

_SLACK_TABLES = {
    "slack_installations": ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}


@dataclass(frozen=True)
class StoredSecret:
    """One encrypted value: where it lives (``table``, ``column``, row ``id``), whose it is
    (``team_id``, ``what``) and the Fernet token itself."""

    table: str
    column: str
    id: int
    team_id: str
    what: str
    token: bytes


def provider_secrets(s: Session) -> Sequence[StoredSecret]:
    rows = s.execute(text("SELECT id, team_id, provider, ciphertext FROM provider_credentials ORDER BY id"))
    return [
        StoredSecret("provider_credentials", "ciphertext", r.id, r.team_id, r.provider, bytes(r.ciphertext))
        for r in rows
    ]


def slack_secrets(s: Session) -> Sequence[StoredSecret]:
    out: list[StoredSecret] = []
    for table, columns in _SLACK_TABLES.items():
        for column in columns:
            rows = s.execute(
                text(f"SELECT id, team_id, {column} AS value FROM {table} WHERE {column} LIKE :sealed ORDER BY id"),
                {"sealed": SEALED_PREFIX + "%"},
            )
            for r in rows:
                token = r.value[len(SEALED_PREFIX) :].encode("ascii")
                out.append(StoredSecret(table, column, r.id, r.team_id or "", column.replace("_", " "), token))
    return out


def update_secret(s: Session, secret: StoredSecret, token: bytes) -> None:
    """Store ``token`` in place of ``secret``'s (the same value, encrypted anew)."""
    if secret.table == "provider_credentials":
        s.execute(text("UPDATE provider_credentials SET ciphertext = :t WHERE id = :id"), {"t": token, "id": secret.id})
        return
    if secret.table == "mcp_servers":
        s.execute(text("UPDATE mcp_servers SET token_ciphertext = :t WHERE id = :id"), {"t": token, "id": secret.id})
        return
    columns = _SLACK_TABLES[secret.table]
    if secret.column not in columns:
        raise ValueError(f"not a token column: {secret.table}.{secret.column}")
    s.execute(
        text(f"UPDATE {secret.table} SET {secret.column} = :t WHERE id = :id"),
        {"t": SEALED_PREFIX + token.decode("ascii"), "id": secret.id},
    )

"""Provider keys at rest: encrypted per workspace, only a short hint readable."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from storage.models import ProviderCredential
from storage.repos.workspaces import ensure_workspace
from storage.secrets import SecretBox, hint_for


def set_credential(
    s: Session, team_id: str, provider: str, api_key: str, box: SecretBox, user_id: str | None = None
) -> None:
    ensure_workspace(s, team_id)
    values = {
        "team_id": team_id,
        "provider": provider,
        "ciphertext": box.encrypt(api_key),
        "hint": hint_for(api_key),
        "updated_by": user_id,
    }
    stmt = pg_insert(ProviderCredential).values(**values)
    stmt = stmt.on_conflict_do_update(
        constraint="uq_provider_credentials_team_provider",
        set_={
            "ciphertext": stmt.excluded.ciphertext,
            "hint": stmt.excluded.hint,
            "updated_by": stmt.excluded.updated_by,
            "updated_at": func.now(),
        },
    )
    s.execute(stmt)


def get_credential(s: Session, team_id: str, provider: str, box: SecretBox) -> str | None:
    row = s.scalar(
        select(ProviderCredential.ciphertext).where(
            ProviderCredential.team_id == team_id, ProviderCredential.provider == provider
        )
    )
    return box.decrypt(row) if row is not None else None


def credential_hints(s: Session, team_id: str) -> dict[str, str]:
    rows = s.execute(
        select(ProviderCredential.provider, ProviderCredential.hint).where(ProviderCredential.team_id == team_id)
    )
    return {provider: hint for provider, hint in rows}


def delete_credential(s: Session, team_id: str, provider: str) -> bool:
    # A DELETE's result is a CursorResult at run time; Session.execute is typed as the base Result.
    res = cast(
        CursorResult[Any],
        s.execute(
            delete(ProviderCredential).where(
                ProviderCredential.team_id == team_id, ProviderCredential.provider == provider
            )
        ),
    )
    return bool(res.rowcount)


def stored_keys(s: Session, team_id: str, box: SecretBox) -> dict[str, str]:
    """provider -> decrypted key of every key the workspace stored, in one statement."""
    rows = s.execute(
        select(ProviderCredential.provider, ProviderCredential.ciphertext).where(ProviderCredential.team_id == team_id)
    ).all()
    return {provider: box.decrypt(ciphertext) for provider, ciphertext in rows}

"""``pipebot rotate-key``: every stored secret re-encrypted under the newest PIPEBOT_SECRET_KEY
(DESIGN §10 "Taking back"), so the older keys can be dropped from the list afterwards.

PIPEBOT_SECRET_KEY is a comma-separated list, newest first: the newest encrypts, all of them
decrypt (storage/secrets.SecretBox). Rotation is cryptography's ``MultiFernet.rotate`` over
every provider key, every sealed Slack token and every MCP server's token. A secret no configured key opens is named
(workspace and what it is) and left exactly as it was, so nothing is lost and adding the
missing key back and rotating again still works. Running it twice is harmless: the second run
finds everything under the newest key already.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.fernet import InvalidToken

from core.context import AppContext
from core.messages import provider_name
from storage.db import transaction
from storage.repos import mcp_servers as mcp_repo
from storage.repos import stored_secrets as repo

__all__ = ["Rotation", "rotate_all"]


@dataclass
class Rotation:
    """What a rotation did: counts per kind, and the secrets it could not open."""

    provider_keys: int = 0
    slack_tokens: int = 0
    mcp_tokens: int = 0
    already: int = 0
    unreadable: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unreadable

    def summary(self) -> list[str]:
        """The lines the CLI prints (problems first, then the outcome)."""
        lines = [
            f"could not decrypt {what} with any key in PIPEBOT_SECRET_KEY; left it as it was "
            "(add back the key it was encrypted with and rotate again, or save it again)"
            for what in self.unreadable
        ]
        keys = f"{self.provider_keys} provider key{'s' if self.provider_keys != 1 else ''}"
        tokens = f"{self.slack_tokens} Slack token{'s' if self.slack_tokens != 1 else ''}"
        mcp = f"{self.mcp_tokens} MCP server token{'s' if self.mcp_tokens != 1 else ''}"
        done = f"re-encrypted {keys}, {tokens} and {mcp} under the newest key"
        if self.already:
            done += f" ({self.already} already were)"
        if self.ok:
            done += "; you can now remove the older keys from PIPEBOT_SECRET_KEY"
        else:
            done += f"; keep the older keys until the {len(self.unreadable)} above can be read"
        return [*lines, done]


def _name(secret: repo.StoredSecret) -> str:
    if secret.table == "provider_credentials":
        return f"the {provider_name(secret.what)} key of workspace {secret.team_id}"
    if secret.table == "mcp_servers":
        return f"{secret.what} of workspace {secret.team_id}"
    return f"the Slack {secret.what} of workspace {secret.team_id or '(unknown)'}"


def rotate_all(ctx: AppContext) -> Rotation:
    """Re-encrypt every stored secret under the newest key, in one transaction."""
    report = Rotation()
    with transaction(ctx.sessions) as s:
        for secret in [*repo.provider_secrets(s), *repo.slack_secrets(s), *mcp_repo.token_secrets(s)]:
            if ctx.box.is_newest(secret.token):
                report.already += 1
                continue
            try:
                token = ctx.box.rotate(secret.token)
            except InvalidToken:
                report.unreadable.append(_name(secret))
                continue
            repo.update_secret(s, secret, token)
            if secret.table == "provider_credentials":
                report.provider_keys += 1
            elif secret.table == "mcp_servers":
                report.mcp_tokens += 1
            else:
                report.slack_tokens += 1
    return report

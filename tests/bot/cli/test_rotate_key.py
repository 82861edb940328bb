"""`pipebot rotate-key` as a process: every stored secret (provider keys, sealed Slack tokens, MCP tokens)
re-encrypted under the newest PIPEBOT_SECRET_KEY, so the old key can be dropped and everything
still decrypts; a secret no key opens is named and left as it was; running it again is harmless."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

from slack_sdk.oauth.installation_store.models.bot import Bot
from sqlalchemy import text

from bot.slack.client import EncryptedInstallationStore
from storage.db import transaction
from storage.repos import credentials as credential_repo
from storage.repos import mcp_servers as mcp_repo
from storage.secrets import SecretBox, new_key

PIPEBOT = [sys.executable, "-m", "bot.cli.main", "rotate-key"]


def _rotate(env: dict[str, str], keys: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        PIPEBOT, env=dict(env, PIPEBOT_SECRET_KEY=",".join(keys)), capture_output=True, text=True, timeout=60
    )


def test_rotate_key_re_encrypts_every_secret_so_the_old_key_can_go(ctx, base_env):
    old, new, lost = new_key(), new_key(), new_key()
    with transaction(ctx.sessions) as s:
        credential_repo.set_credential(s, "T1", "anthropic", "sk-ant-first-1234", SecretBox([old]), "U1")
        credential_repo.set_credential(s, "T2", "openai", "sk-openai-second-5678", SecretBox([old]), "U1")
        credential_repo.set_credential(s, "T3", "openai", "sk-nobody-can-read", SecretBox([lost]), "U1")
        tickets = mcp_repo.add_server(
            s,
            "T1",
            name="Tickets",
            url="https://mcp.example.com/mcp",
            token="mcp-secret-token",
            ask="never",
            box=SecretBox([old]),
            created_by="U1",
        )
    store = EncryptedInstallationStore("1111.2222", ctx.engine, SecretBox([old]))
    store.save_bot(
        Bot(
            app_id="A1",
            enterprise_id=None,
            team_id="T1",
            bot_token="xoxb-the-bot-token",
            bot_id="B1",
            bot_user_id="U0BOT",
            installed_at=datetime.now().timestamp(),
        )
    )

    out = _rotate(base_env, [new, old])
    assert out.returncode == 1, out.stderr
    assert "could not decrypt the OpenAI key of workspace T3" in out.stderr and "Traceback" not in out.stderr
    assert "re-encrypted 2 provider keys, 1 Slack token and 1 MCP server token under the newest key" in out.stderr
    assert "keep the older keys" in out.stderr and "sk-" not in out.stderr + out.stdout

    only_new = SecretBox([new])
    with transaction(ctx.sessions) as s:
        assert credential_repo.get_credential(s, "T1", "anthropic", only_new) == "sk-ant-first-1234"
        assert credential_repo.get_credential(s, "T2", "openai", only_new) == "sk-openai-second-5678"
        assert credential_repo.get_credential(s, "T3", "openai", SecretBox([lost])) == "sk-nobody-can-read"  # untouched
        assert mcp_repo.server_token(s, "T1", tickets.id, only_new) == "mcp-secret-token"
    assert (
        EncryptedInstallationStore("1111.2222", ctx.engine, only_new).bot_token_for_team("T1") == "xoxb-the-bot-token"
    )

    with transaction(ctx.sessions) as s:
        s.execute(text("DELETE FROM provider_credentials WHERE team_id = 'T3'"))
    again = _rotate(base_env, [new, old])
    assert again.returncode == 0, again.stderr
    assert (
        "re-encrypted 0 provider keys, 0 Slack tokens and 0 MCP server tokens under the newest key (4 already were)"
        in again.stdout
    )
    assert "you can now remove the older keys from PIPEBOT_SECRET_KEY" in again.stdout

    dropped = _rotate(base_env, [new])  # the old key gone from the settings: everything still opens
    assert dropped.returncode == 0 and "(4 already were)" in dropped.stdout

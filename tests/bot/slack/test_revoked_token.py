"""One SLACK_BOT_TOKEN (no OAuth) that Slack revokes while pipebot runs: after the
`tokens_revoked` (or `app_uninstalled`) event, a command is answered in its own response
with what to do, and no call to Slack is made with the revoked token. Its own module, so
its fake Slack (module-scoped) is the only one whose token is revoked."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.revoked_token import TOKEN_REVOKED
from core.context import AppContext
from tests.fakes.slack import BOT_USER_ID
from tests.support.slack_app import SlackServer
from tests.support.waiting import wait_until


@pytest.mark.parametrize("kind", ["tokens_revoked", "app_uninstalled"])
def test_a_command_after_the_token_is_revoked_says_what_to_do(ctx: AppContext, slack: SlackServer, kind: str) -> None:
    token = slack.fake.token
    assert "agent new" in slack.command("help").text()  # Bolt has checked the token by now
    event: dict[str, Any] = {"type": kind}
    if kind == "tokens_revoked":
        event["tokens"] = {"oauth": [], "bot": [BOT_USER_ID]}
    assert slack.post(slack.signer.event(event)).status_code == 200
    slack.fake.revoke_token(token)
    try:
        wait_until(lambda: ctx.redis.keys("pipebot:revoked-token:*"), 5, "the revocation to be recorded")
        assert all(token not in k.decode() for k in ctx.redis.keys("*"))  # never the token itself
        before = len(slack.fake.calls())
        sent = slack.command("run Digest some text")
        assert sent.response.status_code == 200
        assert TOKEN_REVOKED in sent.response.text and "SLACK_BOT_TOKEN" in sent.response.text
        assert not [c for c in slack.fake.calls()[before:] if c.token == token]
    finally:
        slack.fake.tokens[token]["revoked"] = False  # the next test's workspace has it back


def test_a_users_token_revoked_alone_changes_nothing(ctx: AppContext, slack: SlackServer) -> None:
    event = {"type": "tokens_revoked", "tokens": {"oauth": ["U0SOMEONE"], "bot": []}}
    assert slack.post(slack.signer.event(event)).status_code == 200
    assert "agent new" in slack.command("help").text()
    assert not ctx.redis.keys("pipebot:revoked-token:*")

"""Multi-workspace (OAuth) mode: installing stores the workspace's token encrypted and serves
the workspace; uninstalling or revoking in one workspace cleans its installation, later runs
there fail with a clear log, and other workspaces keep working."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from bot.slack.allowed_teams import INSTALL_REFUSED_TITLE, NOT_ALLOWED_TEXT
from bot.slack.client import SlackNotConfigured, client_for
from bot.slack.oauth import oauth_settings
from bot.slack.reporter_factory import _reporter
from bot.web.server import build_app
from core.context import AppContext
from tests.fakes.slack import CLIENT_ID, CLIENT_SECRET, FakeSlack
from tests.support.http_server import serve
from tests.support.slack_app import install_workspace, slack_settings
from tests.support.slack_signing import SlackRequests

GONE, STAYS = "T0GONE", "T0STAYS"


@pytest.fixture
def oauth(_session_ctx: AppContext, ctx: AppContext, fake_slack: FakeSlack) -> Iterator[tuple[AppContext, str]]:
    settings = slack_settings(
        _session_ctx.settings,
        fake_slack,
        SLACK_BOT_TOKEN=None,
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
    )
    octx = dataclasses.replace(_session_ctx, settings=settings)
    for team in (GONE, STAYS):
        install_workspace(octx, fake_slack, team, f"Team {team}")
    try:
        with serve(build_app(octx)) as url:
            yield octx, url
    finally:
        with octx.engine.begin() as conn:
            for table in ("slack_bots", "slack_installations"):
                conn.execute(text(f"DELETE FROM {table} WHERE team_id IN (:a, :b)"), {"a": GONE, "b": STAYS})


def rows(octx: AppContext, team: str) -> dict[str, int]:
    with octx.engine.connect() as conn:
        return {
            t: conn.execute(text(f"SELECT count(*) FROM {t} WHERE team_id = :t"), {"t": team}).scalar()
            for t in ("slack_bots", "slack_installations")
        }


def post(url: str, signed: tuple[bytes, dict[str, str]]) -> httpx.Response:
    return httpx.post(url + "/slack/events", content=signed[0], headers=signed[1], timeout=10)


@pytest.mark.parametrize("kind", ["app_uninstalled", "tokens_revoked"])
def test_revocation_cleans_the_workspace_and_others_keep_working(
    oauth: tuple[AppContext, str], fake_slack: FakeSlack, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    octx, url = oauth
    assert rows(octx, GONE) == {"slack_bots": 1, "slack_installations": 1}
    signer = SlackRequests(team_id=GONE, user_id="U0INSTALLER")
    event: dict[str, Any] = {"type": kind}
    if kind == "tokens_revoked":
        event["tokens"] = {"oauth": ["U0INSTALLER"], "bot": [f"U0BOT{GONE}"]}
    r = post(url, signer.event(event))
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 5
    while rows(octx, GONE)["slack_bots"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rows(octx, GONE)["slack_bots"] == 0
    if kind == "app_uninstalled":
        assert rows(octx, GONE)["slack_installations"] == 0
    assert rows(octx, STAYS) == {"slack_bots": 1, "slack_installations": 1}
    # a run queued earlier in the uninstalled workspace: no client, one clear log line
    with pytest.raises(SlackNotConfigured, match="not installed"):
        client_for(octx, GONE)
    caplog.set_level(logging.WARNING)
    assert _reporter(octx, GONE, "run-1", "C0X", "1.000", "U0X", None) is None
    assert "not installed in Slack workspace T0GONE" in caplog.text
    # the other workspace still works
    other = SlackRequests(team_id=STAYS, user_id="U0STAYER")
    hook = fake_slack.new_response_url()
    r = post(url, other.slash_command("help", response_url=hook))
    assert r.status_code == 200 and "agent new" in r.text
    assert client_for(octx, STAYS).token.startswith(f"xoxb-{STAYS}")


def test_oauth_mode_never_lends_a_token_to_a_workspace_without_installation(
    _session_ctx: AppContext, ctx: AppContext, fake_slack: FakeSlack
):
    """In OAuth mode a workspace with no installation (never installed, or uninstalled) gets
    no client, not the token of another workspace."""
    settings = slack_settings(
        _session_ctx.settings,
        fake_slack,
        SLACK_BOT_TOKEN=None,
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
    )
    octx = dataclasses.replace(_session_ctx, settings=settings)
    with pytest.raises(SlackNotConfigured, match="not installed in Slack workspace T0NEVER"):
        client_for(octx, "T0NEVER")


def test_client_id_and_secret_beside_a_bot_token_serve_sign_in_not_installs(
    _session_ctx: AppContext, ctx: AppContext, fake_slack: FakeSlack
):
    """DESIGN §10: with SLACK_BOT_TOKEN set, the client id and secret serve Sign in with Slack
    for that one workspace; the app stays single-workspace (no /slack/install)."""
    settings = slack_settings(
        _session_ctx.settings,
        fake_slack,
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
        PIPEBOT_PUBLIC_URL="https://pipebot.test",
    )
    assert settings.SLACK_BOT_TOKEN and not settings.slack_oauth_enabled and settings.slack_signin_enabled
    octx = dataclasses.replace(_session_ctx, settings=settings)
    assert oauth_settings(octx) is None
    assert client_for(octx, "T0PIPEBOT").token == settings.SLACK_BOT_TOKEN
    with serve(build_app(octx)) as url:
        assert httpx.get(url + "/slack/install", timeout=10).status_code == 404


def test_oauth_install_stores_encrypted_token_and_serves_the_team(
    _session_ctx: AppContext, ctx: AppContext, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(
        _session_ctx.settings,
        fake_slack,
        SLACK_BOT_TOKEN=None,
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
    )
    octx = dataclasses.replace(_session_ctx, settings=settings)
    team = "T0OAUTH1"
    try:
        with serve(build_app(octx)) as url:
            with httpx.Client(base_url=url, timeout=10) as http:
                page = http.get("/slack/install")
                assert page.status_code == 200 and "slack.com/oauth/v2/authorize" in page.text
                state = page.headers["set-cookie"].split("slack-app-oauth-state=")[1].split(";")[0]
                code = fake_slack.new_oauth_code(
                    team_id=team, team_name="OAuth Co", redirect_uri="http://pipebot.test/slack/oauth_redirect"
                )
                done = http.get(
                    "/slack/oauth_redirect",
                    params={"code": code, "state": state},
                    headers={"Cookie": f"slack-app-oauth-state={state}"},
                )
                assert done.status_code == 200, done.text
            with octx.engine.connect() as conn:
                stored = conn.execute(text("SELECT bot_token FROM slack_bots WHERE team_id = :t"), {"t": team}).scalar()
            token = client_for(octx, team).token
            assert stored.startswith("fernet:") and token.startswith(f"xoxb-{team}") and token not in stored
            # the new workspace's admin opens settings: users.info and views.open use its token
            signer = SlackRequests(team_id=team, user_id="U0INSTALLER")
            trigger = fake_slack.new_trigger_id(user_id="U0INSTALLER", team_id=team)
            r = httpx.post(
                url + "/slack/events",
                content=(
                    s := signer.slash_command(
                        "settings", trigger_id=trigger, response_url=fake_slack.new_response_url()
                    )
                )[0],
                headers=s[1],
            )
            assert r.status_code == 200
            opened = fake_slack.wait_for("views.open", lambda c: c.token == token)
            assert opened.ok
    finally:
        with octx.engine.begin() as conn:
            for table in ("slack_bots", "slack_installations"):
                conn.execute(text(f"DELETE FROM {table} WHERE team_id = :t"), {"t": team})
            conn.execute(text("DELETE FROM slack_oauth_states"))


@pytest.mark.parametrize("kind", ["tokens_revoked", "app_uninstalled"])
def test_a_command_after_the_bot_token_is_revoked_is_answered_and_the_token_forgotten(
    oauth: tuple[AppContext, str], fake_slack: FakeSlack, kind: str
) -> None:
    """Slack revokes only the bot token (the app asks for no user scopes): the token leaves
    both tables, and the next command from that workspace is answered in the HTTP response
    (no bot token can post there) with where to reinstall."""
    octx, url = oauth
    token = client_for(octx, GONE).token
    assert token is not None
    signer = SlackRequests(team_id=GONE, user_id="U0INSTALLER")
    event: dict[str, Any] = {"type": kind}
    if kind == "tokens_revoked":
        event["tokens"] = {"bot": [f"U0BOT{GONE}"]}
    assert post(url, signer.event(event)).status_code == 200
    fake_slack.revoke_token(token)
    deadline = time.monotonic() + 5
    while rows(octx, GONE)["slack_bots"] and time.monotonic() < deadline:
        time.sleep(0.05)
    with octx.engine.connect() as conn:
        sealed = conn.execute(
            text(
                "SELECT bot_token FROM slack_bots WHERE team_id = :t "
                "UNION ALL SELECT bot_token FROM slack_installations WHERE team_id = :t"
            ),
            {"t": GONE},
        ).all()
    assert [row for row in sealed if row[0]] == []  # the revoked token is kept nowhere
    hook = fake_slack.new_response_url()
    before = len(fake_slack.calls())
    r = post(url, signer.slash_command("help", response_url=hook))
    assert r.status_code == 200
    assert "not installed in this workspace any more" in r.text and "http://pipebot.test/slack/install" in r.text
    assert not any(c.token == token for c in fake_slack.calls()[before:])  # the revoked token was not tried
    assert rows(octx, STAYS) == {"slack_bots": 1, "slack_installations": 1}


def test_allowed_teams_refuse_other_installs_and_requests(
    _session_ctx: AppContext, ctx: AppContext, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(
        _session_ctx.settings,
        fake_slack,
        SLACK_BOT_TOKEN=None,
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
        PIPEBOT_ALLOWED_TEAMS="T0ALLOWED",
    )
    octx = dataclasses.replace(_session_ctx, settings=settings)
    refused, earlier = "T0REFUSED", "T0EARLIER"
    install_workspace(octx, fake_slack, earlier, "Installed before the list")
    try:
        with serve(build_app(octx)) as url:
            with httpx.Client(base_url=url, timeout=10) as http:
                page = http.get("/slack/install")
                state = page.headers["set-cookie"].split("slack-app-oauth-state=")[1].split(";")[0]
                code = fake_slack.new_oauth_code(
                    team_id=refused,
                    team_name="<b>Stranger</b> Co",
                    redirect_uri="http://pipebot.test/slack/oauth_redirect",
                )
                done = http.get(
                    "/slack/oauth_redirect",
                    params={"code": code, "state": state},
                    headers={"Cookie": f"slack-app-oauth-state={state}"},
                )
            assert done.status_code == 403 and INSTALL_REFUSED_TITLE in done.text
            assert "&lt;b&gt;Stranger&lt;/b&gt; Co" in done.text and "<b>Stranger" not in done.text
            assert rows(octx, refused) == {"slack_bots": 0, "slack_installations": 0}
            signer = SlackRequests(team_id=earlier, user_id="U0INSTALLER")
            r = httpx.post(
                url + "/slack/events",
                content=(s := signer.slash_command("agents", response_url=fake_slack.new_response_url()))[0],
                headers=s[1],
                timeout=10,
            )
            assert r.status_code == 200 and NOT_ALLOWED_TEXT in r.text
    finally:
        with octx.engine.begin() as conn:
            for table in ("slack_bots", "slack_installations"):
                conn.execute(text(f"DELETE FROM {table} WHERE team_id IN (:a, :b)"), {"a": refused, "b": earlier})
            conn.execute(text("DELETE FROM slack_oauth_states"))

"""Socket Mode: `pipebot serve` connects over a real websocket to the fake Slack
(tests/fakes/slack_socket_mode.py) and answers a slash command delivered as an envelope;
a token of the wrong kind and a token Slack refuses each give one line naming
SLACK_APP_TOKEN.
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import urllib.parse

import pytest

from bot.cli import main as cli
from core.context import AppContext
from core.settings import ConfigError
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_socket_mode import APP_TOKEN
from tests.support.http_server import free_port
from tests.support.slack_app import message_text, slack_settings
from tests.support.slack_signing import SlackRequests
from tests.support.waiting import wait_until

PIPEBOT = [sys.executable, "-m", "bot.cli.main"]


def test_dev_rejects_an_app_token_of_the_wrong_kind(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-a-bot-token-pasted-by-mistake")
    assert cli.main(["dev"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "SLACK_APP_TOKEN" in err and "xapp-" in err
    assert "Traceback" not in err


def test_socket_mode_start_failures_are_one_config_line(_session_ctx: AppContext, fake_slack: FakeSlack) -> None:
    no_bot = dataclasses.replace(
        _session_ctx,
        settings=slack_settings(
            _session_ctx.settings, fake_slack, SLACK_APP_TOKEN="xapp-1-A1-1-abc", SLACK_BOT_TOKEN=None
        ),
    )
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        cli._start_socket_mode(no_bot)
    refused = dataclasses.replace(
        _session_ctx,
        settings=slack_settings(_session_ctx.settings, fake_slack, SLACK_APP_TOKEN="xapp-1-A1-1-not-a-real-token"),
    )
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN") as info:
        cli._start_socket_mode(refused)
    assert "\n" not in str(info.value) and "invalid_auth" in str(info.value)
    assert fake_slack.calls("apps.connections.open")[-1].error == "invalid_auth"


def _serve(base_env: dict[str, str], fake: FakeSlack, app_token: str, cwd) -> subprocess.Popen[str]:  # type: ignore[no-untyped-def]
    env = dict(
        base_env,
        SLACK_API_URL=fake.url,
        SLACK_BOT_TOKEN=fake.token,
        SLACK_SIGNING_SECRET="unused-in-socket-mode",
        SLACK_APP_TOKEN=app_token,
    )
    return subprocess.Popen(
        PIPEBOT + ["serve", "--port", str(free_port())],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_answers_a_slash_command_delivered_over_socket_mode(ctx, base_env, fake_slack: FakeSlack, tmp_path):  # type: ignore[no-untyped-def]
    proc = _serve(base_env, fake_slack, APP_TOKEN, tmp_path)
    try:
        wait_until(lambda: fake_slack.socket_mode.connected or proc.poll() is not None, 30, "a Socket Mode connection")
        assert proc.poll() is None, proc.communicate()
        hook = fake_slack.new_response_url()
        body, _ = SlackRequests("unused").slash_command(
            "help", trigger_id=fake_slack.new_trigger_id(), response_url=hook
        )
        payload = dict(urllib.parse.parse_qsl(body.decode()))
        envelope_id = fake_slack.socket_mode.deliver("slash_commands", payload)
        ack = fake_slack.socket_mode.ack(envelope_id)
        assert ack["envelope_id"] == envelope_id
        answered = [ack.get("payload") or {}]
        wait_until(lambda: fake_slack.response_url_posts(hook) or ack.get("payload"), 10, "the help text")
        answered += fake_slack.response_url_posts(hook)
        texts = "\n".join(message_text(a) for a in answered if a)
        assert "/pipebot run" in texts and "agent new" in texts
    finally:
        proc.send_signal(signal.SIGINT)
        try:  # a bound, not a measure: a loaded machine (embedded services, 4 test processes) is slow
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()  # never leave it connected to the next test's fake
            proc.communicate()
            raise
    assert "connected to Slack over Socket Mode" in out
    assert fake_slack.calls("apps.connections.open")[-1].ok


def test_serve_with_an_app_token_slack_refuses_stops_with_one_line(base_env, fake_slack: FakeSlack, tmp_path):  # type: ignore[no-untyped-def]
    proc = _serve(base_env, fake_slack, "xapp-1-A0PIPEBOT-1-revoked-long-ago", tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "SLACK_APP_TOKEN" in lines[0] and "invalid_auth" in lines[0], err
    assert "Traceback" not in err and not fake_slack.socket_mode.connected

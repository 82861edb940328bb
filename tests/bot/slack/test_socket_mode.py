"""`pipebot dev` and Socket Mode: what can be checked without reaching Slack.

The websocket itself needs Slack; here the configuration errors are checked: a token of
the wrong kind and a token Slack refuses each give one line naming SLACK_APP_TOKEN.
"""

from __future__ import annotations

import dataclasses

import pytest

from bot.cli import main as cli
from core.context import AppContext
from core.settings import ConfigError
from tests.fakes.slack import FakeSlack
from tests.support.slack_app import slack_settings


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
    assert "\n" not in str(info.value)

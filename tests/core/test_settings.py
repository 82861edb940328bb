"""The tuning variables are Settings fields: a malformed value is one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import ConfigError, load_settings

TUNING = [
    "PIPEBOT_RUN_TIME_LIMIT_SECONDS",
    "PIPEBOT_PROVIDER_TIMEOUT_SECONDS",
    "PIPEBOT_HEARTBEAT_SECONDS",
    "PIPEBOT_STALE_AFTER_SECONDS",
    "PIPEBOT_REAP_SECONDS",
]


@pytest.mark.parametrize("var", TUNING)
@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_a_malformed_duration_gives_one_line_naming_it(var, value):
    with pytest.raises(ConfigError) as exc:
        load_settings(_env_file=None, **{var: value})
    message = str(exc.value)
    assert var in message and "\n" not in message and "fix it in the environment" in message


def test_an_empty_queue_name_gives_one_line_naming_it():
    with pytest.raises(ConfigError) as exc:
        load_settings(_env_file=None, PIPEBOT_QUEUE="")
    assert "PIPEBOT_QUEUE" in str(exc.value) and "\n" not in str(exc.value)


def test_tuning_defaults_and_values():
    default = load_settings(_env_file=None, PIPEBOT_QUEUE="pipebot")
    assert default.run_time_limit_s == 900 and default.PIPEBOT_PROVIDER_TIMEOUT_SECONDS == 120
    assert (default.PIPEBOT_HEARTBEAT_SECONDS, default.PIPEBOT_STALE_AFTER_SECONDS) == (5, 30)
    assert default.PIPEBOT_REAP_SECONDS == 10 and default.PIPEBOT_DATA_DIR == Path(".pipebot")
    tuned = load_settings(
        _env_file=None, PIPEBOT_RUN_TIME_LIMIT_SECONDS="20.5", PIPEBOT_QUEUE="q2", PIPEBOT_DATA_DIR="/srv/pipebot"
    )
    assert tuned.run_time_limit_s == 20 and tuned.PIPEBOT_QUEUE == "q2"
    assert tuned.PIPEBOT_DATA_DIR == Path("/srv/pipebot")


@pytest.mark.parametrize(
    ("public_url", "bot_token", "client", "oauth", "signin"),
    [
        ("https://pipebot.example", None, True, True, True),  # multi-workspace installs, and sign-in
        ("https://pipebot.example", "xoxb-1", True, False, True),  # one workspace, sign-in for it
        ("https://pipebot.example", "xoxb-1", False, False, False),  # no Slack app: no sign-in
        ("http://localhost:3000", "xoxb-1", True, False, False),  # not https: Slack refuses the redirect
        (None, None, True, True, False),
    ],
    ids=["oauth", "one-workspace", "no-client", "http", "no-public-url"],
)
def test_modes_of_the_slack_app_credentials(public_url, bot_token, client, oauth, signin):
    s = load_settings(
        _env_file=None,
        PIPEBOT_PUBLIC_URL=public_url,
        SLACK_BOT_TOKEN=bot_token,
        SLACK_CLIENT_ID="1.2" if client else None,
        SLACK_CLIENT_SECRET="s" if client else None,
    )
    assert (s.slack_oauth_enabled, s.slack_signin_enabled) == (oauth, signin)

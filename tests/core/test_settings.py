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


def test_fallback_key_teams_and_allowed_teams_are_team_ids() -> None:
    s = load_settings(_env_file=None, PIPEBOT_FALLBACK_KEY_TEAMS="T0ONE, T0TWO", PIPEBOT_ALLOWED_TEAMS="")
    assert s.fallback_key_teams == {"T0ONE", "T0TWO"} and s.team_allowed("T0ANY")
    for name in ("PIPEBOT_FALLBACK_KEY_TEAMS", "PIPEBOT_ALLOWED_TEAMS"):
        with pytest.raises(ConfigError, match=f"^{name} must be comma-separated Slack team ids"):
            load_settings(_env_file=None, **{name: "T0ONE,not a team"})


def test_fallback_keys_serve_listed_teams_only_in_oauth_mode() -> None:
    oauth = load_settings(
        _env_file=None, SLACK_CLIENT_ID="1.2", SLACK_CLIENT_SECRET="x", PIPEBOT_FALLBACK_KEY_TEAMS="T0MINE"
    )
    assert oauth.fallback_keys_serve("T0MINE") and not oauth.fallback_keys_serve("T0STRANGER")
    single = load_settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-1", SLACK_CLIENT_ID="1.2", SLACK_CLIENT_SECRET="x")
    assert single.fallback_keys_serve("T0ANY")


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5"])
def test_a_bad_retention_is_one_line_and_unset_keeps_for_ever(value):
    with pytest.raises(ConfigError) as exc:
        load_settings(_env_file=None, PIPEBOT_RETENTION_DAYS=value)
    message = str(exc.value)
    assert "PIPEBOT_RETENTION_DAYS must be a whole number of days" in message and "\n" not in message
    assert load_settings(_env_file=None).PIPEBOT_RETENTION_DAYS is None
    assert load_settings(_env_file=None, PIPEBOT_RETENTION_DAYS="").PIPEBOT_RETENTION_DAYS is None
    assert load_settings(_env_file=None, PIPEBOT_RETENTION_DAYS="30").PIPEBOT_RETENTION_DAYS == 30


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

"""`pipebot serve` / `dev` check SLACK_BOT_TOKEN with `auth.test` at start: a token Slack
refuses stops the process with one line naming the variable; Slack out of reach is a
warning and the server still comes up. Real CLI processes against the fake Slack."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.fakes.slack import FakeSlack
from tests.support.http_server import first_healthz, free_port

PIPEBOT = [sys.executable, "-m", "bot.cli.main"]


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("command", ["serve", "dev"])
@pytest.mark.parametrize("case", ["unknown", "revoked"])
def test_a_bot_token_slack_refuses_stops_with_one_line(base_env, fake_slack: FakeSlack, tmp_path, command, case):
    token = "xoxb-1-not-a-token-slack-knows"
    if case == "revoked":
        token = fake_slack.token
        fake_slack.revoke_token(token)
    env = dict(base_env, SLACK_API_URL=fake_slack.url, SLACK_BOT_TOKEN=token, SLACK_SIGNING_SECRET="s")
    before = len(fake_slack.calls("auth.test"))
    out = subprocess.run(
        PIPEBOT + [command, "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    lines = _lines(out.stderr)
    assert len(lines) == 1, out.stderr
    assert "SLACK_BOT_TOKEN" in lines[0] and ("invalid_auth" if case == "unknown" else "token_revoked") in lines[0]
    assert "OAuth & Permissions" in lines[0] and "Traceback" not in out.stderr
    assert [c.error for c in fake_slack.calls("auth.test")[before:]] == [
        "invalid_auth" if case == "unknown" else "token_revoked"
    ]


def test_slack_out_of_reach_is_a_warning_and_the_server_starts(base_env, tmp_path):
    port = free_port()
    env = dict(
        base_env,
        SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/",  # nothing listens there
        SLACK_BOT_TOKEN="xoxb-1-a-token",
        SLACK_SIGNING_SECRET="s",
    )
    proc = subprocess.Popen(
        PIPEBOT + ["serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        r = first_healthz(proc, port)
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=15)
    assert "could not reach Slack to check SLACK_BOT_TOKEN" in output and "WARNING" in output

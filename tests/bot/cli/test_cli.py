"""The `pipebot` command as a user and an operator meet it: clear one-line errors, keygen,
serve + /healthz, and when things are off: no worker, Ctrl-C, bad input, services down,
migrations run twice, and a plain `rq worker` doing the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal

import pytest
from cryptography.fernet import Fernet

from storage.db import transaction
from storage.repos import artifacts as artifact_repo
from storage.repos import runs as run_repo
from storage.repos import workspaces as workspace_repo
from tests.support.finished_runs import finished_run
from tests.support.http_server import first_healthz, free_port
from tests.support.runs import HAIKU, make_agent, make_pipeline, with_keys
from tests.support.scratch_db import empty_database

PIPEBOT = [sys.executable, "-m", "bot.cli.main"]


def _run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(PIPEBOT + args, env=env, capture_output=True, text=True, timeout=timeout)


def test_keygen_prints_a_fernet_key(base_env):
    out = _run(["keygen"], base_env)
    assert out.returncode == 0
    Fernet(out.stdout.strip().encode())  # raises if it is not a key


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("DATABASE_URL", "postgres://nowhere.invalid:1/x", "DATABASE_URL"),
        ("DATABASE_URL", "mysql://root@localhost/x", "DATABASE_URL"),
        ("REDIS_URL", "http://localhost:6379", "REDIS_URL"),
        ("PIPEBOT_SECRET_KEY", "not-a-key", "PIPEBOT_SECRET_KEY"),
        ("PORT", "eighty", "PORT"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "SLACK_BOT_TOKEN"),
    ],
)
def test_bad_configuration_gives_one_clear_line(base_env, var, value, needle):
    env = dict(base_env, **{var: value})
    out = _run(["worker", "--burst"], env)
    assert out.returncode != 0
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    assert needle in lines[0] and "Traceback" not in out.stderr


def test_serve_answers_healthz_with_database_and_redis_status(base_env):
    port = free_port()
    proc = subprocess.Popen(
        PIPEBOT + ["serve", "--port", str(port)],
        env=base_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        r = first_healthz(proc, port)
        assert r.status_code == 200
        body = r.json()
        limits = body.pop("slack_rate_limits")  # shared with the other tests of this Redis database
        assert body == {"status": "ok", "database": {"status": "ok"}, "redis": {"status": "ok"}}
        assert isinstance(limits["429s_last_minute"], dict) and limits["longest_wait_s"] >= 0
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
    assert proc.returncode in (0, 130, -signal.SIGINT)


# ---- when things are off ---------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_db_upgrade_twice_needs_neither_redis_nor_the_secret_key(base_env, database_url):
    with empty_database(database_url) as engine:
        url = engine.url.render_as_string(hide_password=False)
        env = {k: v for k, v in base_env.items() if k != "PIPEBOT_SECRET_KEY"}
        env.update(DATABASE_URL=url, REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens there
        first = _run(["db", "upgrade"], env)
        assert first.returncode == 0, first.stderr
        assert "upgraded from base to" in first.stdout
        second = _run(["db", "upgrade"], env)
        assert second.returncode == 0, second.stderr
        assert "already at" in second.stdout and "nothing to do" in second.stdout
        assert "Traceback" not in second.stderr and not _lines(second.stderr), second.stderr


_NO_DB = ("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/x")
_NO_REDIS = ("REDIS_URL", "redis://127.0.0.1:1/0")
_RUN = ["run", "P", "--team", "T1", "--input", "x"]


@pytest.mark.parametrize(
    ("command", "var", "value"),
    [
        (["db", "upgrade"], *_NO_DB),
        (_RUN, *_NO_DB),
        (_RUN, *_NO_REDIS),
        (["worker", "--burst"], *_NO_REDIS),
    ],
)
def test_unreachable_services_give_one_line_naming_the_variable(base_env, command, var, value):
    out = _run(command, dict(base_env, **{var: value}))
    assert out.returncode == 2
    lines = _lines(out.stderr)
    assert len(lines) == 1 and var in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_run_bad_input_and_wrong_team_say_what_to_fix(ctx, worker_env):
    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "Mine", [make_agent(ctx, "T1", "One", HAIKU)])
    empty = _run(["run", "Mine", "--team", "T1", "--input", "   "], worker_env)
    assert empty.returncode == 2 and "input" in empty.stderr.lower() and "Traceback" not in empty.stderr
    stdin_empty = subprocess.run(
        PIPEBOT + ["run", "Mine", "--team", "T1", "--input", "-"],
        env=worker_env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stdin_empty.returncode == 2 and "input" in stdin_empty.stderr.lower()
    other = _run(["run", "Mine", "--team", "T2", "--input", "hello"], worker_env)
    assert other.returncode == 2 and "No pipeline named “Mine”" in other.stderr
    missing = _run(["run", "--team", "T1", "--input", "hello"], worker_env)
    assert missing.returncode == 2 and "PIPELINE" in missing.stderr
    with transaction(ctx.sessions) as s:  # none of these left a run behind
        assert artifact_repo.latest_artifacts(s, "T1") == []


def test_run_over_the_daily_limit_is_refused_in_one_line(ctx, worker_env):
    with_keys(ctx, "T1", "anthropic")
    pipeline = make_pipeline(ctx, "T1", "Mine", [make_agent(ctx, "T1", "One", HAIKU)])
    finished_run(ctx, "T1", pipeline, "spent", steps=[("One", "spent", "2.00", 10)])
    with transaction(ctx.sessions) as s:
        workspace_repo.set_limits(s, "T1", workspace_repo.Limits(daily_limit_usd=Decimal("2")))
    out = _run(["run", "Mine", "--team", "T1", "--input", "hello"], worker_env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "daily limit of $2.00 ($2.00 spent today). The limit resets at 00:00 UTC, in" in out.stderr
    with transaction(ctx.sessions) as s:
        assert len(artifact_repo.latest_artifacts(s, "T1")) == 1  # only the earlier run


def test_run_without_a_worker_says_so_and_stops_waiting(ctx, worker_env):
    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "Mine", [make_agent(ctx, "T1", "One", HAIKU)])
    out = _run(["run", "Mine", "--team", "T1", "--input", "hello", "--queue-timeout", "2"], worker_env, timeout=60)
    assert out.returncode == 3, out.stderr
    assert "no worker is running" in out.stderr and "pipebot worker" in out.stderr
    assert "stays queued" in out.stderr and "Traceback" not in out.stderr


def test_ctrl_c_stops_following_and_says_the_run_goes_on(ctx, worker_env):
    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "Mine", [make_agent(ctx, "T1", "One", HAIKU)])
    proc = subprocess.Popen(
        PIPEBOT + ["run", "Mine", "--team", "T1", "--input", "hello"],
        env=worker_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        assert "queued" in line, line
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "goes on in the worker" in err and "Traceback" not in err


def test_plain_rq_worker_runs_a_pipeline_with_env_configured_context(ctx, worker_env, fake_anthropic):
    """A plain `rq worker` on the same queue works; the job builds its context from the env."""
    from core.runs.intake import start_run

    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "Mine", [make_agent(ctx, "T1", "One", HAIKU)])
    fake_anthropic.reply("done by rq")
    run = start_run(ctx, "T1", "Mine", "hello")
    rq = os.path.join(os.path.dirname(sys.executable), "rq")
    out = subprocess.run(
        [rq, "worker", worker_env["PIPEBOT_QUEUE"], "--burst", "--url", worker_env["REDIS_URL"]],
        env=worker_env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=os.getcwd(),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    with transaction(ctx.sessions) as s:
        done = run_repo.get_run(s, "T1", run.id)
        assert done.status == "succeeded", (done.error_kind, done.error_message, out.stderr[-2000:])
        assert done.output == "done by rq"
        assert artifact_repo.get_artifact_for_run(s, "T1", run.id) is not None

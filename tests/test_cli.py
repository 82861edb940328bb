"""The `pipebot` command as a user meets it: clear one-line errors, keygen, serve + /healthz."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.http_server import free_port

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
    proc = subprocess.Popen(PIPEBOT + ["serve", "--port", str(port)], env=base_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert r.status_code == 200
        body = r.json()
        assert body == {"status": "ok", "database": {"status": "ok"}, "redis": {"status": "ok"}}
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
    assert proc.returncode in (0, 130, -signal.SIGINT)

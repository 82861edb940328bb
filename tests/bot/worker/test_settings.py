"""The worker's tunables and the health answer that says which dependency is down."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
import redis

from bot.web.server import build_app
from core.settings import ConfigError, load_settings
from tests.support.http_server import free_port, serve


def test_concurrency_settings_default_and_validate():
    s = load_settings(_env_file=None)
    assert s.PIPEBOT_WORKER_CONCURRENCY == 32 and s.PIPEBOT_WORKSPACE_CONCURRENCY == 8
    assert load_settings(_env_file=None, PIPEBOT_WORKER_CONCURRENCY="4").PIPEBOT_WORKER_CONCURRENCY == 4
    for name in ("PIPEBOT_WORKER_CONCURRENCY", "PIPEBOT_WORKSPACE_CONCURRENCY"):
        for bad in ("0", "-3", "many"):
            with pytest.raises(ConfigError) as caught:
                load_settings(_env_file=None, **{name: bad})
            assert name in str(caught.value)


def test_healthz_names_the_dependency_that_is_down(ctx):
    away = dataclasses.replace(ctx, redis=redis.Redis(port=free_port(), socket_connect_timeout=1))
    with serve(build_app(away)) as url:
        r = httpx.get(f"{url}/healthz", timeout=10)
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "error"
    assert body["database"]["status"] == "ok" and body["redis"]["status"] == "error"

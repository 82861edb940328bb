"""Fixtures of the MCP tests: a context whose deployment allows the loopback test server, and
the real MCP server (tests/support/mcp_server.py) running for one test."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from core.context import AppContext
from core.settings import load_settings
from tests.support.mcp_server import RunningServer, serve_mcp


def with_settings(ctx: AppContext, **changes: object) -> AppContext:
    """``ctx`` with some settings changed (the same database, Redis and keys)."""
    values = {**ctx.settings.model_dump(), **changes}
    return dataclasses.replace(ctx, settings=load_settings(_env_file=None, **values))


@pytest.fixture
def mcp_ctx(ctx: AppContext) -> AppContext:
    """The test context, with 127.0.0.1 (where the test server listens) an allowed host."""
    return with_settings(ctx, PIPEBOT_MCP_ALLOWED_HOSTS="127.0.0.1")


@pytest.fixture
def mcp_server() -> Iterator[RunningServer]:
    with serve_mcp() as server:
        yield server

"""Migration 0011 (mcp_servers, run_steps.tool_calls) up, down and up again on a scratch
database, and the MCP settings read from the environment."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from core.settings import ConfigError, load_settings
from storage.migrate import downgrade, upgrade
from tests.support.scratch_db import empty_database


def test_migration_0011_up_down_up(services, database_url):
    with empty_database(database_url) as engine:
        upgrade(engine)
        assert "mcp_servers" in inspect(engine).get_table_names()
        assert "tool_calls" in {c["name"] for c in inspect(engine).get_columns("run_steps")}
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO workspaces (team_id) VALUES ('T1')"))
            conn.execute(text("INSERT INTO mcp_servers (team_id, name, url) VALUES ('T1', 'Tickets', 'https://a/mcp')"))
            ask = conn.execute(text("SELECT ask FROM mcp_servers")).scalar()
        assert ask == "never"
        with pytest.raises(Exception, match="uq_mcp_servers_team_lower_name"), engine.begin() as conn:
            conn.execute(text("INSERT INTO mcp_servers (team_id, name, url) VALUES ('T1', 'TICKETS', 'https://b/mcp')"))
        with pytest.raises(Exception, match="ck_mcp_servers_ask"), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO mcp_servers (team_id, name, url, ask) VALUES ('T1', 'Wiki', 'https://c/mcp', 'often')"
                )
            )
        downgrade(engine, "0010")
        assert "mcp_servers" not in inspect(engine).get_table_names()
        assert "tool_calls" not in {c["name"] for c in inspect(engine).get_columns("run_steps")}
        upgrade(engine)
        assert "mcp_servers" in inspect(engine).get_table_names()


def test_mcp_settings_defaults_and_allowed_hosts():
    settings = load_settings(_env_file=None)
    assert settings.PIPEBOT_MCP_TIMEOUT_SECONDS == 30
    assert settings.PIPEBOT_MCP_RESULT_MAX_CHARS == 20_000
    assert settings.PIPEBOT_MCP_TOOLS_CACHE_MINUTES == 5
    assert settings.mcp_allowed_hosts == frozenset()
    allowed = load_settings(_env_file=None, PIPEBOT_MCP_ALLOWED_HOSTS=" Tools.Internal. , 10.0.0.5,[fd00::1],::1")
    assert allowed.mcp_allowed_hosts == {"tools.internal", "10.0.0.5", "fd00::1", "::1"}


@pytest.mark.parametrize("value", ["https://tools.internal", "tools.internal:8080", "tools.internal/mcp", "a b"])
def test_allowed_hosts_are_host_names_alone(value):
    with pytest.raises(ConfigError, match="PIPEBOT_MCP_ALLOWED_HOSTS must be comma-separated host names"):
        load_settings(_env_file=None, PIPEBOT_MCP_ALLOWED_HOSTS=value)

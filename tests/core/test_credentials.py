"""core/credentials against real PostgreSQL: the deployment's fallback keys serve only the
teams in PIPEBOT_FALLBACK_KEY_TEAMS in OAuth mode, and the settings modal's words say so."""

from __future__ import annotations

import dataclasses

from core import credentials
from core.context import AppContext
from core.settings import load_settings
from storage.db import transaction
from tests.support.runs import with_keys


def _ctx(ctx: AppContext, **env: str) -> AppContext:
    base = dict(_env_file=None, ANTHROPIC_API_KEY="sk-ant-deployment-key")
    return dataclasses.replace(ctx, settings=load_settings(**(base | env)))


def test_oauth_mode_lends_the_deployment_key_only_to_listed_teams(ctx: AppContext) -> None:
    octx = _ctx(ctx, SLACK_CLIENT_ID="1.2", SLACK_CLIENT_SECRET="x", PIPEBOT_FALLBACK_KEY_TEAMS="T0MINE")
    with_keys(ctx, "T0OWN", "anthropic")
    with transaction(ctx.sessions) as s:
        assert credentials.run_keys(s, octx, "T0MINE")["anthropic"] == "sk-ant-deployment-key"
        assert credentials.run_keys(s, octx, "T0STRANGER")["anthropic"] is None
        assert credentials.run_keys(s, octx, "T0OWN")["anthropic"] not in (None, "sk-ant-deployment-key")
        assert credentials.effective_key(s, octx, "T0STRANGER", "anthropic") is None
        assert credentials.available_providers(s, octx, "T0STRANGER") == []
        assert credentials.describe(s, octx, "T0MINE")["anthropic"] == "using the deployment-wide key"
        assert credentials.describe(s, octx, "T0STRANGER")["anthropic"] == (
            "not configured (the deployment-wide key does not serve this workspace)"
        )
        assert credentials.describe(s, octx, "T0STRANGER")["openai"] == "not configured"


def test_with_a_bot_token_the_deployment_key_serves_its_workspace(ctx: AppContext) -> None:
    single = _ctx(ctx, SLACK_BOT_TOKEN="xoxb-one", SLACK_CLIENT_ID="1.2", SLACK_CLIENT_SECRET="x")
    with transaction(ctx.sessions) as s:
        assert credentials.run_keys(s, single, "T0ANY")["anthropic"] == "sk-ant-deployment-key"
        assert credentials.describe(s, single, "T0ANY")["anthropic"] == "using the deployment-wide key"

"""The App Home tab's view, built from what the workspace has and what ran lately in the
conversations the viewer may see (DESIGN §10), and its publication (``views.publish``). Not a
listener: Home's own listener (bot/slack/listeners/home.py) and every surface that changes
what Home shows (Cancel) call it.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.models.views import View

from bot.slack.blocks import home as msgs
from bot.slack.seeing import MembershipUnknown, sight_of
from core import pipelines as core_pipelines
from core.context import AppContext
from core.schedules import store as schedule_store
from core.visibility import Sight
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import artifacts as artifact_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from storage.repos import schedules as schedule_repo
from storage.states import FINISHED

log = logging.getLogger(__name__)


def build_home(ctx: AppContext, sight: Sight) -> View:
    """The Home tab of ``sight``'s person (≤ 100 blocks, whatever the workspace holds): its
    recent runs are those of conversations they may see."""
    team_id = sight.team_id
    with transaction(ctx.sessions) as s:
        agents = list(agent_repo.list_agents(s, team_id))
        pipelines = list(pipeline_repo.list_pipelines(s, team_id))
        orphans = {p.id: {o.position for o in core_pipelines.orphans(p)} for p in pipelines}
        runs = list(run_repo.latest_runs(s, team_id, limit=msgs.HOME_RUNS_MAX, scope=sight.scope))
        artifacts, versions, deleted = {}, {}, set()
        for run in runs:
            if run.status in FINISHED:
                art = artifact_repo.get_artifact_for_run(s, team_id, run.id)
                if art is not None:
                    artifacts[run.id], versions[run.id] = art.id, art.latest_version
                    if art.deleted_at is not None:
                        deleted.add(run.id)
        schedules = [
            v
            for v in map(schedule_store.view_of, schedule_repo.of_team(s, team_id))
            if sight.sees(team_id, v.channel_id)  # DESIGN §10: no more than they can see
        ]
        return msgs.home_view(agents, pipelines, orphans, runs, artifacts, versions, deleted, schedules)


def publish_home(ctx: AppContext, client: WebClient, team_id: str, user_id: str) -> None:
    """Publish ``user_id``'s Home. When Slack will not say what they can see, Home shows no
    runs (never everyone's)."""
    try:
        sight = sight_of(ctx, client, team_id, user_id)
    except MembershipUnknown as exc:
        log.info("Home of %s without recent runs: %s", user_id, exc)
        sight = Sight(team_id, user_id, frozenset(), full_member=False)
    client.views_publish(user_id=user_id, view=build_home(ctx, sight).to_dict())

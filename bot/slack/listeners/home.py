"""The App Home tab: what this workspace has (pipelines, agents) and what ran lately.

Published with ``views.publish`` whenever someone opens the tab (``app_home_opened``),
so it is always current without any bookkeeping. Buttons:

* ``home_run_pipeline`` (value: pipeline id) → the run modal with that pipeline picked,
  an input field and "Post results in" (empty: a DM from pipebot);
* ``home_edit_pipeline`` (value: pipeline id) → the pipeline builder
  (bot/slack/listeners/pipelines.py, ``open_pipeline_modal``);
* ``home_new_agent`` / ``home_new_pipeline`` → the same modals as `/pipebot agent new` /
  `pipeline new`;
* ``artifact_view`` (value: artifact id) → the artifact modal (bot/slack/listeners/artifacts.py);
* ``run_cancel`` (value: run id) → cancel the run (bot/slack/listeners/cancel.py). The run's
  parent message carries the same button, so this one listener serves both; it is here
  because a click on Home republishes the tab.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.models.views import View

from bot.slack.blocks import home as msgs
from bot.slack.blocks import runs as run_msgs
from bot.slack.listeners.agents import open_agent_modal
from bot.slack.listeners.cancel import cancel_clicked
from bot.slack.listeners.pipelines import open_pipeline_modal
from bot.slack.listeners.support import after_ack, told
from bot.slack.modal_state import RunModalState
from bot.slack.payloads import team_of, user_of
from bot.slack.run_modal import open_run_modal
from core import pipelines as core_pipelines
from core.context import AppContext
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import artifacts as artifact_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo

log = logging.getLogger(__name__)


def build_home(ctx: AppContext, team_id: str) -> View:
    """The Home tab for workspace ``team_id`` (≤ 100 blocks, whatever the workspace holds)."""
    with transaction(ctx.sessions) as s:
        agents = list(agent_repo.list_agents(s, team_id))
        pipelines = list(pipeline_repo.list_pipelines(s, team_id))
        orphans = {p.id: {o.position for o in core_pipelines.orphans(p)} for p in pipelines}
        runs = list(run_repo.latest_runs(s, team_id, limit=msgs.HOME_RUNS_MAX))
        artifacts, versions = {}, {}
        for run in runs:
            if run.status in ("succeeded", "failed"):
                art = artifact_repo.get_artifact_for_run(s, team_id, run.id)
                if art is not None:
                    artifacts[run.id], versions[run.id] = art.id, art.latest_version
        return msgs.home_view(agents, pipelines, orphans, runs, artifacts, versions)


def publish_home(ctx: AppContext, client: WebClient, team_id: str, user_id: str) -> None:
    client.views_publish(user_id=user_id, view=build_home(ctx, team_id).to_dict())


def _pipeline_id(body: Mapping[str, Any]) -> int | None:
    try:
        return int(((body.get("actions") or [{}])[0]).get("value") or "")
    except ValueError:
        return None


def home_opened(ctx: AppContext, event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
    """app_home_opened. With process_before_response=True Slack gets the event's ack only
    when this returns: the database reads and views.publish run after it."""
    if event.get("tab", "home") == "home":
        after_ack(publish_home, ctx, client, team_of(body), event["user"])


def run_pipeline(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """*Run…*: the run modal with that pipeline picked and a channel picker."""
    ack()
    after_ack(_open_run_modal, ctx, body, client)


def _open_run_modal(ctx: AppContext, body: dict[str, Any], client: WebClient) -> None:
    with told(client, body, "opening the run modal from Home"):
        open_run_modal(
            ctx,
            client,
            body.get("trigger_id") or "",
            team_of(body),
            state=RunModalState(),
            selected_id=_pipeline_id(body),
            pick_channel=True,
        )


def open_builder(kind: str, ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """*New agent*, *New pipeline*, *Edit* (a pipeline): the form, after the ack."""
    ack()
    after_ack(_open_builder, kind, ctx, body, client)


def _open_builder(kind: str, ctx: AppContext, body: dict[str, Any], client: WebClient) -> None:
    trigger_id, team_id = body.get("trigger_id") or "", team_of(body)
    with told(client, body, f"opening the {kind} form from Home"):
        if kind == "agent":
            open_agent_modal(ctx, client, trigger_id, team_id)
        else:
            pipeline_id = _pipeline_id(body) if kind == "edit pipeline" else None
            open_pipeline_modal(ctx, client, trigger_id, team_id, pipeline_id=pipeline_id)


def cancel(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """*Cancel* on a run's message or on Home (which then shows the run's new state)."""
    ack()
    after_ack(_cancel, ctx, body, client)


def _cancel(ctx: AppContext, body: dict[str, Any], client: WebClient) -> None:
    cancel_clicked(ctx, client, body)
    if (body.get("container") or {}).get("type") == "view":  # on Home: show the run's new state
        publish_home(ctx, client, team_of(body), user_of(body))


def register(app: App, ctx: AppContext) -> None:
    """app_home_opened and the Home tab's buttons (and Cancel, wherever it is)."""
    app.event("app_home_opened")(partial(home_opened, ctx))
    app.action(run_msgs.RUN_CANCEL)(partial(cancel, ctx))
    app.action(msgs.HOME_RUN_PIPELINE)(partial(run_pipeline, ctx))
    app.action(msgs.HOME_EDIT_PIPELINE)(partial(open_builder, "edit pipeline", ctx))
    app.action(msgs.HOME_NEW_AGENT)(partial(open_builder, "agent", ctx))
    app.action(msgs.HOME_NEW_PIPELINE)(partial(open_builder, "pipeline", ctx))

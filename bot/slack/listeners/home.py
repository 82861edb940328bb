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
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from bot.slack.blocks import home as msgs
from bot.slack.blocks import runs as run_msgs
from bot.slack.blocks.common import info_modal
from bot.slack.listeners.agents import open_agent_modal
from bot.slack.listeners.cancel import cancel_clicked
from bot.slack.listeners.pipelines import open_pipeline_modal
from bot.slack.listeners.support import Reply, after_ack
from bot.slack.modal_state import RunModalState
from bot.slack.payloads import team_of
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


def _explain(client: WebClient, body: Mapping[str, Any], text: str) -> None:
    """Tell the user in a small modal (Home has no response_url); when the trigger has
    expired (that may be the very thing to tell), in a DM from the app instead."""
    try:
        client.views_open(trigger_id=body.get("trigger_id") or "", view=info_modal("pipebot", text).to_dict())
        return
    except SlackApiError as exc:
        log.info("could not explain on Home (%s); sending a DM", exc.response.get("error"))
    user_id = (body.get("user") or {}).get("id")
    if user_id:
        try:
            client.chat_postMessage(channel=user_id, text=text)
        except SlackApiError as exc:
            log.warning("could not tell %s either: %s", user_id, exc.response.get("error"))


def register(app: App, ctx: AppContext) -> None:
    """app_home_opened and the Home tab's buttons."""

    def home_opened(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        # With process_before_response=True Slack gets the event's ack only when this
        # returns: the database reads and views.publish run after it.
        if event.get("tab", "home") != "home":
            return
        after_ack(publish_home, ctx, client, team_of(body), event["user"])

    app.event("app_home_opened")(home_opened)

    def run_pipeline(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        after_ack(_run_pipeline, body, client)

    def _run_pipeline(body: dict[str, Any], client: WebClient) -> None:
        try:
            open_run_modal(
                ctx,
                client,
                body.get("trigger_id") or "",
                team_of(body),
                state=RunModalState(),
                selected_id=_pipeline_id(body),
                pick_channel=True,
            )
        except Reply as exc:
            _explain(client, body, str(exc))

    def edit_pipeline(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        after_ack(_open_builder, "pipeline", body, client, _pipeline_id(body))

    def _open_builder(kind: str, body: dict[str, Any], client: WebClient, pipeline_id: int | None = None) -> None:
        """After the ack: the agent or pipeline modal (new, or an existing pipeline)."""
        trigger_id, team_id = body.get("trigger_id") or "", team_of(body)
        try:
            if kind == "agent":
                open_agent_modal(ctx, client, trigger_id, team_id)
            else:
                open_pipeline_modal(ctx, client, trigger_id, team_id, pipeline_id=pipeline_id)
        except Reply as exc:
            _explain(client, body, str(exc))

    def new_item(kind: str) -> Callable[..., None]:
        def handler(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
            ack()
            after_ack(_open_builder, kind, body, client)

        return handler

    def cancel(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        after_ack(_cancel, body, client)

    def _cancel(body: dict[str, Any], client: WebClient) -> None:
        on_home = (body.get("container") or {}).get("type") == "view"
        if not on_home:
            cancel_clicked(ctx, client, body)
            return
        cancel_clicked(ctx, client, body, tell=lambda text: _explain(client, body, text))
        user_id = (body.get("user") or {}).get("id")
        if user_id:
            publish_home(ctx, client, team_of(body), user_id)

    app.action(run_msgs.RUN_CANCEL)(cancel)
    app.action(msgs.HOME_RUN_PIPELINE)(run_pipeline)
    app.action(msgs.HOME_EDIT_PIPELINE)(edit_pipeline)
    app.action(msgs.HOME_NEW_AGENT)(new_item("agent"))
    app.action(msgs.HOME_NEW_PIPELINE)(new_item("pipeline"))

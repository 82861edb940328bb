"""The App Home tab: what this workspace has (pipelines, agents) and what ran lately.

Published with ``views.publish`` whenever someone opens the tab (``app_home_opened``),
so it is always current without any bookkeeping. Buttons:

* ``home_run_pipeline`` (value: pipeline id) → the run modal with that pipeline picked,
  an input field and "Post results in" (empty: a DM from pipebot);
* ``home_edit_pipeline`` (value: pipeline id) → the pipeline builder, bound in
  bot/slack/listeners/pipelines.py;
* ``home_new_agent`` / ``home_new_pipeline`` → the same modals as `/pipebot agent new` /
  `pipeline new`, bound in agents.py and pipelines.py;
* ``artifact_view`` (value: artifact id) → the artifact modal (bot/slack/listeners/artifacts.py);
* ``run_cancel`` (value: run id) → cancel the run (bot/slack/listeners/cancel.py, which
  republishes the tab after a click on Home through bot/slack/home_tab.py).

The view itself is built in bot/slack/home_tab.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack.blocks import home as msgs
from bot.slack.home_tab import publish_home
from bot.slack.listeners.support import after_ack, later
from bot.slack.modal_state import RunModalState
from bot.slack.payloads import team_of, user_of
from bot.slack.run_modal import open_run_modal
from bot.slack.seeing import warm
from core.context import AppContext

log = logging.getLogger(__name__)


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
    later(client, body, "opening the run modal from Home", _open_run_modal, ctx, body, client)


def _open_run_modal(ctx: AppContext, body: dict[str, Any], client: WebClient) -> None:
    open_run_modal(
        ctx,
        client,
        body.get("trigger_id") or "",
        team_of(body),
        state=RunModalState(),
        selected_id=_pipeline_id(body),
        pick_channel=True,
    )
    warm(ctx, client, team_of(body), user_of(body))  # the submission checks the channel picked


def register(app: App, ctx: AppContext) -> None:
    """app_home_opened and Home's *Run…* button (the other buttons belong to the surfaces
    they open: *New agent* to agents, *New pipeline*/*Edit* to pipelines, *Cancel* to cancel)."""
    app.event("app_home_opened")(partial(home_opened, ctx))
    app.action(msgs.HOME_RUN_PIPELINE)(partial(run_pipeline, ctx))

"""`/pipebot artifacts [PIPELINE] [search WORDS…]`, its paging, and the artifact "View" modal.

Lists are ephemeral (only the person who asked sees them) and read list columns only,
never the JSONB content, so they stay fast however long the outputs are. Search uses
PostgreSQL full-text search over the output (storage.repos.search_artifacts). Every
query takes the workspace from the signed payload, never from a button's value, so a
crafted value can at most name another row of the caller's own workspace.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from functools import partial
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.blocks import artifacts as msgs
from bot.slack.blocks.common import info_modal, one_line
from bot.slack.commands_text import ARTIFACTS, parse_command
from bot.slack.listeners.artifact_delete import may_delete_here
from bot.slack.listeners.support import TRIGGER_ERRORS, TRIGGER_EXPIRED, ack_only, tell, told
from bot.slack.name_match import not_found_hint
from bot.slack.payloads import Actor, channel_of, team_of, user_of
from bot.slack.seeing import MembershipUnknown, sees, sight_of
from bot.slack.text import escape_mrkdwn
from core.context import AppContext
from core.links import artifact_permalink
from core.messages import COMMAND
from core.visibility import Sight
from storage.db import transaction
from storage.repos import artifacts as artifact_repo
from storage.repos import feedback
from storage.repos import pipelines as pipeline_repo

log = logging.getLogger(__name__)

PAGE_SIZE = 10
#: The list of someone who can see no conversation's runs at all (a guest in no channel the
#: bot is in, someone of another organisation in no shared channel).
NOTHING_VISIBLE = "There is nothing here you can see: pipebot lists only results of conversations you are in."
ARTIFACT_MISSING = "That artifact doesn't exist in this workspace any more."


def _sees_nothing(sight: Sight) -> bool:
    return not sight.channels and not sight.full_member


def list_page(
    ctx: AppContext, sight: Sight, *, pipeline_id: int | None, offset: int = 0
) -> tuple[str, list[dict[str, Any]]]:
    """One page of the latest artifacts ``sight`` may see (text, blocks), with Previous/Next
    buttons as needed."""
    if _sees_nothing(sight):
        return NOTHING_VISIBLE, []
    team_id = sight.team_id
    offset = max(0, offset)
    with transaction(ctx.sessions) as s:
        pipeline_name = None
        if pipeline_id is not None:
            pipeline = pipeline_repo.get_pipeline(s, team_id, pipeline_id)
            if pipeline is None:
                return "That pipeline no longer exists.", []
            pipeline_name = pipeline.name
        rows = list(
            artifact_repo.latest_artifacts(
                s, team_id, scope=sight.scope, pipeline_id=pipeline_id, limit=PAGE_SIZE + 1, offset=offset
            )
        )
        votes = feedback.counts_for_artifacts(s, team_id, [row.id for row in rows[:PAGE_SIZE]])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    scope = f" for *{escape_mrkdwn(pipeline_name)}*" if pipeline_name else ""
    title = f"*Latest artifacts*{scope} ({offset + 1}–{offset + len(rows)})"
    if not rows:
        empty = (
            f"No artifacts{scope} that you can see yet. Run a pipeline with `{COMMAND} run NAME your input…`."
            if offset == 0
            else "No more artifacts."
        )
    else:
        empty = ""

    def page(at: int) -> str:
        return json.dumps({"p": pipeline_id, "o": at}, separators=(",", ":"))

    text, blocks = msgs.artifact_list_message(
        rows,
        lambda row: artifact_permalink(ctx, team_id, str(row.id)),
        title=title,
        next_value=page(offset + PAGE_SIZE) if more else None,
        prev_value=page(max(0, offset - PAGE_SIZE)) if offset > 0 else None,
        empty=empty,
        votes=votes,
    )
    return text, [b.to_dict() for b in blocks]


def search_page(
    ctx: AppContext, sight: Sight, words: str, *, pipeline_id: int | None, pipeline_name: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """The 10 most recent artifacts ``sight`` may see whose output matches ``words``
    (web-search syntax)."""
    if _sees_nothing(sight):
        return NOTHING_VISIBLE, []
    team_id = sight.team_id
    scope = f" of *{escape_mrkdwn(pipeline_name)}*" if pipeline_name else ""
    quoted = escape_mrkdwn(one_line(words, 100))
    try:
        with transaction(ctx.sessions) as s:
            rows = list(
                artifact_repo.search_artifacts(
                    s, team_id, words, scope=sight.scope, pipeline_id=pipeline_id, limit=PAGE_SIZE
                )
            )
            votes = feedback.counts_for_artifacts(s, team_id, [row.id for row in rows])
    except artifact_repo.SearchTooBroad:
        return (
            f"Searching{scope} for “{quoted}” takes too long: those words are common but (almost) never "
            f"appear in that order. Add a rarer word, or drop the quotes."
        ), []
    title = f"*Artifacts{scope} matching “{quoted}”*"
    if len(rows) == PAGE_SIZE:
        title += f" (the {PAGE_SIZE} most recent)"
    text, blocks = msgs.artifact_list_message(
        rows,
        lambda row: artifact_permalink(ctx, team_id, str(row.id)),
        title=title,
        empty=f"No artifacts{scope} that you can see match “{quoted}”.",
        votes=votes,
    )
    return text, [b.to_dict() for b in blocks]


def handle_artifacts(ctx: AppContext, client: WebClient, body: dict[str, Any], args_text: str) -> None:
    """`/pipebot artifacts [PIPELINE] [search WORDS…]`, after the ack; answers ephemerally."""
    team_id = team_of(body)

    asker = Actor(team_id, user_of(body), channel_id=channel_of(body), response_url=body.get("response_url"))

    def say(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        tell(client, asker, text, blocks)

    cmd = parse_command(f"{ARTIFACTS} {args_text}".strip())
    if cmd.error:
        say(cmd.error)
        return
    try:  # after the ack (commands.py): Slack's membership may take a few calls
        sight = sight_of(ctx, client, team_id, asker.user_id)
    except MembershipUnknown as exc:
        say(str(exc))
        return
    pipeline_id, pipeline_name = None, None
    if cmd.arg:
        with transaction(ctx.sessions) as s:
            pipeline = pipeline_repo.get_pipeline_by_name(s, team_id, " ".join(cmd.arg.split()))
            if pipeline is None:
                say(not_found_hint("pipeline", cmd.arg, [p.name for p in pipeline_repo.list_pipelines(s, team_id)]))
                return
            pipeline_id, pipeline_name = pipeline.id, pipeline.name
    if cmd.rest.strip():
        text, blocks = search_page(ctx, sight, cmd.rest.strip(), pipeline_id=pipeline_id, pipeline_name=pipeline_name)
    else:
        text, blocks = list_page(ctx, sight, pipeline_id=pipeline_id)
    say(text, blocks)


def _action_value(body: Mapping[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def show_page(ctx: AppContext, client: WebClient, body: Mapping[str, Any], respond: Respond) -> None:
    """Previous/Next: replaces the list message in place (after the ack: the clicker's Sight
    may need Slack)."""
    try:
        value = json.loads(_action_value(body))
        pipeline_id = int(value["p"]) if value.get("p") is not None else None
        offset = int(value.get("o") or 0)
    except (ValueError, TypeError, KeyError, AttributeError):
        respond(
            text=f"That list is out of date. Run `{COMMAND} artifacts` again.",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    try:
        sight = sight_of(ctx, client, team_of(body), user_of(body))
    except MembershipUnknown as exc:
        respond(text=str(exc), response_type="ephemeral", replace_original=False)
        return
    text, blocks = list_page(ctx, sight, pipeline_id=pipeline_id, offset=offset)
    respond(text=text, blocks=blocks or None, response_type="ephemeral", replace_original=True)


def open_artifact(ctx: AppContext, client: WebClient, body: Mapping[str, Any]) -> None:
    """ "View": a read-only modal with the output (cut to fit) and the permalink, for whoever
    may see the run's conversation; anyone else reads what a missing artifact says."""
    team_id = team_of(body)
    artifact_id = _action_value(body)
    link = None
    with transaction(ctx.sessions) as s:
        artifact = artifact_repo.get_artifact(s, team_id, artifact_id)
        try:
            if artifact is not None and not sees(ctx, client, team_id, user_of(body), artifact.channel_id):
                artifact = None  # the same answer as a missing one: nothing of it shows
        except MembershipUnknown as exc:
            view = info_modal("Run result", str(exc))
        else:
            if artifact is None:
                view = info_modal("Run result", ARTIFACT_MISSING)
            else:
                link = artifact_permalink(ctx, team_id, str(artifact.id))
                # Delete is offered to the run's requester and to admins (the click is checked again)
                can_delete = artifact.deleted_at is None and may_delete_here(
                    ctx, client, team_id, user_of(body), artifact.created_by
                )
                view = msgs.artifact_modal(artifact, link, can_delete=can_delete)
    try:
        client.views_open(trigger_id=body.get("trigger_id") or "", view=view.to_dict())
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.info("could not open the artifact modal: %s", error)
        if error in TRIGGER_ERRORS:  # the click came too late for Slack: say so, with the way round
            also = f" The result is also at {link}" if link else ""
            to = Actor(team_of(body), user_of(body), response_url=body.get("response_url"))
            tell(client, to, TRIGGER_EXPIRED + also)


def page(ctx: AppContext, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
    """Previous/Next page (lazily, after ack_only): the list replaced by that page."""
    try:
        show_page(ctx, client, body, respond)
    except Exception:  # noqa: BLE001 - the list stays as it was
        log.exception("artifact paging failed")


def view(ctx: AppContext, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
    """*View*: the artifact's modal, at once (the trigger_id lives 3 s)."""
    ack()
    with told(client, body, "opening an artifact"):
        open_artifact(ctx, client, body)


def register(app: App, ctx: AppContext) -> None:
    """Paging buttons, the View button (lists, Home, anywhere) and URL buttons' acks."""
    app.action(msgs.ARTIFACTS_PAGE)(ack=ack_only, lazy=[partial(page, ctx)])
    app.action(msgs.ARTIFACTS_PREVIOUS_PAGE)(ack=ack_only, lazy=[partial(page, ctx)])
    app.action(msgs.VIEW_ARTIFACT)(partial(view, ctx))
    app.action(msgs.OPEN_ARTIFACT_LINK)(ack_only)

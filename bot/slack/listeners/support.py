"""What every listener module shares: the Reply exception, the after-ack pool, the one way to
tell a person something privately (``tell``), the one error wrapper for work after the ack
(``told``, ``later``), opening views, reading a payload's values, and the view-submission
wrapper.

Why a module of its own: the surfaces (agents, pipelines, settings, runs, re-run, artifacts,
edit, compare, feedback, cancel, home, shortcut, unfurl) each import it and never another
surface's listener module; the one exception is the `/pipebot` dispatcher
(commands.py), which routes a subcommand to the surface that owns it. A button belongs to
the surface it opens (Home's *New agent* is bound in agents.py), so Home imports no surface.

The listener style: handlers are module-level functions taking ``ctx`` first; each module's
``register(app, ctx)`` is a flat list of bindings, ``app.action(ID)(partial(handler, ctx))``.

Timing (Slack's rules): the app runs with ``process_before_response=True``, so Slack
gets its HTTP answer when the listener returns. Anything that calls Slack or a provider
runs after the ack in ``after_ack``'s small pool; not Bolt's ``lazy=[...]``, which
deep-copies the whole request (WebClient included) on the ack path for nothing we need.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from slack_sdk.webhook import WebhookClient

from bot.slack.blocks.common import INPUT, info_modal
from bot.slack.payloads import Actor, actor_of
from core.context import AppContext

log = logging.getLogger(__name__)

SaveResult = tuple[dict[str, Any] | None, Callable[[WebClient], None] | None]
Save = Callable[[AppContext, WebClient, Mapping[str, Any], BoltContext | None], SaveResult]

TRIGGER_ERRORS = ("expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id")
TRIGGER_EXPIRED = (
    "Slack gives an app 3 seconds to open a form, and that passed before I could open it "
    "(the server may be busy). Please run the command again."
)


OOPS = "Something went wrong on pipebot's side (it has been logged). Please try again."
# Work after the ack mostly waits: on the database, and on Slack's budget, where a run's first
# message may wait its turn for minutes (bot/slack/delivery.py). Threads that wait cost little,
# and a small pool would let one busy channel hold up every other command of the process.
AFTER_ACK_THREADS = 64
_background = ThreadPoolExecutor(max_workers=AFTER_ACK_THREADS, thread_name_prefix="pipebot-after-ack")


class Reply(Exception):
    """A message for the person who typed the command (ephemeral), not an error to log."""


def after_ack(fn: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    """Run ``fn`` in the background pool: the listener returns (and Slack gets its ack)
    without waiting for it. Exceptions are logged."""

    def run() -> None:
        try:
            fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - background work: log, never crash the pool
            log.exception("pipebot background task %s failed", getattr(fn, "__name__", fn))

    _background.submit(run)


def later(client: WebClient, body: Mapping[str, Any], doing: str, fn: Callable[..., object], *args: Any) -> None:
    """``fn(*args)`` after the ack (``after_ack``), inside the one error wrapper (``told``)."""

    def run() -> None:
        with told(client, body, doing):
            fn(*args)

    after_ack(run)


def ack_only(ack: Ack) -> None:
    """For actions with nothing to do (URL buttons still send one) or done lazily."""
    ack()


def block_dicts(blocks: Sequence[Block | dict[str, Any]]) -> list[dict[str, Any]]:
    """Models are rendered with to_dict() (which validates Slack's limits); dicts (the list
    messages, built lean for the ack path) pass as they are."""
    return [b if isinstance(b, dict) else b.to_dict() for b in blocks]


def ephemeral(text: str, blocks: Sequence[Block | dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"text": text, "response_type": "ephemeral"}
    if blocks:
        out["blocks"] = block_dicts(blocks)
    return out


def tell(client: WebClient, to: Actor, text: str, blocks: Sequence[Block | dict[str, Any]] | None = None) -> None:
    """The one way to tell someone something privately, wherever they are: through the
    ``response_url`` when the surface set one (works in any channel for 30 minutes), else
    ephemeral in their conversation (and thread), else on App Home a small modal while the
    trigger lives, else a DM from the app."""
    payload = block_dicts(blocks) if blocks else None
    if to.response_url:
        try:
            resp = WebhookClient(to.response_url, timeout=10).send(text=text, blocks=payload, response_type="ephemeral")
            if resp.status_code == 200:
                return
        except Exception:  # noqa: BLE001 - fall through to the Web API
            log.info("response_url post failed; trying chat.postEphemeral")
    if to.channel_id:
        try:
            client.chat_postEphemeral(
                channel=to.channel_id, user=to.user_id, text=text, blocks=payload, thread_ts=to.thread_ts
            )
            return
        except SlackApiError as exc:
            log.info("chat.postEphemeral failed (%s); sending a DM", exc.response.get("error"))
    if to.on_home and to.trigger_id and not blocks:
        try:
            client.views_open(trigger_id=to.trigger_id, view=info_modal("pipebot", text).to_dict())
            return
        except SlackApiError as exc:
            log.info("could not explain on Home (%s); sending a DM", exc.response.get("error"))
    client.chat_postMessage(channel=to.user_id, text=text, blocks=payload, unfurl_links=False)


@contextmanager
def told(client: WebClient, body: Mapping[str, Any], doing: str, *, quiet: bool = False) -> Iterator[None]:
    """The error wrapper of a listener's work after its ack: a Reply is told to the user
    privately; anything else is logged and (unless ``quiet``: the surface stays as it was)
    told as OOPS."""
    to = replace(actor_of(body), response_url=body.get("response_url"))
    try:
        yield
    except Reply as exc:
        tell(client, to, str(exc))
    except Exception:  # noqa: BLE001 - the user must hear something
        log.exception("%s failed", doing)
        if not quiet:
            try:
                tell(client, to, OOPS)
            except Exception:  # noqa: BLE001
                log.exception("could not tell the user about the failure")


def show_view(client: WebClient, to: Actor, view: View) -> None:
    """Open ``view`` for the actor: over the modal the action came from, or on its own. A
    trigger that expired meanwhile gets a note saying so instead."""
    try:
        if to.in_modal:
            client.views_push(trigger_id=to.trigger_id, view=view.to_dict())
        else:
            client.views_open(trigger_id=to.trigger_id, view=view.to_dict())
    except SlackApiError as exc:
        if exc.response.get("error") not in TRIGGER_ERRORS:
            raise
        log.info("could not open a view: %s", exc.response.get("error"))
        tell(client, to, TRIGGER_EXPIRED)


def open_modal(client: WebClient, trigger_id: str, view: View) -> None:
    """views.open, turning Slack's trigger errors into a message the user can act on."""
    try:
        client.views_open(trigger_id=trigger_id, view=view.to_dict())
    except SlackApiError as exc:
        if exc.response.get("error") in TRIGGER_ERRORS:
            raise Reply(TRIGGER_EXPIRED) from None
        raise


def action_value(body: Mapping[str, Any]) -> str:
    action = (body.get("actions") or [{}])[0]
    return (action.get("selected_option") or {}).get("value") or action.get("value") or ""


def text_value(values: Mapping[str, Any], block_id: str) -> str:
    return ((values.get(block_id) or {}).get(INPUT) or {}).get("value") or ""


def selected_value(values: Mapping[str, Any], block_id: str) -> str:
    option = ((values.get(block_id) or {}).get(INPUT) or {}).get("selected_option") or {}
    return option.get("value") or ""


def checked(values: Mapping[str, Any], block_id: str) -> bool:
    return bool(((values.get(block_id) or {}).get(INPUT) or {}).get("selected_options"))


def inline_error(block_id: str, text: str) -> SaveResult:
    """A modal's answer that keeps it open with ``text`` under one input. Inline errors are
    plain text, so mrkdwn's emphasis (``*``, backticks) is stripped."""
    return {"response_action": "errors", "errors": {block_id: re.sub(r"[*`]", "", text)}}, None


def field_errors(errors: Mapping[str, str], known: tuple[str, ...], fallback: str) -> dict[str, str]:
    """core errors → ``response_action: errors``; a key with no input joins ``fallback``."""
    out: dict[str, str] = {}
    for key, message in errors.items():
        target = key if key in known else fallback
        out[target] = f"{out[target]} {message}" if target in out else message
    return out


def submission(ctx: AppContext, save: Save, first_field: str) -> Callable[..., None]:
    """A view_submission listener around ``save``: its errors (or nothing, to close the modal)
    go in the ack; its follow-up (a confirmation, a views.update) runs after the ack. An
    unexpected failure keeps the modal open with OOPS under ``first_field``."""

    def handle(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        try:
            answer, follow_up = save(ctx, client, body, context)
        except Exception:  # noqa: BLE001 - keep the modal open and say so
            log.exception("saving %s failed", body.get("view", {}).get("callback_id"))
            ack(response_action="errors", errors={first_field: OOPS})
            return
        ack(**answer) if answer else ack()
        if follow_up is not None:
            after_ack(follow_up, client)

    return handle


def menu_choice(body: Mapping[str, Any]) -> tuple[int, str]:
    """(item id, "edit" | "delete") from an Edit/Delete… overflow menu; Reply when stale."""
    try:
        choice = json.loads(action_value(body))
        return int(choice["id"]), str(choice["do"])
    except (ValueError, KeyError, TypeError):
        raise Reply("That menu is out of date. Run the list command again.") from None


def item_id_of(body: Mapping[str, Any]) -> int | None:
    """The id a Delete button carries (``{"id": N}``), or None for a stale button."""
    try:
        return int(json.loads(action_value(body))["id"])
    except (ValueError, KeyError, TypeError):
        return None

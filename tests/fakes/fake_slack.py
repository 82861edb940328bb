"""A fake Slack Web API that runs as a real HTTP server on 127.0.0.1.

Why a server and not a mock: the app talks to Slack only through ``slack_sdk``
(``WebClient``, Bolt, ``chat_stream``), so the honest test double is one that speaks
the same wire format. Point ``WebClient(base_url=fake.url)`` or ``SLACK_API_URL`` at
it and the real SDK code paths run: JSON vs form bodies, bearer tokens, retry
handlers for HTTP 429 + ``Retry-After``, the ``chat.*Stream`` helper's buffering.

It behaves as real Slack does where that matters to pipebot:

* API errors are HTTP 200 with ``{"ok": false, "error": ...}``; rate limits are
  HTTP 429 with ``Retry-After`` and ``{"ok": false, "error": "ratelimited"}``.
* JSON bodies must carry the token in ``Authorization: Bearer``; form bodies may
  carry it as ``token``. No token -> ``not_authed``, unknown -> ``invalid_auth``.
* Posting needs channel membership: public channel -> ``not_in_channel`` (join it
  with ``conversations.join``), private channel -> ``channel_not_found``.
* Slack's limits are enforced: ``msg_too_long`` (> 4000 chars of text),
  ``msg_blocks_too_long`` (> ~13k chars of blocks JSON), ``invalid_blocks`` (> 50
  blocks, or a block element over its limits), views with > 100 blocks, long
  titles, long ``private_metadata`` etc. -> ``invalid_arguments`` with Slack-style
  ``response_metadata.messages``; trigger ids expire after 3 s
  (``expired_trigger_id``), are single use (``exchanged_trigger_id``) and must have
  been issued (``invalid_trigger_id``).
* ``link_shared`` / ``chat.unfurl``: :meth:`FakeSlack.share_links` posts a person's message
  with links (or a draft in the composer) and returns the ``link_shared`` event Slack would
  send; ``chat.unfurl`` must then name that message (``channel`` + ``ts``, or ``unfurl_id``
  + ``source``) from the same workspace and only URLs it holds (``cannot_unfurl_url``), with
  blocks checked like a message's. Cards are read back with :meth:`FakeSlack.unfurls`.
* ``feedback_buttons`` elements are valid only inside a ``context_actions`` block (at most
  5 elements), each with a ``positive_button`` and a ``negative_button``.
* ``chat.startStream`` needs ``thread_ts`` and, outside a DM, ``recipient_user_id``
  and ``recipient_team_id`` (``missing_recipient_user_id`` /
  ``missing_recipient_team_id``); the streamed text is reconstructed so a test can
  read it back. A call carries at most 12,000 characters of markdown (``msg_too_long``);
  streams stop taking appends after ``stream_ttl`` seconds
  (``message_not_in_streaming_state``, :meth:`FakeSlack.expire_streams_after`), and a
  workspace can refuse streaming altogether (:meth:`FakeSlack.refuse_streaming`).

Every request is recorded as a :class:`Call` (method, parsed params, headers, time,
HTTP status, response) and can be awaited with :meth:`FakeSlack.wait_for`. Faults are
scripted with :meth:`FakeSlack.fail_next`.

Usage::

    with FakeSlack() as fake:
        client = WebClient(token=fake.token, base_url=fake.url)
        client.chat_postMessage(channel=GENERAL, text="hi")
        assert fake.messages(GENERAL)[-1]["text"] == "hi"
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import secrets
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fakes.slack_tiers import SlackTiers

__all__ = [
    "ADMIN_ID",
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "Call",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "FakeSlack",
    "GENERAL",
    "OWNER_ID",
    "PRIVATE",
    "RANDOM",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "TEAM_NAME",
    "TOKEN",
    "USER_ID",
]

# --- the workspace every FakeSlack starts with -------------------------------------
TOKEN = "xoxb-fake-bot-token"
TEAM_ID = "T0PIPEBOT"
TEAM_NAME = "Pipebot Test"
TEAM_DOMAIN = "pipebot-test"
APP_ID = "A0PIPEBOT"
BOT_ID = "B0PIPEBOT"
BOT_USER_ID = "U0PIPEBOT"
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "fake-client-secret"
USER_ID = "U0USER"  # a regular member
ADMIN_ID = "U0ADMIN"  # a workspace admin
OWNER_ID = "U0OWNER"  # the workspace owner (is_admin and is_owner)
GENERAL = "C0GENERAL"  # public, bot is a member
RANDOM = "C0RANDOM"  # public, bot is not a member (join it)
PRIVATE = "C0PRIVATE"  # private, bot is not a member (cannot join)

# --- Slack's limits, as its API documentation states them -----------------------------
MSG_TEXT_LIMIT = 4000
MSG_BLOCKS_JSON_LIMIT = 13000
MSG_BLOCKS_LIMIT = 50
VIEW_BLOCKS_LIMIT = 100
VIEW_TITLE_LIMIT = 24
PRIVATE_METADATA_LIMIT = 3000
CALLBACK_ID_LIMIT = 255
SECTION_TEXT_LIMIT = 3000
SECTION_FIELD_LIMIT = 2000
SECTION_FIELDS_MAX = 10
HEADER_TEXT_LIMIT = 150
MARKDOWN_BLOCK_LIMIT = 12000
STREAM_TEXT_LIMIT = 12000
OPTIONS_LIMIT = 100
OPTION_TEXT_LIMIT = 75
OPTION_VALUE_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
CONTEXT_ACTIONS_MAX = 5
ACTION_ID_LIMIT = 255
BLOCK_ID_LIMIT = 255
INPUT_LABEL_LIMIT = 2000
PLACEHOLDER_LIMIT = 150
PLAIN_TEXT_INPUT_MAX = 3000
TRIGGER_TTL = 3.0
VIEW_STACK_LIMIT = 3
STREAM_TTL = 300.0
RESPONSE_URL_USES = 5

_MAX_MESSAGES = 20  # response_metadata.messages kept per error
# Parameters that Slack accepts as JSON strings inside form bodies.
_JSON_FIELDS = ("blocks", "view", "chunks", "attachments", "metadata", "user_auth_blocks", "unfurls")
# Methods that authenticate with client credentials, not a token.
_NO_TOKEN_METHODS = {"oauth.v2.access", "api.test"}


class _ApiError(Exception):
    """An ``ok: false`` answer; ``messages`` become ``response_metadata.messages``."""

    def __init__(self, error: str, messages: list[str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.extra = extra


@dataclass
class Call:
    """One request the fake received, as the app sent it and as the fake answered.

    ``params`` merges query string and body; JSON-string fields sent in form bodies
    (``blocks``, ``view``, ``chunks``...) are decoded so tests can inspect them the
    same way whichever encoding the SDK chose. ``encoding`` says which it chose.
    """

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    time: float
    token: str | None
    encoding: str  # "json" | "form" | "multipart" | "query"
    raw_body: bytes = b""
    status: int = 0
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether the fake answered ``ok: true``."""
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        """The Slack error code the fake answered with, if any."""
        return self.response.get("error")


@dataclass
class _Fault:
    method: str
    error: str | None
    status: int
    retry_after: int | None
    times: int
    when: Callable[[dict[str, Any]], bool] | None


@dataclass
class _RateLimit:
    max_calls: int
    per_seconds: float
    per_channel: bool
    retry_after: int
    hits: dict[str, list[float]] = field(default_factory=dict)


# =====================================================================================
# Block Kit validation (returns Slack-style "[ERROR] ... [json-pointer:/...]" messages)
# =====================================================================================


def _too_long(ptr: str, limit: int) -> str:
    return f"[ERROR] must be less than {limit + 1} characters [json-pointer:{ptr}]"


def _too_many(ptr: str, limit: int) -> str:
    return f"[ERROR] no more than {limit} items allowed [json-pointer:{ptr}]"


def _missing(ptr: str) -> str:
    return f"[ERROR] missing required field: {ptr.rsplit('/', 1)[-1]} [json-pointer:{ptr}]"


def _text_obj(
    obj: Any, ptr: str, limit: int, errs: list[str], *, plain_only: bool = False, required: bool = True
) -> None:
    if obj is None:
        if required:
            errs.append(_missing(ptr))
        return
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        errs.append(f"[ERROR] must be a text object [json-pointer:{ptr}]")
        return
    if plain_only and obj.get("type") != "plain_text":
        errs.append(f"[ERROR] must be a plain_text object [json-pointer:{ptr}/type]")
    text = obj.get("text")
    if not isinstance(text, str) or text == "":
        errs.append(f"[ERROR] must be more than 0 characters [json-pointer:{ptr}/text]")
    elif len(text) > limit:
        errs.append(_too_long(f"{ptr}/text", limit))


def _options(opts: Any, ptr: str, errs: list[str], limit: int = OPTIONS_LIMIT) -> int:
    if not isinstance(opts, list):
        errs.append(f"[ERROR] must be an array [json-pointer:{ptr}]")
        return 0
    if len(opts) > limit:
        errs.append(_too_many(ptr, limit))
    for i, opt in enumerate(opts):
        optr = f"{ptr}/{i}"
        if not isinstance(opt, dict):
            errs.append(f"[ERROR] must be an option object [json-pointer:{optr}]")
            continue
        _text_obj(opt.get("text"), f"{optr}/text", OPTION_TEXT_LIMIT, errs)
        value = opt.get("value")
        if value is not None and len(str(value)) > OPTION_VALUE_LIMIT:
            errs.append(_too_long(f"{optr}/value", OPTION_VALUE_LIMIT))
        if opt.get("description") is not None:
            _text_obj(opt.get("description"), f"{optr}/description", OPTION_TEXT_LIMIT, errs)
    return len(opts)


def _element(el: Any, ptr: str, errs: list[str], max_total_options: int | None) -> None:
    if not isinstance(el, dict) or "type" not in el:
        errs.append(f"[ERROR] must be a block element [json-pointer:{ptr}]")
        return
    kind = el["type"]
    if el.get("action_id") is not None and len(str(el["action_id"])) > ACTION_ID_LIMIT:
        errs.append(_too_long(f"{ptr}/action_id", ACTION_ID_LIMIT))
    if el.get("placeholder") is not None:
        _text_obj(el["placeholder"], f"{ptr}/placeholder", PLACEHOLDER_LIMIT, errs, plain_only=True)
    if kind == "button":
        _text_obj(el.get("text"), f"{ptr}/text", BUTTON_TEXT_LIMIT, errs, plain_only=True)
        if el.get("value") is not None and len(str(el["value"])) > BUTTON_VALUE_LIMIT:
            errs.append(_too_long(f"{ptr}/value", BUTTON_VALUE_LIMIT))
    elif kind in ("static_select", "multi_static_select"):
        has_opts, has_groups = "options" in el, "option_groups" in el
        if has_opts and has_groups:
            errs.append(f"[ERROR] must provide exactly one of options or option_groups [json-pointer:{ptr}]")
        elif not has_opts and not has_groups:
            errs.append(f"[ERROR] must provide exactly one of options or option_groups [json-pointer:{ptr}]")
        if has_opts:
            _options(el["options"], f"{ptr}/options", errs)
        if has_groups:
            groups = el["option_groups"]
            gptr = f"{ptr}/option_groups"
            if not isinstance(groups, list):
                errs.append(f"[ERROR] must be an array [json-pointer:{gptr}]")
                return
            if len(groups) > OPTIONS_LIMIT:
                errs.append(_too_many(gptr, OPTIONS_LIMIT))
            total = 0
            for gi, group in enumerate(groups):
                if not isinstance(group, dict):
                    errs.append(f"[ERROR] must be an option group [json-pointer:{gptr}/{gi}]")
                    continue
                _text_obj(group.get("label"), f"{gptr}/{gi}/label", OPTION_TEXT_LIMIT, errs, plain_only=True)
                total += _options(group.get("options"), f"{gptr}/{gi}/options", errs)
            if max_total_options is not None and total > max_total_options:
                errs.append(_too_many(gptr, max_total_options))
    elif kind == "feedback_buttons":
        for side in ("positive_button", "negative_button"):
            obj = el.get(side)
            if not isinstance(obj, dict):
                errs.append(_missing(f"{ptr}/{side}"))
                continue
            _text_obj(obj.get("text"), f"{ptr}/{side}/text", BUTTON_TEXT_LIMIT, errs, plain_only=True)
            value = obj.get("value")
            if not isinstance(value, str) or not value:
                errs.append(_missing(f"{ptr}/{side}/value"))
            elif len(value) > BUTTON_VALUE_LIMIT:
                errs.append(_too_long(f"{ptr}/{side}/value", BUTTON_VALUE_LIMIT))
    elif kind == "overflow":
        _options(el.get("options"), f"{ptr}/options", errs, limit=5)
    elif kind in ("radio_buttons", "checkboxes"):
        _options(el.get("options"), f"{ptr}/options", errs, limit=10)
    elif kind == "plain_text_input":
        for key in ("max_length", "min_length"):
            val = el.get(key)
            if val is not None and (not isinstance(val, int) or val > PLAIN_TEXT_INPUT_MAX or val < 0):
                errs.append(f"[ERROR] must be at most {PLAIN_TEXT_INPUT_MAX} [json-pointer:{ptr}/{key}]")
        init = el.get("initial_value")
        if isinstance(init, str) and isinstance(el.get("max_length"), int) and len(init) > el["max_length"]:
            errs.append(_too_long(f"{ptr}/initial_value", el["max_length"]))


def _validate_blocks(blocks: Any, ptr: str, limit: int, errs: list[str], max_total_options: int | None) -> None:
    if not isinstance(blocks, list):
        errs.append(f"[ERROR] must be an array [json-pointer:{ptr}]")
        return
    if len(blocks) > limit:
        errs.append(_too_many(ptr, limit))
    seen_ids: set[str] = set()
    for i, block in enumerate(blocks):
        bptr = f"{ptr}/{i}"
        if not isinstance(block, dict) or "type" not in block:
            errs.append(f"[ERROR] must be a block [json-pointer:{bptr}]")
            continue
        bid = block.get("block_id")
        if bid is not None:
            if len(str(bid)) > BLOCK_ID_LIMIT:
                errs.append(_too_long(f"{bptr}/block_id", BLOCK_ID_LIMIT))
            if bid in seen_ids:
                errs.append(f"[ERROR] duplicate block_id {bid!r} [json-pointer:{bptr}/block_id]")
            seen_ids.add(bid)
        kind = block["type"]
        if kind == "section":
            if block.get("text") is None and not block.get("fields"):
                errs.append(f"[ERROR] must provide text or fields [json-pointer:{bptr}]")
            if block.get("text") is not None:
                _text_obj(block["text"], f"{bptr}/text", SECTION_TEXT_LIMIT, errs)
            fields = block.get("fields")
            if fields is not None:
                if not isinstance(fields, list):
                    errs.append(f"[ERROR] must be an array [json-pointer:{bptr}/fields]")
                else:
                    if len(fields) > SECTION_FIELDS_MAX:
                        errs.append(_too_many(f"{bptr}/fields", SECTION_FIELDS_MAX))
                    for fi, fobj in enumerate(fields):
                        _text_obj(fobj, f"{bptr}/fields/{fi}", SECTION_FIELD_LIMIT, errs)
            if block.get("accessory") is not None:
                _element(block["accessory"], f"{bptr}/accessory", errs, max_total_options)
        elif kind == "header":
            _text_obj(block.get("text"), f"{bptr}/text", HEADER_TEXT_LIMIT, errs, plain_only=True)
        elif kind == "markdown":
            text = block.get("text")
            if not isinstance(text, str):
                errs.append(_missing(f"{bptr}/text"))
            elif len(text) > MARKDOWN_BLOCK_LIMIT:
                errs.append(_too_long(f"{bptr}/text", MARKDOWN_BLOCK_LIMIT))
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                errs.append(_missing(f"{bptr}/elements"))
            elif len(elements) > 10:
                errs.append(_too_many(f"{bptr}/elements", 10))
            else:
                for ei, el in enumerate(elements):
                    if isinstance(el, dict) and el.get("type") in ("plain_text", "mrkdwn"):
                        _text_obj(el, f"{bptr}/elements/{ei}", SECTION_TEXT_LIMIT, errs)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                errs.append(_missing(f"{bptr}/elements"))
            else:
                if len(elements) > 25:
                    errs.append(_too_many(f"{bptr}/elements", 25))
                for ei, el in enumerate(elements):
                    if isinstance(el, dict) and el.get("type") in ("feedback_buttons", "icon_button"):
                        errs.append(
                            f"[ERROR] {el['type']} is only allowed in context_actions "
                            f"[json-pointer:{bptr}/elements/{ei}/type]"
                        )
                    _element(el, f"{bptr}/elements/{ei}", errs, max_total_options)
        elif kind == "context_actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                errs.append(_missing(f"{bptr}/elements"))
            else:
                if len(elements) > CONTEXT_ACTIONS_MAX:
                    errs.append(_too_many(f"{bptr}/elements", CONTEXT_ACTIONS_MAX))
                for ei, el in enumerate(elements):
                    if not isinstance(el, dict) or el.get("type") not in ("feedback_buttons", "icon_button"):
                        errs.append(
                            f"[ERROR] must be feedback_buttons or icon_button [json-pointer:{bptr}/elements/{ei}]"
                        )
                        continue
                    _element(el, f"{bptr}/elements/{ei}", errs, max_total_options)
        elif kind == "input":
            _text_obj(block.get("label"), f"{bptr}/label", INPUT_LABEL_LIMIT, errs, plain_only=True)
            if block.get("hint") is not None:
                _text_obj(block["hint"], f"{bptr}/hint", INPUT_LABEL_LIMIT, errs, plain_only=True)
            if block.get("element") is None:
                errs.append(_missing(f"{bptr}/element"))
            else:
                _element(block["element"], f"{bptr}/element", errs, max_total_options)


def _validate_view(view: Any, max_total_options: int | None) -> list[str]:
    errs: list[str] = []
    if not isinstance(view, dict):
        return ["[ERROR] must be a view object [json-pointer:/view]"]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        errs.append("[ERROR] must be one of modal, home [json-pointer:/view/type]")
    if kind == "modal":
        _text_obj(view.get("title"), "/view/title", VIEW_TITLE_LIMIT, errs, plain_only=True)
    elif view.get("title") is not None:
        _text_obj(view.get("title"), "/view/title", VIEW_TITLE_LIMIT, errs, plain_only=True)
    for key in ("submit", "close"):
        if view.get(key) is not None:
            _text_obj(view[key], f"/view/{key}", VIEW_TITLE_LIMIT, errs, plain_only=True)
    meta = view.get("private_metadata")
    if meta is not None and len(str(meta)) > PRIVATE_METADATA_LIMIT:
        errs.append(_too_long("/view/private_metadata", PRIVATE_METADATA_LIMIT))
    cb = view.get("callback_id")
    if cb is not None and len(str(cb)) > CALLBACK_ID_LIMIT:
        errs.append(_too_long("/view/callback_id", CALLBACK_ID_LIMIT))
    blocks = view.get("blocks")
    if blocks is None:
        errs.append(_missing("/view/blocks"))
    else:
        _validate_blocks(blocks, "/view/blocks", VIEW_BLOCKS_LIMIT, errs, max_total_options)
        if (
            kind == "modal"
            and isinstance(blocks, list)
            and view.get("submit") is None
            and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        ):
            errs.append("[ERROR] submit is required when an input block is present [json-pointer:/view/submit]")
    return errs


# =====================================================================================
# HTTP plumbing
# =====================================================================================


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, Any], str]:
    ctype = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}, "query"
    if ctype == "application/json":
        data = json.loads(body.decode("utf-8"))
        if not isinstance(data, dict):
            raise _ApiError("invalid_json")
        return data, "json"
    if ctype == "multipart/form-data":
        msg = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        out: dict[str, Any] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                payload = part.get_payload(decode=True) or b""
                out[name] = payload if part.get_filename() else payload.decode("utf-8")
        return out, "multipart"
    if ctype in ("application/x-www-form-urlencoded", "text/plain", ""):
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        return dict(pairs), "form"
    raise _ApiError("invalid_post_type")


def _decode_json_fields(params: dict[str, Any]) -> None:
    for key in _JSON_FIELDS:
        val = params.get(key)
        if isinstance(val, str) and val.strip()[:1] in ("[", "{"):
            try:
                params[key] = json.loads(val)
            except ValueError:
                pass  # left as a string: validation answers invalid_blocks_format etc.


def _fill_ids(blocks: Any) -> Any:
    """Give blocks and interactive elements the random ids Slack assigns when the app
    sends none, so submissions can be keyed by them (Slack does the same)."""
    if not isinstance(blocks, list):
        return blocks
    out = json.loads(json.dumps(blocks))
    for block in out:
        if not isinstance(block, dict):
            continue
        block.setdefault("block_id", secrets.token_urlsafe(3))
        elements = [block.get("element"), block.get("accessory"), *(block.get("elements") or [])]
        for el in elements:
            if (
                isinstance(el, dict)
                and el.get("type") not in (None, "plain_text", "mrkdwn", "image")
                and "action_id" not in el
            ):
                el["action_id"] = secrets.token_urlsafe(3)
    return out


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeSlack) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet tests
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            status, headers, payload = self.server.fake._dispatch(
                self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
        except Exception:  # a bug in the fake must fail the test loudly, not hang it
            status, headers = 500, {"Content-Type": "application/json; charset=utf-8"}
            payload = json.dumps(
                {"ok": False, "error": "fake_slack_crashed", "traceback": traceback.format_exc()}
            ).encode("utf-8")
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


# =====================================================================================
# The fake
# =====================================================================================


class FakeSlack:
    """A local Slack Web API with one workspace preloaded (see the module constants).

    Start it with :meth:`start` (or ``with FakeSlack() as fake``); ``fake.url`` ends
    with ``/api/`` and goes straight into ``WebClient(base_url=...)`` or
    ``SLACK_API_URL``. All state lives in memory and is safe to read from tests while
    the app's threads call the server.
    """

    def __init__(
        self,
        *,
        trigger_ttl: float = TRIGGER_TTL,
        stream_ttl: float = STREAM_TTL,
        max_total_options_in_groups: int | None = OPTIONS_LIMIT,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
    ) -> None:
        """``max_total_options_in_groups`` caps options summed over all groups of one
        select (Slack allows 100 options per select, groups included); pass None to
        check only Slack's per-group and group-count limits."""
        self.trigger_ttl = trigger_ttl
        self.stream_ttl = stream_ttl
        self.streaming_refused: str | None = None
        self.max_total_options = max_total_options_in_groups
        self.client_id = client_id
        self.client_secret = client_secret
        self.token = TOKEN
        self.team_id = TEAM_ID
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._id_stem = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(5))
        self._last_ts = 0.0
        self._calls: list[Call] = []
        self._faults: list[_Fault] = []
        self._rate_limits: dict[str, _RateLimit] = {}
        self.tiers: SlackTiers | None = None  # Slack's tiers, when a test sets SlackTiers() (slack_tiers.py)
        self._latency: dict[str, float] = {}
        self._holds: dict[str, threading.Event] = {}
        self.teams: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._triggers: dict[str, dict[str, Any]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._stacks: dict[str, list[str]] = {}
        self._home: dict[str, str] = {}
        self._oauth_codes: dict[str, dict[str, Any]] = {}
        self._response_urls: dict[str, dict[str, Any]] = {}
        self._shared: dict[str, dict[str, Any]] = {}  # unfurl_id -> the shared links and where
        self._unfurls: list[dict[str, Any]] = []
        self._seed()

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeSlack:
        """Bind 127.0.0.1 on a free port and serve from a daemon thread."""
        if self._server is None:
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True, name="fake-slack"
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = None
            self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT`` (no path)."""
        if self._server is None:
            raise RuntimeError("FakeSlack is not started: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The Web API base URL, ending in ``/api/`` like ``https://slack.com/api/``."""
        return f"{self.base}/api/"

    def env(self) -> dict[str, str]:
        """Environment for a pipebot process that should talk to this fake."""
        return {
            "SLACK_API_URL": self.url,
            "SLACK_BOT_TOKEN": self.token,
            "SLACK_CLIENT_ID": self.client_id,
            "SLACK_CLIENT_SECRET": self.client_secret,
        }

    # ----------------------------------------------------------------- world setup
    def _seed(self) -> None:
        self.add_team(TEAM_ID, TEAM_NAME, TEAM_DOMAIN, bot_user_id=BOT_USER_ID, bot_id=BOT_ID, token=TOKEN)
        self.add_user(USER_ID, "casey", real_name="Casey Member")
        self.add_user(ADMIN_ID, "alex", real_name="Alex Admin", is_admin=True)
        self.add_user(OWNER_ID, "olive", real_name="Olive Owner", is_admin=True, is_owner=True, is_primary_owner=True)
        self.add_channel(GENERAL, "general", is_member=True)
        self.add_channel(RANDOM, "random", is_member=False)
        self.add_channel(PRIVATE, "secret-plans", is_private=True, is_member=False)

    def add_team(
        self,
        team_id: str,
        name: str,
        domain: str | None = None,
        *,
        bot_user_id: str | None = None,
        bot_id: str | None = None,
        token: str | None = None,
        enterprise_id: str | None = None,
    ) -> str:
        """Add a workspace with the app installed; returns its bot token."""
        with self._lock:
            suffix = team_id[1:]
            team = {
                "id": team_id,
                "name": name,
                "domain": domain or name.lower().replace(" ", "-"),
                "enterprise_id": enterprise_id,
                "bot_user_id": bot_user_id or f"U0BOT{suffix}",
                "bot_id": bot_id or f"B0BOT{suffix}",
            }
            self.teams[team_id] = team
            self.users.setdefault(
                team["bot_user_id"],
                self._user_obj(team["bot_user_id"], "pipebot", team_id=team_id, real_name="pipebot", is_bot=True),
            )
            token = token or f"xoxb-{team_id}-{secrets.token_hex(8)}"
            self.tokens[token] = {"team_id": team_id, "kind": "bot", "revoked": False}
            return token

    def revoke_token(self, token: str) -> None:
        """Make ``token`` answer ``token_revoked`` (app uninstalled)."""
        with self._lock:
            self.tokens[token]["revoked"] = True

    @staticmethod
    def _user_obj(
        user_id: str,
        name: str,
        *,
        team_id: str,
        real_name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        tz: str = "Europe/London",
    ) -> dict[str, Any]:
        real = real_name or name
        return {
            "id": user_id,
            "team_id": team_id,
            "name": name,
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": real,
            "tz": tz,
            "tz_label": "Greenwich Mean Time",
            "tz_offset": 0,
            "profile": {
                "real_name": real,
                "display_name": name,
                "real_name_normalized": real,
                "display_name_normalized": name,
                "team": team_id,
                "image_48": "https://example.invalid/48.png",
            },
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": is_primary_owner,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": 1700000000,
        }

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        team_id: str = TEAM_ID,
        real_name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
    ) -> dict[str, Any]:
        """Add (or replace) a user; ``is_admin``/``is_owner`` drive settings permissions."""
        with self._lock:
            user = self._user_obj(
                user_id,
                name,
                team_id=team_id,
                real_name=real_name,
                is_admin=is_admin,
                is_owner=is_owner,
                is_primary_owner=is_primary_owner,
                is_bot=is_bot,
                deleted=deleted,
            )
            self.users[user_id] = user
            return user

    def set_user(self, user_id: str, **fields: Any) -> None:
        """Change fields of a user, e.g. ``set_user(USER_ID, is_admin=True)``."""
        with self._lock:
            self.users[user_id].update(fields)

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        is_member: bool = False,
        is_archived: bool = False,
        members: set[str] | None = None,
        team_id: str = TEAM_ID,
    ) -> dict[str, Any]:
        """Add a channel. ``members`` None means every user is in it (for ephemerals)."""
        with self._lock:
            chan = {
                "id": channel_id,
                "name": name,
                "is_channel": not is_private,
                "is_group": is_private,
                "is_im": False,
                "is_mpim": False,
                "is_private": is_private,
                "is_archived": is_archived,
                "is_general": name == "general",
                "is_member": is_member,
                "created": 1700000000,
                "creator": OWNER_ID,
                "context_team_id": team_id,
                "name_normalized": name,
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": "", "creator": "", "last_set": 0},
                "_members": set(members) if members is not None else None,
            }
            self.channels[channel_id] = chan
            self._messages.setdefault(channel_id, [])
            return chan

    def dm_channel(self, user_id: str) -> str:
        """The bot's DM channel id with ``user_id`` (created on first use, as Slack does
        when you post with ``channel=<user id>``)."""
        with self._lock:
            for chan in self.channels.values():
                if chan["is_im"] and chan.get("user") == user_id:
                    return chan["id"]
            cid = "D" + user_id.lstrip("UW")
            self.channels[cid] = {
                "id": cid,
                "is_channel": False,
                "is_group": False,
                "is_im": True,
                "is_mpim": False,
                "is_private": True,
                "is_archived": False,
                "is_member": True,
                "user": user_id,
                "created": 1700000000,
                "context_team_id": self.users.get(user_id, {}).get("team_id", TEAM_ID),
                "_members": {user_id},
            }
            self._messages.setdefault(cid, [])
            return cid

    def set_channel(self, channel_id: str, **fields: Any) -> None:
        """Change a channel, e.g. ``set_channel(RANDOM, is_member=True)`` or ``is_archived=True``."""
        with self._lock:
            self.channels[channel_id].update(fields)

    # ----------------------------------------------------------------- ids and triggers
    def _next_ts(self) -> str:
        with self._lock:
            now = max(time.time(), self._last_ts + 0.000001)
            self._last_ts = now
            return f"{now:.6f}"

    def _new_id(self, prefix: str) -> str:
        # Slack's ids are unique across the whole service, not per connection: a per-instance
        # random stem keeps two fakes (two tests) from handing out the same view id.
        return f"{prefix}{self._id_stem}{next(self._ids):05d}"

    def new_trigger_id(self, user_id: str = USER_ID, team_id: str = TEAM_ID, *, age: float = 0.0) -> str:
        """Issue a trigger id as Slack does with a slash command or interaction.

        It is valid for ``trigger_ttl`` (3 s) from issue; ``age`` back-dates it so a
        test can exercise ``expired_trigger_id`` without sleeping.
        """
        with self._lock:
            tid = f"{next(self._ids)}.{int(time.time())}.{secrets.token_hex(16)}"
            self._triggers[tid] = {
                "issued": time.monotonic() - age,
                "used": False,
                "user_id": user_id,
                "team_id": team_id,
            }
            return tid

    def new_oauth_code(
        self,
        team_id: str = "T0NEWTEAM",
        team_name: str = "New Team",
        *,
        user_id: str = "U0INSTALLER",
        scope: str = "commands,chat:write",
        redirect_uri: str | None = None,
        enterprise_id: str | None = None,
    ) -> str:
        """A code as Slack puts on the OAuth redirect, for ``oauth.v2.access``."""
        with self._lock:
            code = f"{next(self._ids)}.{secrets.token_hex(12)}"
            self._oauth_codes[code] = {
                "team_id": team_id,
                "team_name": team_name,
                "user_id": user_id,
                "scope": scope,
                "redirect_uri": redirect_uri,
                "enterprise_id": enterprise_id,
            }
            return code

    def new_response_url(self, channel_id: str = GENERAL, user_id: str = USER_ID) -> str:
        """A ``response_url`` served by this fake (``POST {base}/response/ID``).

        Bolt's ``respond()`` posts there; ``response_type`` ``in_channel`` lands in the
        channel, anything else is stored as an ephemeral for ``user_id``. Like Slack,
        it takes at most 5 posts (then HTTP 404 ``used_url``).
        """
        with self._lock:
            rid = secrets.token_hex(10)
            self._response_urls[rid] = {"channel": channel_id, "user": user_id, "uses": 0, "posts": []}
            return f"{self.base}/response/{rid}"

    def share_links(
        self,
        urls: list[str],
        *,
        channel: str = GENERAL,
        user_id: str = USER_ID,
        team_id: str = TEAM_ID,
        source: str = "conversations_history",
        thread_ts: str | None = None,
    ) -> dict[str, Any]:
        """A person posts ``urls`` (``source="conversations_history"``: a message in
        ``channel``; ``"composer"``: still a draft, so there is no message yet) and Slack
        tells the app: returns the ``link_shared`` event to send to it (``signer.event(...)``)."""
        with self._lock:
            unfurl_id = f"U{next(self._ids)}.{secrets.token_hex(8)}"
            links = [{"domain": urllib.parse.urlsplit(u).hostname or "", "url": u} for u in urls]
            if source == "composer":
                where, ts = "COMPOSER", f"{user_id}-{secrets.token_hex(8)}"
            else:
                where, ts = channel, self._next_ts()
                msg = {"type": "message", "ts": ts, "user": user_id, "team": team_id, "text": " ".join(urls)}
                if thread_ts:
                    msg["thread_ts"] = thread_ts
                self._store(self.channels[channel], msg)
            self._shared[unfurl_id] = {
                "channel": where,
                "ts": ts,
                "urls": set(urls),
                "team_id": team_id,
                "source": source,
            }
            event: dict[str, Any] = {
                "type": "link_shared",
                "channel": where,
                "is_bot_user_member": True,
                "user": user_id,
                "message_ts": ts,
                "unfurl_id": unfurl_id,
                "source": source,
                "links": links,
            }
            if thread_ts:
                event["thread_ts"] = thread_ts
            return event

    def unfurls(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Cards set with chat.unfurl (``url``, ``blocks``, ``channel``, ``ts``, ``unfurl_id``)."""
        with self._lock:
            return [dict(u) for u in self._unfurls if channel is None or u["channel"] == channel]

    # ----------------------------------------------------------------- scripted faults
    def fail_next(
        self,
        method: str,
        error: str | None = None,
        *,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (``"*"``: any method) fail,
        optionally only those whose params satisfy ``when``.

        ``status=429`` answers ``ratelimited`` with ``Retry-After: retry_after``
        (default 1), like Slack's rate limiter; ``status=200`` answers
        ``{"ok": false, "error": error}``; a 5xx status answers that status.
        """
        if status == 429:
            error = error or "ratelimited"
            retry_after = 1 if retry_after is None else retry_after
        elif status >= 500:
            error = error or "internal_error"
        elif error is None:
            raise ValueError("fail_next needs an error code when status is not 429/5xx")
        with self._lock:
            self._faults.append(_Fault(method, error, status, retry_after, times, when))

    def set_rate_limit(
        self, method: str, max_calls: int, per_seconds: float = 1.0, *, per_channel: bool = True, retry_after: int = 1
    ) -> None:
        """Rate-limit ``method`` as Slack does (e.g. ``chat.postMessage`` about 1/s per
        channel): calls beyond ``max_calls`` within ``per_seconds`` get HTTP 429."""
        with self._lock:
            self._rate_limits[method] = _RateLimit(max_calls, per_seconds, per_channel, retry_after)

    def expire_streams_after(self, seconds: float) -> None:
        """Streams (new and running) stop accepting appends ``seconds`` after they started,
        as Slack's do after about 5 minutes."""
        with self._lock:
            self.stream_ttl = seconds

    def refuse_streaming(self, error: str | None = "not_allowed") -> None:
        """Answer every ``chat.startStream`` with ``error`` (None: stream again), like a
        workspace or plan without chat streaming."""
        with self._lock:
            self.streaming_refused = error

    def set_latency(self, method: str, seconds: float) -> None:
        """Delay answers to ``method`` (simulate a slow Slack; ``"*"`` for all methods)."""
        with self._lock:
            self._latency[method] = seconds

    @contextlib.contextmanager
    def hold(self, method: str) -> Iterator[None]:
        """Keep calls to ``method`` unanswered (and unrecorded) until the block exits (at
        most 10 s, so a wrong app cannot hang a test): shows whether the app waited for Slack before answering
        something else (e.g. acked an event before calling ``views.publish``)."""
        gate = threading.Event()
        with self._lock:
            self._holds[method] = gate
        try:
            yield
        finally:
            with self._lock:
                self._holds.pop(method, None)
            gate.set()

    # ----------------------------------------------------------------- recorded calls
    def calls(self, method: str | None = None) -> list[Call]:
        """All recorded calls (of ``method``), oldest first."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def last(self, method: str) -> Call:
        """The latest call of ``method``; AssertionError if there was none."""
        found = self.calls(method)
        if not found:
            raise AssertionError(f"no {method} call recorded; calls: {[c.method for c in self.calls()]}")
        return found[-1]

    def clear_calls(self) -> None:
        """Forget recorded calls (state such as messages is kept)."""
        with self._lock:
            self._calls.clear()

    def wait_for(
        self, method: str, predicate: Callable[[Call], bool] | None = None, timeout: float = 5.0, *, count: int = 1
    ) -> Call:
        """Block until ``count`` calls of ``method`` matching ``predicate`` were received
        (including ones already recorded) and return the ``count``-th one.

        Raises AssertionError naming what was seen, so a failing test says why.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self._calls if c.method == method and (predicate is None or predicate(c))]
                if len(found) >= count:
                    return found[count - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.error) for c in self._calls]
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {count} x {method}; "
                        f"got {len(found)}; all calls: {seen}"
                    )
                self._cond.wait(left)

    # ----------------------------------------------------------------- reading state back
    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Top-level messages of a channel, oldest first (what the channel shows)."""
        with self._lock:
            return [dict(m) for m in self._messages.get(channel, []) if m.get("thread_ts") in (None, m["ts"])]

    def all_messages(self, channel: str) -> list[dict[str, Any]]:
        """Every message of a channel, replies included, oldest first."""
        with self._lock:
            return [dict(m) for m in self._messages.get(channel, [])]

    def thread(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """The parent message (if it exists) followed by its replies, oldest first."""
        with self._lock:
            return [
                dict(m)
                for m in self._messages.get(channel, [])
                if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
            ]

    def replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """Only the replies of a thread, oldest first."""
        return [m for m in self.thread(channel, thread_ts) if m["ts"] != thread_ts]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        """One message by ts; KeyError if absent."""
        with self._lock:
            for m in self._messages.get(channel, []):
                if m["ts"] == ts:
                    return dict(m)
        raise KeyError(f"no message {ts} in {channel}")

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages (chat.postEphemeral and ephemeral response_url posts)."""
        with self._lock:
            return [
                dict(m)
                for m in self._ephemerals
                if (channel is None or m["channel"] == channel) and (user is None or m["user"] == user)
            ]

    def response_url_posts(self, response_url: str) -> list[dict[str, Any]]:
        """The JSON bodies posted to one of this fake's response_urls."""
        with self._lock:
            return list(self._response_urls[response_url.rstrip("/").rsplit("/", 1)[-1]]["posts"])

    def streams(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Messages created by chat.startStream (streaming or stopped)."""
        with self._lock:
            return [
                dict(m)
                for cid, msgs in self._messages.items()
                for m in msgs
                if m.get("_stream") and (channel is None or cid == channel)
            ]

    def stream_calls(self, channel: str | None = None) -> list[Call]:
        """The start/append/stop calls Slack accepted (in ``channel``), oldest first."""
        return [
            c
            for c in self.calls()
            if c.method in ("chat.startStream", "chat.appendStream", "chat.stopStream")
            and c.ok
            and (channel is None or c.params.get("channel") == channel)
        ]

    @staticmethod
    def streamed_markdown(call: Call) -> str:
        """The markdown one stream call appended (``markdown_text`` and markdown chunks)."""
        parts = [str(call.params.get("markdown_text") or "")]
        parts += [
            c.get("text", "")
            for c in call.params.get("chunks") or []
            if isinstance(c, dict) and c.get("type") == "markdown_text"
        ]
        return "".join(parts)

    def stream_text(self, channel: str, ts: str) -> str:
        """The markdown a stream has shown so far, reassembled from its chunks."""
        return self.message(channel, ts)["text"]

    def view(self, view_id: str) -> dict[str, Any]:
        """A view by id, as Slack stores it (with ``id``, ``hash``, ``state``...)."""
        with self._lock:
            return json.loads(json.dumps(self._views[view_id]))

    def view_stack(self, user_id: str = USER_ID) -> list[dict[str, Any]]:
        """The modals open for a user, bottom first (views.open resets, views.push adds)."""
        with self._lock:
            return [self.view(v) for v in self._stacks.get(user_id, [])]

    def top_view(self, user_id: str = USER_ID) -> dict[str, Any]:
        """The modal a user sees now; AssertionError if none is open."""
        stack = self.view_stack(user_id)
        if not stack:
            raise AssertionError(f"no modal open for {user_id}")
        return stack[-1]

    def close_views(self, user_id: str = USER_ID) -> None:
        """Forget the user's modal stack (as when they submit or close the last one)."""
        with self._lock:
            self._stacks.pop(user_id, None)

    def home_view(self, user_id: str = USER_ID) -> dict[str, Any] | None:
        """The Home tab last published for a user, or None."""
        with self._lock:
            vid = self._home.get(user_id)
            return self.view(vid) if vid else None

    # ================================================================= request handling
    def _dispatch(
        self, verb: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parsed = urllib.parse.urlsplit(path)
        if parsed.path.startswith("/response/"):
            return self._response_url(parsed.path.rsplit("/", 1)[-1], headers, body)
        if not parsed.path.startswith("/api/"):
            return 404, {"Content-Type": "text/plain"}, b"not found"
        method = parsed.path[len("/api/") :].strip("/")
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        encoding = "query"
        parse_error: _ApiError | None = None
        try:
            body_params, encoding = _parse_body(headers.get("content-type", ""), body)
            params.update(body_params)
        except _ApiError as exc:
            parse_error = exc
        except ValueError:
            parse_error = _ApiError("invalid_json")
        _decode_json_fields(params)

        token = None
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip() or None
        elif encoding != "json" and isinstance(params.get("token"), str) and params["token"]:
            token = params["token"]  # Slack ignores a token inside a JSON body
        if encoding != "json":
            params.pop("token", None)  # never keep a credential in the recorded params

        call = Call(
            method=method,
            params=params,
            headers=headers,
            time=time.time(),
            token=token,
            encoding=encoding,
            raw_body=body,
        )
        delay = self._latency.get(method, self._latency.get("*", 0.0))
        if delay:
            time.sleep(delay)
        with self._lock:
            gate = self._holds.get(method)
        if gate is not None:
            gate.wait(10.0)
        status, extra_headers, response = self._answer(call, parse_error)
        call.status, call.response = status, response
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()
        out_headers = {"Content-Type": "application/json; charset=utf-8", **extra_headers}
        return status, out_headers, json.dumps(response).encode("utf-8")

    def _answer(self, call: Call, parse_error: _ApiError | None) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self._lock:
            fault = self._take_fault(call)
            if fault is not None:
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                return fault.status, headers, {"ok": False, "error": fault.error}
            limited = self._rate_limited(call)
            if limited is None and self.tiers is not None:
                limited = self.tiers.check(
                    call.method, self.tokens.get(call.token or "", {}).get("team_id"), call.params, call.time
                )
            if limited is not None:
                return 429, {"Retry-After": str(limited)}, {"ok": False, "error": "ratelimited"}
        try:
            if parse_error is not None:
                raise parse_error
            handler = getattr(self, "_m_" + call.method.replace(".", "_"), None)
            if handler is None:
                raise _ApiError("unknown_method", req_method=call.method)
            with self._lock:
                ctx = None if call.method in _NO_TOKEN_METHODS else self._auth(call.token)
                result = handler(call.params, ctx, call)
            return 200, {}, {"ok": True, **result}
        except _ApiError as exc:
            response: dict[str, Any] = {"ok": False, "error": exc.error, **exc.extra}
            if exc.messages:  # capped so one bad list does not flood a test's output
                response["response_metadata"] = {"messages": exc.messages[:_MAX_MESSAGES]}
            return 200, {}, response

    def _take_fault(self, call: Call) -> _Fault | None:
        for fault in self._faults:
            if fault.method in (call.method, "*") and (fault.when is None or fault.when(call.params)):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _rate_limited(self, call: Call) -> int | None:
        rule = self._rate_limits.get(call.method)
        if rule is None:
            return None
        key = str(call.params.get("channel", "")) if rule.per_channel else "*"
        now = time.monotonic()
        hits = [t for t in rule.hits.get(key, []) if now - t < rule.per_seconds]
        if len(hits) >= rule.max_calls:
            rule.hits[key] = hits
            return rule.retry_after
        hits.append(now)
        rule.hits[key] = hits
        return None

    def _auth(self, token: str | None) -> dict[str, Any]:
        if not token:
            raise _ApiError("not_authed")
        info = self.tokens.get(token)
        if info is None:
            raise _ApiError("invalid_auth")
        if info["revoked"]:
            raise _ApiError("token_revoked")
        return {"token": token, "team": self.teams[info["team_id"]], **info}

    # ----------------------------------------------------------------- shared checks
    @staticmethod
    def _require(params: Mapping[str, Any], *names: str) -> None:
        missing = [n for n in names if params.get(n) in (None, "")]
        if missing:
            raise _ApiError("invalid_arguments", [f"[ERROR] missing required field: {n}" for n in missing])

    def _resolve_channel(self, ref: Any) -> dict[str, Any]:
        if not ref or not isinstance(ref, str):
            raise _ApiError("channel_not_found")
        if ref in self.channels:
            return self.channels[ref]
        if ref[:1] in ("U", "W") and ref in self.users:
            return self.channels[self.dm_channel(ref)]
        name = ref.lstrip("#")
        for chan in self.channels.values():
            if chan.get("name") == name:
                return chan
        raise _ApiError("channel_not_found")

    def _postable(self, ref: Any) -> dict[str, Any]:
        """The channel if the bot may post there, else the error Slack gives."""
        chan = self._resolve_channel(ref)
        if not chan["is_member"]:
            raise _ApiError("channel_not_found" if chan["is_private"] else "not_in_channel")
        if chan["is_archived"]:
            raise _ApiError("is_archived")
        return chan

    def _check_message_content(self, params: Mapping[str, Any], *, require_content: bool = True) -> None:
        text, blocks = params.get("text"), params.get("blocks")
        markdown = params.get("markdown_text")
        if require_content and not text and not blocks and not params.get("attachments") and not markdown:
            raise _ApiError("no_text")
        if text is not None and len(str(text)) > MSG_TEXT_LIMIT:
            raise _ApiError("msg_too_long")
        if markdown is not None and len(str(markdown)) > STREAM_TEXT_LIMIT:
            raise _ApiError("msg_too_long")
        if blocks in (None, "", []):
            return
        if isinstance(blocks, str):
            raise _ApiError("invalid_blocks_format")
        errs: list[str] = []
        _validate_blocks(blocks, "/blocks", MSG_BLOCKS_LIMIT, errs, self.max_total_options)
        if errs:
            raise _ApiError("invalid_blocks", errs)
        if len(json.dumps(blocks, ensure_ascii=False)) > MSG_BLOCKS_JSON_LIMIT:
            raise _ApiError("msg_blocks_too_long")

    def _bot_message(self, ctx: dict[str, Any], ts: str, params: Mapping[str, Any]) -> dict[str, Any]:
        team = ctx["team"]
        msg: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "ts": ts,
            "user": team["bot_user_id"],
            "bot_id": team["bot_id"],
            "app_id": APP_ID,
            "team": team["id"],
            "text": params.get("text") or params.get("markdown_text") or "",
        }
        for key in ("blocks", "attachments", "metadata", "username", "icon_emoji", "icon_url"):
            if params.get(key) not in (None, ""):
                msg[key] = _fill_ids(params[key]) if key == "blocks" else params[key]
        return msg

    def _find_message(self, chan: dict[str, Any], ts: Any) -> dict[str, Any]:
        for msg in self._messages.get(chan["id"], []):
            if msg["ts"] == ts:
                return msg
        raise _ApiError("message_not_found")

    def _thread_root(self, chan: dict[str, Any], thread_ts: Any) -> str:
        """Slack threads a reply-to-a-reply under the parent; mirror that."""
        for msg in self._messages.get(chan["id"], []):
            if msg["ts"] == thread_ts and msg.get("thread_ts") not in (None, msg["ts"]):
                return msg["thread_ts"]
        return str(thread_ts)

    def _store(self, chan: dict[str, Any], msg: dict[str, Any]) -> None:
        msgs = self._messages.setdefault(chan["id"], [])
        msgs.append(msg)
        thread_ts = msg.get("thread_ts")
        if thread_ts:
            for parent in msgs:
                if parent["ts"] == thread_ts:
                    parent["thread_ts"] = thread_ts
                    parent["reply_count"] = parent.get("reply_count", 0) + 1
                    parent["latest_reply"] = msg["ts"]

    @staticmethod
    def _public(msg: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in msg.items() if not k.startswith("_")}

    @staticmethod
    def _public_channel(chan: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in chan.items() if not k.startswith("_")}

    # ================================================================= API methods
    def _m_api_test(self, params: dict[str, Any], ctx: Any, call: Call) -> dict[str, Any]:
        return {"args": {k: v for k, v in params.items() if isinstance(v, str)}}

    def _m_auth_test(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        team = ctx["team"]
        out = {
            "url": f"https://{team['domain']}.slack.com/",
            "team": team["name"],
            "user": "pipebot",
            "team_id": team["id"],
            "user_id": team["bot_user_id"],
            "bot_id": team["bot_id"],
            "is_enterprise_install": False,
        }
        if team.get("enterprise_id"):
            out["enterprise_id"] = team["enterprise_id"]
        return out

    def _m_team_info(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        team_id = params.get("team") or ctx["team"]["id"]
        team = self.teams.get(team_id)
        if team is None:
            raise _ApiError("team_not_found")
        out = {
            "id": team["id"],
            "name": team["name"],
            "domain": team["domain"],
            "email_domain": "",
            "url": f"https://{team['domain']}.slack.com/",
            "icon": {"image_34": "https://example.invalid/34.png", "image_default": True},
        }
        if team.get("enterprise_id"):
            out["enterprise_id"] = team["enterprise_id"]
        return {"team": out}

    def _m_users_info(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        user = self.users.get(params.get("user") or "")
        if user is None:
            raise _ApiError("user_not_found")
        return {"user": json.loads(json.dumps(user))}

    def _m_conversations_info(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._resolve_channel(params.get("channel"))
        if chan["is_private"] and not chan["is_member"]:
            raise _ApiError("channel_not_found")
        return {"channel": self._public_channel(chan)}

    def _m_conversations_join(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._resolve_channel(params.get("channel"))
        if chan["is_im"] or chan["is_private"]:
            # A bot cannot join a private channel or a DM: it has to be invited.
            raise _ApiError("method_not_supported_for_channel_type")
        if chan["is_archived"]:
            raise _ApiError("is_archived")
        if chan["is_member"]:
            return {
                "channel": self._public_channel(chan),
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
        chan["is_member"] = True
        return {"channel": self._public_channel(chan)}

    def _m_chat_postMessage(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._postable(params.get("channel"))
        self._check_message_content(params)
        ts = self._next_ts()
        msg = self._bot_message(ctx, ts, params)
        if params.get("thread_ts"):
            msg["thread_ts"] = self._thread_root(chan, params["thread_ts"])
            if _truthy(params.get("reply_broadcast", False)):
                msg["subtype"] = "thread_broadcast"
        self._store(chan, msg)
        return {"channel": chan["id"], "ts": ts, "message": self._public(msg)}

    def _m_chat_postEphemeral(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._postable(params.get("channel"))
        user = params.get("user")
        if not user or user not in self.users:
            raise _ApiError("user_not_found")
        members = chan.get("_members")
        if members is not None and user not in members:
            raise _ApiError("user_not_in_channel")
        self._check_message_content(params)
        ts = self._next_ts()
        msg = self._bot_message(ctx, ts, params)
        msg.update(channel=chan["id"], user=user, _via="chat.postEphemeral")
        if params.get("thread_ts"):
            msg["thread_ts"] = str(params["thread_ts"])
        self._ephemerals.append(msg)
        return {"message_ts": ts}

    def _m_chat_update(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._resolve_channel(params.get("channel"))
        if chan["is_private"] and not chan["is_member"]:
            raise _ApiError("channel_not_found")
        msg = self._find_message(chan, params.get("ts"))
        if msg.get("bot_id") != ctx["team"]["bot_id"]:
            raise _ApiError("cant_update_message")
        self._check_message_content(params, require_content=False)
        if params.get("text") is None and params.get("blocks") is None and params.get("markdown_text") is None:
            raise _ApiError("no_text")
        msg.setdefault("_history", []).append({"text": msg.get("text"), "blocks": msg.get("blocks")})
        if params.get("text") is not None or params.get("markdown_text") is not None:
            msg["text"] = params.get("text") if params.get("text") is not None else params["markdown_text"]
        if params.get("blocks") is not None:
            msg["blocks"] = _fill_ids(params["blocks"] or [])
        if params.get("metadata") is not None:
            msg["metadata"] = params["metadata"]
        msg["edited"] = {"user": ctx["team"]["bot_user_id"], "ts": self._next_ts()}
        return {"channel": chan["id"], "ts": msg["ts"], "text": msg.get("text", ""), "message": self._public(msg)}

    def _m_chat_unfurl(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        unfurl_id, source = params.get("unfurl_id"), params.get("source")
        if unfurl_id or source:
            if not unfurl_id:
                raise _ApiError("missing_unfurl_id")
            if source not in ("composer", "conversations_history"):
                raise _ApiError("invalid_source")
            shared = self._shared.get(str(unfurl_id))
            if shared is None or shared["source"] != source:
                raise _ApiError("invalid_unfurl_id")
        else:
            if not params.get("channel"):
                raise _ApiError("missing_channel")
            if not params.get("ts"):
                raise _ApiError("missing_ts")
            shared = next(
                (sh for sh in self._shared.values() if sh["channel"] == params["channel"] and sh["ts"] == params["ts"]),
                None,
            )
            if shared is None:
                raise _ApiError("cannot_unfurl_message")
        if shared["team_id"] != ctx["team"]["id"]:
            raise _ApiError("cannot_unfurl_message")
        unfurls = params.get("unfurls")
        if unfurls in (None, ""):
            raise _ApiError("missing_unfurls")
        if not isinstance(unfurls, dict):
            raise _ApiError("invalid_unfurls_format")
        for url, card in unfurls.items():
            if url not in shared["urls"]:
                raise _ApiError("cannot_unfurl_url")
            if not isinstance(card, dict):
                raise _ApiError("invalid_unfurls_format")
            if card.get("blocks") is not None:
                errs: list[str] = []
                _validate_blocks(
                    card["blocks"], f"/unfurls/{url}/blocks", MSG_BLOCKS_LIMIT, errs, self.max_total_options
                )
                if errs:
                    raise _ApiError("invalid_blocks", errs)
        for url, card in unfurls.items():
            self._unfurls.append(
                {
                    "url": url,
                    "blocks": _fill_ids(card.get("blocks") or []),
                    "channel": shared["channel"],
                    "ts": shared["ts"],
                    "unfurl_id": unfurl_id,
                }
            )
        return {}

    def _m_chat_getPermalink(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._resolve_channel(params.get("channel"))
        if chan["is_private"] and not chan["is_member"]:
            raise _ApiError("channel_not_found")
        msg = self._find_message(chan, params.get("message_ts"))
        link = f"https://{ctx['team']['domain']}.slack.com/archives/{chan['id']}/p{msg['ts'].replace('.', '')}"
        if msg.get("thread_ts") not in (None, msg["ts"]):
            link += f"?thread_ts={msg['thread_ts']}&cid={chan['id']}"
        return {"channel": chan["id"], "permalink": link}

    # ----------------------------------------------------------------- streaming
    def _apply_chunks(self, msg: dict[str, Any], params: Mapping[str, Any]) -> None:
        markdown = params.get("markdown_text")
        chunks = params.get("chunks")
        if markdown is not None and len(str(markdown)) > STREAM_TEXT_LIMIT:
            raise _ApiError("msg_too_long")
        if chunks is not None:
            if isinstance(chunks, str) or not isinstance(chunks, list):
                raise _ApiError("invalid_chunks")
            for chunk in chunks:
                if not isinstance(chunk, dict) or chunk.get("type") not in (
                    "markdown_text",
                    "task_update",
                    "plan_update",
                    "blocks",
                ):
                    raise _ApiError("invalid_chunks")
                if chunk["type"] == "markdown_text":
                    if not isinstance(chunk.get("text"), str):
                        raise _ApiError("invalid_chunks")
                    if len(chunk["text"]) > STREAM_TEXT_LIMIT:
                        raise _ApiError("msg_too_long")
                if chunk["type"] == "task_update" and (
                    not chunk.get("id")
                    or not chunk.get("title")
                    or chunk.get("status") not in ("pending", "in_progress", "complete", "error")
                ):
                    raise _ApiError("invalid_chunks")
        total = len(str(markdown or "")) + sum(len(c["text"]) for c in chunks or [] if c["type"] == "markdown_text")
        if total > STREAM_TEXT_LIMIT:  # per call, whichever way the markdown came
            raise _ApiError("msg_too_long")
        if markdown:
            msg["text"] += str(markdown)
            msg["_chunks"].append({"type": "markdown_text", "text": str(markdown)})
        for chunk in chunks or []:
            msg["_chunks"].append(chunk)
            if chunk["type"] == "markdown_text":
                msg["text"] += chunk["text"]
            elif chunk["type"] == "task_update":
                task = msg["tasks"].setdefault(chunk["id"], {"id": chunk["id"]})
                for key in ("title", "status", "output", "sources"):
                    if key in chunk:
                        task[key] = chunk[key]
                if "details" in chunk:  # live Slack appends details, replaces title/status
                    task["details"] = task.get("details", "") + str(chunk["details"])
            elif chunk["type"] == "plan_update":
                msg["plan_title"] = chunk.get("title")
            elif chunk["type"] == "blocks":
                msg.setdefault("blocks", []).extend(chunk.get("blocks") or [])

    def _live_stream(self, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        self._require(params, "channel", "ts")
        chan = self._postable(params.get("channel"))
        msg = self._find_message(chan, params.get("ts"))
        if not msg.get("_stream") or not msg.get("streaming"):
            raise _ApiError("message_not_in_streaming_state")
        if time.monotonic() - msg["_started"] > self.stream_ttl:
            msg["streaming"] = False
            raise _ApiError("message_not_in_streaming_state")
        return chan, msg

    def _m_chat_startStream(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan = self._postable(params.get("channel"))
        self._require(params, "thread_ts")
        if self.streaming_refused:
            raise _ApiError(self.streaming_refused)
        if not chan["is_im"]:
            if not params.get("recipient_user_id"):
                raise _ApiError("missing_recipient_user_id")
            if not params.get("recipient_team_id"):
                raise _ApiError("missing_recipient_team_id")
            if params["recipient_user_id"] not in self.users:
                raise _ApiError("user_not_found")
        ts = self._next_ts()
        msg = self._bot_message(ctx, ts, {})
        msg.update(
            thread_ts=self._thread_root(chan, params["thread_ts"]),
            text="",
            streaming=True,
            tasks={},
            _stream=True,
            _chunks=[],
            _started=time.monotonic(),
        )
        for key in ("recipient_user_id", "recipient_team_id", "task_display_mode"):
            if params.get(key):
                msg[key] = params[key]
        self._apply_chunks(msg, params)
        self._store(chan, msg)
        return {"channel": chan["id"], "ts": ts}

    def _m_chat_appendStream(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan, msg = self._live_stream(params)
        if not params.get("markdown_text") and not params.get("chunks"):
            raise _ApiError("no_text")
        self._apply_chunks(msg, params)
        return {"channel": chan["id"], "ts": msg["ts"]}

    def _m_chat_stopStream(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        chan, msg = self._live_stream(params)
        self._apply_chunks(msg, params)
        blocks = params.get("blocks")
        if blocks:
            if isinstance(blocks, str):
                raise _ApiError("invalid_blocks_format")
            errs: list[str] = []
            _validate_blocks(blocks, "/blocks", MSG_BLOCKS_LIMIT, errs, self.max_total_options)
            if errs:
                raise _ApiError("invalid_blocks", errs)
            msg.setdefault("blocks", []).extend(blocks)
        if params.get("metadata"):
            msg["metadata"] = params["metadata"]
        msg["streaming"] = False
        return {"channel": chan["id"], "ts": msg["ts"], "message": self._public(msg)}

    # ----------------------------------------------------------------- views
    def _check_view(self, view: Any) -> dict[str, Any]:
        if view in (None, ""):
            raise _ApiError("invalid_arguments", ["[ERROR] missing required field: view"])
        if isinstance(view, str):
            raise _ApiError("invalid_arguments", ["[ERROR] view must be a JSON object [json-pointer:/view]"])
        errs = _validate_view(view, self.max_total_options)
        if errs:
            raise _ApiError("invalid_arguments", errs)
        if len(json.dumps(view)) > 250_000:
            raise _ApiError("view_too_large")
        return view

    def _use_trigger(self, trigger_id: Any) -> dict[str, Any]:
        if not trigger_id:
            raise _ApiError("invalid_arguments", ["[ERROR] missing required field: trigger_id"])
        trig = self._triggers.get(str(trigger_id))
        if trig is None:
            raise _ApiError("invalid_trigger_id")
        if trig["used"]:
            raise _ApiError("exchanged_trigger_id")
        if time.monotonic() - trig["issued"] > self.trigger_ttl:
            raise _ApiError("expired_trigger_id")
        trig["used"] = True
        return trig

    def _store_view(
        self,
        ctx: dict[str, Any],
        view: dict[str, Any],
        *,
        view_id: str | None = None,
        root: str | None = None,
        previous: str | None = None,
    ) -> dict[str, Any]:
        vid = view_id or self._new_id("V")
        external_id = view.get("external_id") or ""
        if external_id:
            for other in self._views.values():
                if other["external_id"] == external_id and other["id"] != vid:
                    raise _ApiError("duplicate_external_id")
        stored = {
            "id": vid,
            "team_id": ctx["team"]["id"],
            "type": view["type"],
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": _fill_ids(view.get("blocks", [])),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": external_id,
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": root or vid,
            "previous_view_id": previous,
            "app_id": APP_ID,
            "app_installed_team_id": ctx["team"]["id"],
            "bot_id": ctx["team"]["bot_id"],
        }
        self._views[vid] = stored
        return json.loads(json.dumps(stored))

    def _m_views_open(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        view = self._check_view(params.get("view"))
        if view.get("type") != "modal":
            raise _ApiError("invalid_arguments", ["[ERROR] must be modal [json-pointer:/view/type]"])
        trig = self._use_trigger(params.get("trigger_id"))
        stored = self._store_view(ctx, view)
        self._stacks[trig["user_id"]] = [stored["id"]]
        return {"view": stored}

    def _m_views_push(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        view = self._check_view(params.get("view"))
        trig = self._use_trigger(params.get("trigger_id"))
        stack = self._stacks.setdefault(trig["user_id"], [])
        if len(stack) >= VIEW_STACK_LIMIT:
            raise _ApiError("push_limit_reached")
        stored = self._store_view(ctx, view, root=stack[0] if stack else None, previous=stack[-1] if stack else None)
        stack.append(stored["id"])
        return {"view": stored}

    def _m_views_update(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        view = self._check_view(params.get("view"))
        vid = params.get("view_id")
        ext = params.get("external_id")
        if not vid and not ext:
            raise _ApiError("invalid_arguments", ["[ERROR] either view_id or external_id is required"])
        current = (
            self._views.get(vid) if vid else next((v for v in self._views.values() if v["external_id"] == ext), None)
        )
        if current is None:
            raise _ApiError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        stored = self._store_view(
            ctx, view, view_id=current["id"], root=current["root_view_id"], previous=current["previous_view_id"]
        )
        return {"view": stored}

    def _m_views_publish(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        view = self._check_view(params.get("view"))
        user_id = params.get("user_id")
        if not user_id:
            raise _ApiError("invalid_arguments", ["[ERROR] missing required field: user_id"])
        if view.get("type") != "home":
            raise _ApiError("invalid_arguments", ["[ERROR] must be home [json-pointer:/view/type]"])
        current = self._home.get(user_id)
        if current and params.get("hash") and params["hash"] != self._views[current]["hash"]:
            raise _ApiError("hash_conflict")
        stored = self._store_view(ctx, view, view_id=current)
        self._home[user_id] = stored["id"]
        return {"view": stored}

    # ----------------------------------------------------------------- OAuth
    def _m_oauth_v2_access(self, params: dict[str, Any], ctx: Any, call: Call) -> dict[str, Any]:
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        auth = call.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(auth[6:]).decode("utf-8").partition(":")
            except ValueError:
                raise _ApiError("invalid_client_id") from None
        if client_id != self.client_id:
            raise _ApiError("invalid_client_id")
        if client_secret != self.client_secret:
            raise _ApiError("bad_client_secret")
        code = self._oauth_codes.pop(str(params.get("code") or ""), None)
        if code is None:
            raise _ApiError("invalid_code")
        if code["redirect_uri"] and params.get("redirect_uri") != code["redirect_uri"]:
            raise _ApiError("bad_redirect_uri")
        team = self.teams.get(code["team_id"])
        if team is None:
            token = self.add_team(code["team_id"], code["team_name"], enterprise_id=code["enterprise_id"])
            team = self.teams[code["team_id"]]
        else:
            token = f"xoxb-{team['id']}-{secrets.token_hex(8)}"
            self.tokens[token] = {"team_id": team["id"], "kind": "bot", "revoked": False}
        if code["user_id"] not in self.users:
            self.add_user(code["user_id"], "installer", team_id=team["id"], is_admin=True)
        enterprise = {"id": team["enterprise_id"], "name": "Enterprise"} if team.get("enterprise_id") else None
        return {
            "access_token": token,
            "token_type": "bot",
            "scope": code["scope"],
            "bot_user_id": team["bot_user_id"],
            "app_id": APP_ID,
            "team": {"id": team["id"], "name": team["name"]},
            "enterprise": enterprise,
            "authed_user": {"id": code["user_id"]},
            "is_enterprise_install": False,
        }

    # ----------------------------------------------------------------- response_url
    def _response_url(self, rid: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        with self._cond:
            entry = self._response_urls.get(rid)
            if entry is None:
                return 404, {"Content-Type": "text/plain"}, b"no_such_url"
            if entry["uses"] >= RESPONSE_URL_USES:
                return 404, {"Content-Type": "text/plain"}, b"used_url"
            try:
                payload, _ = _parse_body(headers.get("content-type", "application/json"), body)
                if "payload" in payload and isinstance(payload["payload"], str):
                    payload = json.loads(payload["payload"])
            except (ValueError, _ApiError):
                return 400, {"Content-Type": "text/plain"}, b"invalid_payload"
            entry["uses"] += 1
            entry["posts"].append(payload)
            call = Call(
                method="response_url",
                params=payload,
                headers=headers,
                time=time.time(),
                token=None,
                encoding="json",
                raw_body=body,
                status=200,
                response={"ok": True},
            )
            text = payload.get("text")
            if text is not None and len(str(text)) > MSG_TEXT_LIMIT:
                call.status, call.response = 400, {"ok": False, "error": "msg_too_long"}
            else:
                team = self.teams[TEAM_ID]
                ctx = {"team": team}
                ts = self._next_ts()
                msg = self._bot_message(ctx, ts, payload)
                chan = self.channels.get(entry["channel"])
                if payload.get("thread_ts"):
                    msg["thread_ts"] = str(payload["thread_ts"])
                if payload.get("response_type") == "in_channel" and chan is not None:
                    self._store(chan, msg)
                else:
                    msg.update(
                        channel=entry["channel"],
                        user=entry["user"],
                        _via="response_url",
                        replace_original=payload.get("replace_original"),
                        delete_original=payload.get("delete_original"),
                    )
                    self._ephemerals.append(msg)
            self._calls.append(call)
            self._cond.notify_all()
            status = call.status
        return status, {"Content-Type": "text/plain"}, (b"ok" if status == 200 else b"msg_too_long")


def fake_slack_fixture() -> Iterator[FakeSlack]:
    """Generator for a pytest fixture: ``fake_slack = pytest.fixture(fake_slack_fixture)``."""
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()

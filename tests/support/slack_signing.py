"""Build HTTP requests exactly as Slack sends them to ``POST /slack/events``.

Why: the app's Slack surface must be tested through its real HTTP endpoint (Bolt's
signature check, body parsing, 3 s acks), so tests need requests that are
byte-for-byte what Slack sends: form-encoded slash commands, ``payload=<json>``
interactivity, JSON Events API envelopes, all signed with ``X-Slack-Signature``
(``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{raw body}``) and
``X-Slack-Request-Timestamp``. Each builder returns ``(body_bytes, headers)`` so it
can be posted with httpx (or anything) to any server.

Usage::

    slack = SlackRequests("my-signing-secret")
    body, headers = slack.slash_command("run digest hello", trigger_id=fake.new_trigger_id(),
                                        response_url=fake.new_response_url())
    httpx.post(f"{app_url}/slack/events", content=body, headers=headers)

    view = fake.top_view(USER_ID)                  # the modal the app opened
    body, headers = slack.view_submission(view, {"Name": "digest", "Model": "claude-haiku-4-5"})

Signing options accepted by every builder: ``timestamp`` (int seconds),
``stale=True`` (ten minutes old: Bolt must reject it), ``bad_signature=True``,
``retry_num`` / ``retry_reason`` (``X-Slack-Retry-Num`` / ``X-Slack-Retry-Reason``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes.slack import APP_ID, BOT_USER_ID, GENERAL, TEAM_DOMAIN, TEAM_ID, USER_ID

__all__ = [
    "DEFAULT_SIGNING_SECRET",
    "STALE_AGE",
    "SlackRequests",
    "find_element",
    "sign",
    "signature",
    "state_from_view",
]

DEFAULT_SIGNING_SECRET = "fake-signing-secret"
VERIFICATION_TOKEN = "fake-verification-token"  # deprecated by Slack but still sent
STALE_AGE = 600  # seconds; Slack's verifiers reject anything older than 300
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"

Headers = dict[str, str]


def signature(signing_secret: str, timestamp: int | str, body: bytes) -> str:
    """``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``, as Slack computes it."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def sign(
    body: bytes,
    signing_secret: str,
    content_type: str,
    *,
    timestamp: int | None = None,
    stale: bool = False,
    bad_signature: bool = False,
    retry_num: int | None = None,
    retry_reason: str | None = None,
) -> Headers:
    """Headers Slack would send with ``body``.

    ``stale`` back-dates the timestamp by ten minutes and ``bad_signature`` signs with
    a wrong secret, so tests can check that the endpoint refuses both.
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    if stale:
        ts -= STALE_AGE
    secret = signing_secret + "-wrong" if bad_signature else signing_secret
    headers = {
        "Content-Type": content_type,
        "User-Agent": USER_AGENT,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(secret, ts, body),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
    elif retry_reason is not None:
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers


def _form(fields: Mapping[str, Any]) -> bytes:
    """Form-encode like Slack: ``%20`` for spaces, ``/`` and ``:`` left as they are."""
    clean = {
        k: ("true" if v is True else "false" if v is False else str(v)) for k, v in fields.items() if v is not None
    }
    # surrogatepass: a lone surrogate goes out as the bytes a broken client would send
    return urllib.parse.urlencode(clean, quote_via=urllib.parse.quote, safe="/:", errors="surrogatepass").encode(
        "ascii"
    )


def _payload_form(payload: Mapping[str, Any]) -> bytes:
    return b"payload=" + urllib.parse.quote(json.dumps(payload, separators=(",", ":")), safe="").encode("ascii")


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _dummy_trigger() -> str:
    return f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"


def _iter_elements(blocks: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    out = []
    for block in blocks:
        if block.get("element"):
            out.append((block, block["element"]))
        if block.get("accessory"):
            out.append((block, block["accessory"]))
        for el in block.get("elements") or []:
            if isinstance(el, Mapping) and el.get("action_id") is not None:
                out.append((block, el))
    return out


def find_element(blocks: Sequence[Mapping[str, Any]], action_id: str) -> tuple[str | None, Mapping[str, Any]]:
    """``(block_id, element)`` of the interactive element with ``action_id``.

    Raises KeyError listing the action ids present, so a test that looks for the
    wrong button says which ones exist.
    """
    found = _iter_elements(blocks)
    for block, el in found:
        if el.get("action_id") == action_id:
            return block.get("block_id"), el
    raise KeyError(f"no element with action_id {action_id!r}; have {[el.get('action_id') for _, el in found]}")


def _label(block: Mapping[str, Any]) -> str | None:
    label = block.get("label")
    return label.get("text") if isinstance(label, Mapping) else None


def _all_options(el: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    opts = list(el.get("options") or [])
    for group in el.get("option_groups") or []:
        opts.extend(group.get("options") or [])
    return opts


def _pick_option(el: Mapping[str, Any], wanted: Any) -> dict[str, Any]:
    if isinstance(wanted, Mapping):
        return dict(wanted)
    for opt in _all_options(el):
        if opt.get("value") == wanted or (opt.get("text") or {}).get("text") == wanted:
            return {"text": dict(opt["text"]), "value": opt.get("value")}
    raise KeyError(f"no option {wanted!r} in {el.get('action_id')}; have {[o.get('value') for o in _all_options(el)]}")


def element_state(el: Mapping[str, Any], value: Any) -> dict[str, Any]:
    """The ``state.values`` entry Slack reports for element ``el`` holding ``value``
    (``None`` = left empty, which Slack still reports)."""
    kind = el.get("type")
    state: dict[str, Any] = {"type": kind}
    if kind in ("static_select", "external_select", "radio_buttons"):
        state["selected_option"] = None if value is None else _pick_option(el, value)
    elif kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        state["selected_options"] = [_pick_option(el, v) for v in (value or [])]
    elif kind == "users_select":
        state["selected_user"] = value
    elif kind == "multi_users_select":
        state["selected_users"] = list(value or [])
    elif kind == "conversations_select":
        state["selected_conversation"] = value
    elif kind == "multi_conversations_select":
        state["selected_conversations"] = list(value or [])
    elif kind == "channels_select":
        state["selected_channel"] = value
    elif kind == "multi_channels_select":
        state["selected_channels"] = list(value or [])
    elif kind == "datepicker":
        state["selected_date"] = value
    elif kind == "timepicker":
        state["selected_time"] = value
    else:  # plain_text_input, number_input, email_text_input, url_text_input, ...
        state["value"] = None if value is None else str(value)
    return state


def state_from_view(view: Mapping[str, Any], values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``view.state`` as Slack sends it on submission.

    ``values`` is keyed by an input block's label text (``"Name"``, ``"Step 1"``), its
    block_id or its element's action_id; selects take the option value or text.
    Input blocks not mentioned are reported empty, as Slack does. Unknown keys raise
    KeyError naming the labels that exist (a renamed label should fail loudly).
    """
    values = dict(values or {})
    out: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for block, el in _iter_elements(view.get("blocks") or []):
        keys = [k for k in (_label(block), block.get("block_id"), el.get("action_id")) if k is not None]
        hit = next((k for k in keys if k in values), None)
        if block.get("type") != "input" and hit is None:
            continue  # Slack reports input blocks always, other elements only when set
        bid = block.get("block_id") or f"b{len(out)}"
        aid = el.get("action_id") or f"a{len(out)}"
        out.setdefault(bid, {})[aid] = element_state(el, values.get(hit) if hit is not None else None)
        if hit is not None:
            used.add(hit)
    unknown = set(values) - used
    if unknown:
        labels = [_label(b) or b.get("block_id") for b, _ in _iter_elements(view.get("blocks") or [])]
        raise KeyError(f"no input for {sorted(unknown)}; the view has {labels}")
    return {"values": out}


class SlackRequests:
    """Signed requests from one Slack workspace/app to the app's endpoint.

    Defaults match :mod:`tests.fakes.slack`'s preloaded workspace, so payloads
    and the fake agree on team, user and channel ids.
    """

    def __init__(
        self,
        signing_secret: str = DEFAULT_SIGNING_SECRET,
        *,
        team_id: str = TEAM_ID,
        team_domain: str = TEAM_DOMAIN,
        api_app_id: str = APP_ID,
        user_id: str = USER_ID,
        user_name: str = "casey",
        channel_id: str = GENERAL,
        channel_name: str = "general",
        enterprise_id: str | None = None,
        verification_token: str = VERIFICATION_TOKEN,
    ) -> None:
        self.signing_secret = signing_secret
        self.team_id = team_id
        self.team_domain = team_domain
        self.api_app_id = api_app_id
        self.user_id = user_id
        self.user_name = user_name
        self.channel_id = channel_id
        self.channel_name = channel_name
        self.enterprise_id = enterprise_id
        self.verification_token = verification_token

    # ------------------------------------------------------------------ signing
    def sign(self, body: bytes, content_type: str, **signing: Any) -> tuple[bytes, Headers]:
        """Sign an arbitrary body with this app's secret (see :func:`sign`)."""
        return body, sign(body, self.signing_secret, content_type, **signing)

    def _user(self, user_id: str | None) -> dict[str, Any]:
        uid = user_id or self.user_id
        name = self.user_name if uid == self.user_id else uid.lower()
        return {"id": uid, "username": name, "name": name, "team_id": self.team_id}

    def _team(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self.team_domain}

    def _enterprise(self) -> dict[str, Any] | None:
        return {"id": self.enterprise_id, "name": "Enterprise"} if self.enterprise_id else None

    def _interactive(self, payload: dict[str, Any], signing: dict[str, Any]) -> tuple[bytes, Headers]:
        base = {
            "token": self.verification_token,
            "api_app_id": self.api_app_id,
            "team": self._team(),
            "enterprise": self._enterprise(),
            "is_enterprise_install": False,
        }
        return self.sign(_payload_form({**base, **payload}), "application/x-www-form-urlencoded", **signing)

    # ------------------------------------------------------------------ slash commands
    def slash_command(
        self,
        text: str = "",
        *,
        command: str = "/pipebot",
        user_id: str | None = None,
        user_name: str | None = None,
        channel_id: str | None = None,
        channel_name: str | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
        **signing: Any,
    ) -> tuple[bytes, Headers]:
        """A slash command invocation (form-encoded, fields in Slack's order).

        Pass ``trigger_id=fake.new_trigger_id()`` when the app will open a modal and
        ``response_url=fake.new_response_url()`` when it will ``respond()``.
        """
        fields = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "enterprise_id": self.enterprise_id,
            "enterprise_name": "Enterprise" if self.enterprise_id else None,
            "channel_id": channel_id or self.channel_id,
            "channel_name": channel_name or (self.channel_name if not channel_id else channel_id.lower()),
            "user_id": user_id or self.user_id,
            "user_name": user_name or self._user(user_id)["name"],
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": False,
            "response_url": response_url
            or f"https://hooks.slack.com/commands/{self.team_id}/{secrets.randbelow(10**12)}/{secrets.token_hex(12)}",
            "trigger_id": trigger_id or _dummy_trigger(),
        }
        return self.sign(_form(fields), "application/x-www-form-urlencoded", **signing)

    # ------------------------------------------------------------------ interactivity
    def block_actions(
        self,
        actions: Sequence[Mapping[str, Any]] | None = None,
        *,
        action_id: str | None = None,
        value: Any = None,
        view: Mapping[str, Any] | None = None,
        message: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        channel_id: str | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
        **signing: Any,
    ) -> tuple[bytes, Headers]:
        """A ``block_actions`` payload from a modal (``view=``) or a message (``message=``).

        Either pass ``actions`` ready-made, or ``action_id`` (+ ``value`` for selects
        and buttons without one) to click the element with that action id in the
        view/message blocks. ``values`` pre-fills the view's ``state`` as
        :func:`state_from_view` does.
        """
        if actions is None:
            if action_id is None:
                raise ValueError("pass actions=[...] or action_id=")
            blocks = (view or message or {}).get("blocks") or []
            block_id, el = find_element(blocks, action_id)
            act: dict[str, Any] = {
                "type": el.get("type"),
                "action_id": action_id,
                "block_id": block_id,
                "action_ts": _action_ts(),
            }
            if el.get("type") == "button":
                act["text"] = el.get("text")
                act["value"] = el.get("value") if value is None else value
                if el.get("style"):
                    act["style"] = el["style"]
            else:
                act.update({k: v for k, v in element_state(el, value).items() if k != "type"})
            actions = [act]
        else:
            actions = [{"action_ts": _action_ts(), **a} for a in actions]
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id),
            "trigger_id": trigger_id or _dummy_trigger(),
            "actions": list(actions),
        }
        if view is not None:
            v = dict(view)
            v["state"] = state_from_view(view, values) if values is not None else view.get("state", {"values": {}})
            payload["container"] = {"type": "view", "view_id": v.get("id")}
            payload["view"] = v
        else:
            msg = dict(message or {"type": "message", "ts": _action_ts(), "text": ""})
            cid = channel_id or self.channel_id
            payload["container"] = {
                "type": "message",
                "message_ts": msg.get("ts"),
                "channel_id": cid,
                "is_ephemeral": False,
            }
            payload["channel"] = {"id": cid, "name": self.channel_name if cid == self.channel_id else cid.lower()}
            payload["message"] = msg
            payload["state"] = {"values": {}}
            payload["response_url"] = response_url or (
                f"https://hooks.slack.com/actions/{self.team_id}/{secrets.randbelow(10**12)}/{secrets.token_hex(12)}"
            )
        return self._interactive(payload, signing)

    def view_submission(
        self,
        view: Mapping[str, Any],
        values: Mapping[str, Any] | None = None,
        *,
        state: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        trigger_id: str | None = None,
        response_urls: Sequence[Mapping[str, Any]] = (),
        **signing: Any,
    ) -> tuple[bytes, Headers]:
        """A ``view_submission`` of ``view`` (as the app opened it, e.g. ``fake.top_view()``).

        ``values`` fills inputs by label/block_id/action_id (see :func:`state_from_view`);
        ``state`` overrides with a raw ``{"values": ...}``.
        """
        v = dict(view)
        v["state"] = dict(state) if state is not None else state_from_view(view, values)
        v.setdefault("id", "V" + secrets.token_hex(4).upper())
        v.setdefault("team_id", self.team_id)
        v.setdefault("app_id", self.api_app_id)
        payload = {
            "type": "view_submission",
            "user": self._user(user_id),
            "view": v,
            "trigger_id": trigger_id or _dummy_trigger(),
            "response_urls": list(response_urls),
        }
        return self._interactive(payload, signing)

    def view_closed(
        self, view: Mapping[str, Any], *, is_cleared: bool = False, user_id: str | None = None, **signing: Any
    ) -> tuple[bytes, Headers]:
        """A ``view_closed`` payload (sent only for views with ``notify_on_close``)."""
        payload = {"type": "view_closed", "user": self._user(user_id), "view": dict(view), "is_cleared": is_cleared}
        return self._interactive(payload, signing)

    def shortcut(
        self, callback_id: str, *, user_id: str | None = None, trigger_id: str | None = None, **signing: Any
    ) -> tuple[bytes, Headers]:
        """A global shortcut."""
        payload = {
            "type": "shortcut",
            "callback_id": callback_id,
            "user": self._user(user_id),
            "trigger_id": trigger_id or _dummy_trigger(),
            "action_ts": _action_ts(),
        }
        return self._interactive(payload, signing)

    def message_action(
        self,
        callback_id: str,
        message: Mapping[str, Any],
        *,
        user_id: str | None = None,
        channel_id: str | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
        **signing: Any,
    ) -> tuple[bytes, Headers]:
        """A message shortcut on ``message``."""
        cid = channel_id or self.channel_id
        payload = {
            "type": "message_action",
            "callback_id": callback_id,
            "user": self._user(user_id),
            "channel": {"id": cid, "name": self.channel_name if cid == self.channel_id else cid.lower()},
            "message": dict(message),
            "message_ts": message.get("ts"),
            "trigger_id": trigger_id or _dummy_trigger(),
            "action_ts": _action_ts(),
            "response_url": response_url
            or f"https://hooks.slack.com/app/{self.team_id}/{secrets.randbelow(10**12)}/{secrets.token_hex(12)}",
        }
        return self._interactive(payload, signing)

    # ------------------------------------------------------------------ Events API
    def event(
        self, event: Mapping[str, Any], *, event_id: str | None = None, event_time: int | None = None, **signing: Any
    ) -> tuple[bytes, Headers]:
        """An ``event_callback`` envelope around ``event`` (JSON)."""
        now = int(time.time())
        envelope = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "enterprise_id": self.enterprise_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": self.enterprise_id,
            "api_app_id": self.api_app_id,
            "event": {"event_ts": f"{now}.000100", **event},
            "type": "event_callback",
            "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
            "event_time": event_time or now,
            "authorizations": [
                {
                    "enterprise_id": self.enterprise_id,
                    "team_id": self.team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_urlsafe(24),
        }
        return self.sign(json.dumps(envelope).encode(), "application/json", **signing)

    def app_home_opened(self, user_id: str | None = None, tab: str = "home", **signing: Any) -> tuple[bytes, Headers]:
        """``app_home_opened`` for a user (the app should ``views.publish`` the Home tab)."""
        uid = user_id or self.user_id
        return self.event(
            {"type": "app_home_opened", "user": uid, "channel": "D" + uid.lstrip("UW"), "tab": tab}, **signing
        )

    def app_mention(
        self,
        text: str,
        *,
        user_id: str | None = None,
        channel_id: str | None = None,
        ts: str | None = None,
        thread_ts: str | None = None,
        **signing: Any,
    ) -> tuple[bytes, Headers]:
        """An ``app_mention`` event (``text`` should contain ``<@BOT_USER_ID>``)."""
        ev = {
            "type": "app_mention",
            "user": user_id or self.user_id,
            "text": text,
            "ts": ts or _action_ts(),
            "channel": channel_id or self.channel_id,
            "team": self.team_id,
        }
        if thread_ts:
            ev["thread_ts"] = thread_ts
        return self.event(ev, **signing)

    def url_verification(self, challenge: str | None = None, **signing: Any) -> tuple[bytes, Headers]:
        """The handshake Slack sends when the Request URL is saved."""
        body = {
            "token": self.verification_token,
            "challenge": challenge or secrets.token_urlsafe(32),
            "type": "url_verification",
        }
        return self.sign(json.dumps(body).encode(), "application/json", **signing)

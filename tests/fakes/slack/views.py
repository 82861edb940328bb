"""Trigger ids and ``views.open`` / ``push`` / ``update`` / ``publish``."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from tests.fakes.slack.blocks import fill_ids, validate_view
from tests.fakes.slack.limits import APP_ID, TEAM_ID, USER_ID, VIEW_STACK_LIMIT
from tests.fakes.slack.records import ApiError, Call
from tests.fakes.slack.state import SlackState


class ViewsMixin(SlackState):
    """Modals and the Home tab."""

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

    # ----------------------------------------------------------------- views
    def _check_view(self, view: Any) -> dict[str, Any]:
        if view in (None, ""):
            raise ApiError("invalid_arguments", ["[ERROR] missing required field: view"])
        if isinstance(view, str):
            raise ApiError("invalid_arguments", ["[ERROR] view must be a JSON object [json-pointer:/view]"])
        errs = validate_view(view, self.max_total_options)
        if errs:
            raise ApiError("invalid_arguments", errs)
        if len(json.dumps(view)) > 250_000:
            raise ApiError("view_too_large")
        return view

    def _use_trigger(self, trigger_id: Any) -> dict[str, Any]:
        if not trigger_id:
            raise ApiError("invalid_arguments", ["[ERROR] missing required field: trigger_id"])
        trig = self._triggers.get(str(trigger_id))
        if trig is None:
            raise ApiError("invalid_trigger_id")
        if trig["used"]:
            raise ApiError("exchanged_trigger_id")
        if time.monotonic() - trig["issued"] > self.trigger_ttl:
            raise ApiError("expired_trigger_id")
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
                    raise ApiError("duplicate_external_id")
        stored = {
            "id": vid,
            "team_id": ctx["team"]["id"],
            "type": view["type"],
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": fill_ids(view.get("blocks", [])),
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
            raise ApiError("invalid_arguments", ["[ERROR] must be modal [json-pointer:/view/type]"])
        trig = self._use_trigger(params.get("trigger_id"))
        stored = self._store_view(ctx, view)
        self._stacks[trig["user_id"]] = [stored["id"]]
        return {"view": stored}

    def _m_views_push(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        view = self._check_view(params.get("view"))
        trig = self._use_trigger(params.get("trigger_id"))
        stack = self._stacks.setdefault(trig["user_id"], [])
        if len(stack) >= VIEW_STACK_LIMIT:
            raise ApiError("push_limit_reached")
        stored = self._store_view(ctx, view, root=stack[0] if stack else None, previous=stack[-1] if stack else None)
        stack.append(stored["id"])
        return {"view": stored}

    def _m_views_update(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        view = self._check_view(params.get("view"))
        vid = params.get("view_id")
        ext = params.get("external_id")
        if not vid and not ext:
            raise ApiError("invalid_arguments", ["[ERROR] either view_id or external_id is required"])
        current = (
            self._views.get(vid) if vid else next((v for v in self._views.values() if v["external_id"] == ext), None)
        )
        if current is None:
            raise ApiError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise ApiError("hash_conflict")
        stored = self._store_view(
            ctx, view, view_id=current["id"], root=current["root_view_id"], previous=current["previous_view_id"]
        )
        return {"view": stored}

    def _m_views_publish(self, params: dict[str, Any], ctx: dict[str, Any], call: Call) -> dict[str, Any]:
        view = self._check_view(params.get("view"))
        user_id = params.get("user_id")
        if not user_id:
            raise ApiError("invalid_arguments", ["[ERROR] missing required field: user_id"])
        if view.get("type") != "home":
            raise ApiError("invalid_arguments", ["[ERROR] must be home [json-pointer:/view/type]"])
        current = self._home.get(user_id)
        if current and params.get("hash") and params["hash"] != self._views[current]["hash"]:
            raise ApiError("hash_conflict")
        stored = self._store_view(ctx, view, view_id=current)
        self._home[user_id] = stored["id"]
        return {"view": stored}

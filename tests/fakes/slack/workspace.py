"""The world the fake holds: workspaces, tokens, users, channels and DMs."""

from __future__ import annotations

import secrets
from typing import Any

from tests.fakes.slack.limits import (
    ADMIN_ID,
    BOT_ID,
    BOT_USER_ID,
    GENERAL,
    OWNER_ID,
    PRIVATE,
    RANDOM,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    TOKEN,
    USER_ID,
)
from tests.fakes.slack.state import SlackState


class WorkspaceMixin(SlackState):
    """Teams, users and channels, as tests set them up."""

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

"""Who may open a viewer page (DESIGN §10): the two modes, and the visibility rule per page.

**Modes.** Where people can sign in with Slack (``Settings.slack_signin_enabled``: an https
PIPEBOT_PUBLIC_URL and a Slack app's client id and secret), a page needs its signed link *and*
a signed-in person whose Sight (core/visibility.py, from Slack's membership) sees the run's
conversation. Anywhere else (a laptop on http, no Slack app) nobody can be asked who they
are, so the pages are served to this computer only (loopback clients), with the signed link
alone as before, and every other client gets a page saying what to set
(:class:`LoopbackGuard`). The client address is the socket's (``request.client``), never a
forwarded header that anyone could write.

**Per page** a :class:`Gate` answers for the run(s) a page shows: open, sign in first, or
hidden. Hidden gets exactly the 404 of a missing artifact, so a link to a run one may not see
says nothing of it. A cached "no" is asked again of Slack once (``fresh=True``; at most once
per :data:`FRESH_EVERY_S` per person) before it stands: someone just invited to a channel
sees its runs at once. The workspace setting
*Anyone with the link can open public-channel runs* lets a signed link alone open a run of a
public channel, nothing else. Lists on a page (branches, the compare picker) are filtered with
:meth:`Gate.scope`, so they never name a run the page would refuse.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from bot.slack.membership import MembershipUnknown, slack_sight
from bot.web import texts
from bot.web.notice import HEADERS, Notice, notice_response
from bot.web.notice_view import WhoLine
from bot.web.oidc import CALLBACK_PATH
from bot.web.sessions import COOKIE_NAME, WebSession, open_session
from core.artifacts import edit_links
from core.context import AppContext
from core.links import signing_keys
from core.settings import Settings
from core.visibility import Sight
from storage.db import transaction
from storage.repos import artifacts as artifact_repo
from storage.repos import workspaces
from storage.repos.artifacts import ChannelScope

#: The paths of the viewer (pages and sign-in); health and Slack's endpoint are not pages.
VIEWER_PREFIXES = ("/artifacts", "/compare", "/signin", "/signout")
#: What an anonymous visitor's lists may show: nothing (a link opens one run, not its siblings).
NOTHING = ChannelScope(channels=frozenset(), unplaced=False)
#: A refusal from the cached membership is asked again of Slack at most once per person and
#: workspace in this time: enough for "just invited" to work at once, and a page of hidden
#: links cannot spend the workspace's Slack budget (users.conversations is Tier 3).
FRESH_EVERY_S = 30

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8 and ::1 (also as ::ffff:127.x): this computer."""
    if not host:
        return False
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def loopback_refusal(settings: Settings, request: Request) -> Response | None:
    """The 403 page for a client of another computer when sign-in is off, else None."""
    if settings.slack_signin_enabled:
        return None
    client = request.client
    if is_loopback(client.host if client else None):
        return None
    callback = f"https://YOUR_HOST{CALLBACK_PATH}"
    page = Notice(texts.LOOPBACK_REFUSED_TITLE, texts.LOOPBACK_REFUSED.format(callback=callback))
    return notice_response(page, 403)


class LoopbackGuard:
    """ASGI middleware: the viewer's paths answer only this computer when sign-in is off."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(VIEWER_PREFIXES):
            refused = loopback_refusal(self.settings, Request(scope))
            if refused is not None:
                await refused(scope, receive, send)
                return
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class Viewer:
    """The person behind a request: ``signin`` says whether pages need one (the mode),
    ``session`` who signed in (None: nobody)."""

    signin: bool
    session: WebSession | None

    def who(self, here: str) -> WhoLine:
        if not self.signin:
            return WhoLine(texts.LOOPBACK_ONLY)
        if self.session is None:
            return WhoLine(texts.NOT_SIGNED_IN, texts.SIGN_IN, signin_path(here))
        who = f"@{self.session.name}" if self.session.name else self.session.user_id
        return WhoLine(texts.SIGNED_IN_AS.format(who=who), texts.SIGN_OUT, "/signout")


def here_of(request: Request) -> str:
    """This page's path and query, for ``next`` (sign in, then come back)."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def signin_path(next_path: str) -> str:
    return "/signin?next=" + quote(next_path, safe="")


def viewer_of(ctx: AppContext, request: Request) -> Viewer:
    """Who is looking: the mode, and the session cookie if it opens (no I/O)."""
    if not ctx.settings.slack_signin_enabled:
        return Viewer(False, None)
    return Viewer(True, open_session(ctx.keys, request.cookies.get(COOKIE_NAME)))


class Verdict(Enum):
    OPEN = "open"
    SIGN_IN = "sign_in"  # nobody signed in, and the link alone does not open it
    HIDDEN = "hidden"  # the signed-in person cannot see it: the same 404 as a missing one


@dataclass
class Gate:
    """The visibility rule for one request's viewer (see the module docstring). Asks Slack
    (cached) at most once per workspace per request; call from a worker thread."""

    ctx: AppContext
    viewer: Viewer
    _sights: dict[tuple[str, bool], Sight] = field(default_factory=dict)
    _public: dict[str, frozenset[str]] = field(default_factory=dict)

    def check(self, conn: Connection, team_id: str, artifact_ids: list[str]) -> Verdict:
        """Whether the viewer may open every one of ``artifact_ids`` (of ``team_id``, whose
        signed link was already verified). Raises MembershipUnknown when Slack cannot say."""
        if not self.viewer.signin:
            return Verdict.OPEN
        channels = artifact_repo.channels_of(conn, team_id, artifact_ids)
        verdicts = [self._one(team_id, channels.get(str(aid))) for aid in artifact_ids]
        for worst in (Verdict.HIDDEN, Verdict.SIGN_IN):
            if worst in verdicts:
                return worst
        return Verdict.OPEN

    def sees(self, conn: Connection, team_id: str, artifact_id: str) -> bool:
        """Whether a listed run (a branch's parent) may be linked to from the page."""
        return self.check(conn, team_id, [artifact_id]) is Verdict.OPEN

    def check_user(self, team_id: str, user_id: str, channel_id: str | None) -> bool:
        """Whether ``user_id`` (an edit link's person) sees a run of ``channel_id``."""
        source = slack_sight(self.ctx)
        if source.sight(team_id, user_id).sees(team_id, channel_id):
            return True
        return self._may_refresh(team_id, user_id) and source.sight(team_id, user_id, fresh=True).sees(
            team_id, channel_id
        )

    def _may_refresh(self, team_id: str, user_id: str) -> bool:
        try:
            return bool(self.ctx.redis.set(f"pipebot:web:fresh:{team_id}:{user_id}", 1, nx=True, ex=FRESH_EVERY_S))
        except Exception:  # noqa: BLE001 - without Redis, the cached answer stands
            return False

    def scope(self, team_id: str) -> ChannelScope | None:
        """The filter for the page's lists: None (everything) when sign-in is off."""
        if not self.viewer.signin:
            return None
        if self.viewer.session is None:
            return NOTHING
        return self._sight(team_id, fresh=False).scope

    def _one(self, team_id: str, channel_id: str | None) -> Verdict:
        if self.viewer.session is None:
            return Verdict.OPEN if self._public_link(team_id, channel_id) else Verdict.SIGN_IN
        if self._sight(team_id, fresh=False).sees(team_id, channel_id):
            return Verdict.OPEN
        if self._public_link(team_id, channel_id):
            return Verdict.OPEN
        if (team_id, True) not in self._sights and not self._may_refresh(team_id, self.viewer.session.user_id):
            return Verdict.HIDDEN
        return Verdict.OPEN if self._sight(team_id, fresh=True).sees(team_id, channel_id) else Verdict.HIDDEN

    def _sight(self, team_id: str, *, fresh: bool) -> Sight:
        assert self.viewer.session is not None
        key = (team_id, fresh)
        if key not in self._sights:
            session = self.viewer.session
            try:
                sight = slack_sight(self.ctx).sight(team_id, session.user_id, fresh=fresh)
            except MembershipUnknown:
                if session.team_id == team_id:
                    raise
                # Someone of another workspace whom this one does not know (OAuth mode, a
                # link of a workspace they are not in): they see nothing, as for a stranger.
                sight = Sight(team_id, session.user_id, frozenset(), full_member=False)
            self._sights[key] = sight
            if fresh:  # the fresh answer is also the best one for the page's lists
                self._sights[(team_id, False)] = sight
        return self._sights[key]

    def _public_link(self, team_id: str, channel_id: str | None) -> bool:
        if channel_id is None:
            return False
        with transaction(self.ctx.sessions) as s:
            if not workspaces.public_links(s, team_id):
                return False
        if team_id not in self._public:
            self._public[team_id] = slack_sight(self.ctx).public_channels(team_id)
        return channel_id in self._public[team_id]


def editor_verdict(ctx: AppContext, viewer: Viewer, token: str, artifact_id: str) -> Verdict:
    """Whether the editor may open for this viewer: the edit link's person must be the one
    signed in, and must still see the run (they may have left its channel since the link was
    made). A link that does not read is left to the editor, which says why it is refused."""
    if not viewer.signin:
        return Verdict.OPEN
    try:
        link = edit_links.read(token, signing_keys(ctx), artifact_id=artifact_id)
    except edit_links.EditLinkError:
        return Verdict.OPEN
    if viewer.session is None:
        return Verdict.SIGN_IN
    if viewer.session.user_id != link.user_id:
        return Verdict.HIDDEN
    with ctx.engine.connect() as conn:
        channels = artifact_repo.channels_of(conn, link.team_id, [link.artifact_id])
    if link.artifact_id not in channels:
        return Verdict.OPEN  # gone: the editor answers its own 404
    seen = Gate(ctx, viewer).check_user(link.team_id, link.user_id, channels[link.artifact_id])
    return Verdict.OPEN if seen else Verdict.HIDDEN


def refused(verdict: Verdict, request: Request, kind: str, not_found: Callable[[], Response]) -> Response:
    """The answer for a page not opened: to sign in (a redirect for a page, a 401 naming
    /signin for ``.json``/``.md``), or ``not_found()`` for a hidden run."""
    if verdict is Verdict.HIDDEN:
        return not_found()
    target = signin_path(here_of(request))
    if kind == ".json":
        return JSONResponse({"error": "signin_required", "signin": target}, status_code=401, headers=HEADERS)
    if kind == ".md":
        return PlainTextResponse(texts.SIGNIN_REQUIRED.format(signin=target), status_code=401, headers=HEADERS)
    return RedirectResponse(target, status_code=302 if request.method in ("GET", "HEAD") else 303, headers=HEADERS)


def membership_unknown(exc: MembershipUnknown) -> Response:
    """Slack would not say what the person can see (busy, a missing scope): say so, show nothing."""
    return notice_response(Notice(texts.MEMBERSHIP_UNKNOWN_TITLE, str(exc)), 503)


__all__ = [
    "Gate",
    "editor_verdict",
    "LoopbackGuard",
    "MembershipUnknown",
    "Verdict",
    "Viewer",
    "WhoLine",
    "here_of",
    "is_loopback",
    "loopback_refusal",
    "membership_unknown",
    "refused",
    "signin_path",
    "viewer_of",
]

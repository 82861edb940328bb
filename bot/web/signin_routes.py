"""GET /signin, GET /signin/callback, GET /signout: Sign in with Slack for the web viewer.

A separate OAuth flow from the app's install (Slack refuses to mix Sign in with Slack's
``openid`` scope with bot scopes): ``/signin`` sends the person to Slack's authorize page with
a one-time state, a nonce and a PKCE challenge (bot/web/oidc.py), and leaves in the browser a
short cookie bound to that state, which the callback requires (login CSRF); Slack sends them back to
``/signin/callback`` with a code, which is exchanged at ``openid.connect.token`` for an id
token naming their workspace and user. If this deployment serves that workspace, a sealed
session cookie (bot/web/sessions.py) signs them in and they go back to the page they wanted.

Every failure is a short page that says what happened and offers to sign in again, never a
traceback: a cancelled consent, a used or forged state, Slack refusing the code, Slack out of
reach, an id token that fails its checks, a workspace this pipebot does not serve, a callback
opened in another browser than the one that started the sign-in.
"""

from __future__ import annotations

import hashlib
import logging
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.slack.delivery import is_transient
from bot.web import oidc, texts
from bot.web.access import signin_path
from bot.web.notice import HEADERS, Notice, notice_response
from bot.web.sessions import (
    SIGNIN_COOKIE,
    WebSession,
    cleared_cookie,
    cleared_signin_cookie,
    seal_session,
    session_cookie,
    signin_cookie,
)
from core.context import AppContext

log = logging.getLogger(__name__)

#: How long the token exchange may wait for Slack.
TOKEN_TIMEOUT_S = 10
#: How long the bot token's workspace (auth.test) is remembered.
HOME_TEAM_TTL_S = 3600
#: Slack's errors that mean the app's own configuration is wrong, not the person's sign-in.
_CONFIG_ERRORS = frozenset({"bad_redirect_uri", "invalid_client_id", "bad_client_secret", "invalid_client"})
#: Slack's errors that mean "not now": the person may simply try again.


class SignInFailed(Exception):
    """The sign-in cannot finish; ``notice`` says why, ``status`` is the page's."""

    def __init__(self, notice: Notice, status: int = 400) -> None:
        super().__init__(notice.message)
        self.notice = notice
        self.status = status


def _again(heading: str, message: str, next_path: str = "/") -> SignInFailed:
    return SignInFailed(Notice(heading, message, texts.SIGN_IN_AGAIN, signin_path(next_path)))


def home_team(ctx: AppContext) -> str | None:
    """The workspace of SLACK_BOT_TOKEN (auth.test, remembered an hour); None if Slack cannot say."""
    token = ctx.settings.SLACK_BOT_TOKEN
    if not token:
        return None
    key = "pipebot:signin:home-team:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    cached = ctx.redis.get(key)
    if cached:
        return cached.decode() if isinstance(cached, bytes) else str(cached)
    from bot.slack.client import make_client

    try:
        team = make_client(ctx, token).auth_test().get("team_id")
    except Exception as exc:  # noqa: BLE001 - unknown is "not served", said on the page
        log.warning("could not ask Slack which workspace SLACK_BOT_TOKEN belongs to (%s)", type(exc).__name__)
        return None
    if isinstance(team, str) and team:
        ctx.redis.set(key, team, ex=HOME_TEAM_TTL_S)
        return team
    return None


def serves(ctx: AppContext, team_id: str, user_id: str) -> bool:
    """Whether this deployment serves someone of ``team_id``: an installation exists (OAuth
    mode), or it is the bot token's workspace; in one-workspace mode also someone of another
    organisation who is in one of the workspace's conversations (a Slack Connect partner: the
    rule shows them only the shared conversations they are in)."""
    if ctx.settings.slack_oauth_enabled:
        from bot.slack.client import installation_store

        return bool(installation_store(ctx).bot_token_for_team(team_id))
    home = home_team(ctx)
    if home is None:
        return False
    if team_id == home:
        return True
    from bot.slack.client import client_for
    from bot.slack.membership import slack_sight
    from bot.slack.people import person

    try:
        who = person(ctx, client_for(ctx, home), home, user_id)
        if who.gone or team_id not in who.team_ids:
            return False
        return bool(slack_sight(ctx).sight(home, user_id).channels)
    except Exception:  # noqa: BLE001 - PersonUnknown, MembershipUnknown, Slack out of reach: not served
        return False


def _exchange(ctx: AppContext, code: str, pending: oidc.Pending) -> oidc.Identity:
    s = ctx.settings
    callback = s.public_url + oidc.CALLBACK_PATH
    client = WebClient(base_url=s.SLACK_API_URL, timeout=TOKEN_TIMEOUT_S)
    try:
        answer = client.openid_connect_token(
            client_id=s.SLACK_CLIENT_ID or "",
            client_secret=s.SLACK_CLIENT_SECRET or "",
            code=code,
            redirect_uri=callback,
            code_verifier=pending.verifier,
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown_error") if exc.response is not None else "unknown_error"
        log.warning("openid.connect.token refused: %s", error)
        if is_transient(exc):  # Slack busy or briefly broken (bot/slack/delivery.py's one rule)
            raise SignInFailed(
                Notice(
                    texts.SIGNIN_FAILED_TITLE, texts.SLACK_UNREACHABLE, texts.SIGN_IN_AGAIN, signin_path(pending.next)
                ),
                502,
            ) from None
        if error in _CONFIG_ERRORS:
            raise SignInFailed(
                Notice(texts.SIGNIN_FAILED_TITLE, texts.SLACK_REFUSED_CONFIG.format(error=error, callback=callback)),
                502,
            ) from None
        raise _again(texts.SIGNIN_FAILED_TITLE, texts.SLACK_REFUSED.format(error=error), pending.next) from None
    except Exception as exc:  # noqa: BLE001 - network, TLS, a non-JSON answer: Slack out of reach
        log.warning("openid.connect.token failed: %s", type(exc).__name__)
        raise SignInFailed(
            Notice(texts.SIGNIN_FAILED_TITLE, texts.SLACK_UNREACHABLE, texts.SIGN_IN_AGAIN, signin_path(pending.next)),
            502,
        ) from None
    try:
        claims = oidc.claims_of(answer.get("id_token"))
        return oidc.check_id_token(claims, client_id=s.SLACK_CLIENT_ID or "", nonce=pending.nonce)
    except oidc.TokenUntrusted as exc:
        log.warning("id token refused: %s", exc)
        raise _again(texts.SIGNIN_FAILED_TITLE, texts.TOKEN_UNTRUSTED.format(reason=exc), pending.next) from None


def _finish(ctx: AppContext, state: str | None, code: str | None) -> tuple[WebSession, str]:
    pending = oidc.take(ctx.redis, state)
    if pending is None:
        raise _again(texts.SIGNIN_FAILED_TITLE, texts.STATE_GONE)
    if not code:
        raise _again(texts.SIGNIN_FAILED_TITLE, texts.MISSING_CODE, pending.next)
    who = _exchange(ctx, code, pending)
    if not serves(ctx, who.team_id, who.user_id):
        raise SignInFailed(Notice(texts.SIGNIN_FAILED_TITLE, texts.TEAM_NOT_SERVED.format(team=who.team_id)), 403)
    return WebSession(who.team_id, who.user_id, int(time.time()), who.name), pending.next


def signin_routes(ctx: AppContext) -> list[Route]:
    settings = ctx.settings

    async def signin(request: Request) -> Response:
        next_path = oidc.safe_next(request.query_params.get("next"))
        if not settings.slack_signin_enabled:
            # Only this computer gets here (bot/web/access.LoopbackGuard): pages need no sign-in.
            page = Notice(texts.SIGNIN_OFF_TITLE, texts.SIGNIN_OFF, "Open the page", next_path)
            return notice_response(page, 404)
        team = None
        if not settings.slack_oauth_enabled:
            team = await run_in_threadpool(home_team, ctx)
        state, pending = await run_in_threadpool(oidc.start, ctx.redis, next_path)
        url = oidc.authorize_url(
            oidc.authorize_endpoint(settings.SLACK_API_URL),
            client_id=settings.SLACK_CLIENT_ID or "",
            redirect_uri=settings.public_url + oidc.CALLBACK_PATH,
            state=state,
            nonce=pending.nonce,
            verifier=pending.verifier,
            team=team,
        )
        response = RedirectResponse(url, status_code=302, headers=HEADERS)
        binding = oidc.state_binding(ctx.keys, state)
        response.headers.append("Set-Cookie", signin_cookie(settings, binding, oidc.STATE_TTL_S))
        return response

    def spent(response: Response) -> Response:
        """Every callback spends the browser's started sign-in."""
        response.headers.append("Set-Cookie", cleared_signin_cookie(settings))
        return response

    async def callback(request: Request) -> Response:
        if not settings.slack_signin_enabled:
            return notice_response(Notice(texts.SIGNIN_OFF_TITLE, texts.SIGNIN_OFF), 404)
        q = request.query_params
        error = q.get("error")
        if error:
            await run_in_threadpool(oidc.take, ctx.redis, q.get("state"))  # the state is spent either way
            if error == "access_denied":
                page = Notice(texts.CANCELLED_TITLE, texts.CANCELLED, texts.SIGN_IN_AGAIN, signin_path("/"))
                return spent(notice_response(page, 400))
            page = Notice(
                texts.SIGNIN_FAILED_TITLE,
                texts.SLACK_REFUSED.format(error=error[:100]),
                texts.SIGN_IN_AGAIN,
                signin_path("/"),
            )
            return spent(notice_response(page, 400))
        if not oidc.bound_to(ctx.keys, q.get("state"), request.cookies.get(SIGNIN_COOKIE)):
            # Not this browser's sign-in (or its cookie expired): spend the state, sign nobody in.
            await run_in_threadpool(oidc.take, ctx.redis, q.get("state"))
            return spent(notice_response(_again(texts.SIGNIN_FAILED_TITLE, texts.STATE_GONE).notice, 400))
        try:
            session, next_path = await run_in_threadpool(_finish, ctx, q.get("state"), q.get("code"))
        except SignInFailed as failed:
            return spent(notice_response(failed.notice, failed.status))
        response = RedirectResponse(next_path, status_code=302, headers=HEADERS)
        response.headers.append("Set-Cookie", session_cookie(settings, seal_session(ctx.keys, session)))
        return spent(response)

    async def signout(request: Request) -> Response:
        response = notice_response(Notice(texts.SIGNED_OUT_TITLE, texts.SIGNED_OUT), 200)
        response.headers.append("Set-Cookie", cleared_cookie(settings))
        return response

    return [
        Route("/signin", signin, methods=["GET", "HEAD"]),
        Route(oidc.CALLBACK_PATH, callback, methods=["GET"]),
        Route("/signout", signout, methods=["GET", "POST"]),
    ]

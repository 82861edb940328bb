"""``PIPEBOT_ALLOWED_TEAMS``: the workspaces this deployment serves (empty: any; DESIGN §10).

Why two gates: an install from another workspace is refused at the OAuth callback, before
its token is stored (:class:`AllowedTeamsOAuthFlow`), with a page that says why; and a
request that still arrives from a team not allowed (an install made before the variable
was set, a single-token app shared into another workspace) gets no service
(:func:`refuse_other_teams`), with a line where Slack shows one (a slash command).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.error import BoltError
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.callback_options import FailureArgs
from slack_sdk.oauth.installation_store.models.installation import Installation

from core.context import AppContext

log = logging.getLogger(__name__)

NOT_ALLOWED_TEXT = (
    "pipebot does not serve this workspace: whoever runs this pipebot deployment has limited it to "
    "other workspaces (PIPEBOT_ALLOWED_TEAMS)."
)
INSTALL_REFUSED_TITLE = "pipebot cannot be installed in this workspace"


class TeamNotAllowed(BoltError):
    """An install from a team not in PIPEBOT_ALLOWED_TEAMS."""


def install_refused_page(team_name: str | None) -> str:
    """The page a refused install ends on (the team's name is Slack's, escaped)."""
    who = f" “{html.escape(team_name)}”" if team_name else ""
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>pipebot: install refused</title>"
        f"<body><h1>{html.escape(INSTALL_REFUSED_TITLE)}</h1>"
        f"<p>This pipebot deployment serves only the workspaces its operator listed, and the workspace{who} "
        "is not one of them. Nothing was saved.</p>"
        "<p>Ask whoever runs this deployment to add the workspace's team id to PIPEBOT_ALLOWED_TEAMS, "
        "or install a pipebot of your own.</p></body></html>"
    )


class AllowedTeamsOAuthFlow(OAuthFlow):
    """Bolt's OAuth flow, refusing to store an install from a team not allowed."""

    def __init__(self, ctx: AppContext, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ctx = ctx
        default_failure = self.failure_handler

        def failure(args: FailureArgs) -> BoltResponse:
            if isinstance(args.error, TeamNotAllowed):
                return BoltResponse(
                    status=403,
                    body=install_refused_page(str(args.error) or None),
                    headers={"Content-Type": "text/html; charset=utf-8"},
                )
            return default_failure(args)

        self.failure_handler = failure

    def store_installation(self, request: BoltRequest, installation: Installation) -> None:
        if not self._ctx.settings.team_allowed(installation.team_id):
            log.warning("refused an install from team %s: not in PIPEBOT_ALLOWED_TEAMS", installation.team_id)
            raise TeamNotAllowed(installation.team_name or "")
        super().store_installation(request, installation)


def refuse_other_teams(ctx: AppContext) -> Callable[..., BoltResponse | None]:
    """Global middleware: a request from a team not allowed is answered (a slash command with
    NOT_ALLOWED_TEXT, anything else with an empty ack) and goes no further."""

    def middleware(req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:  # noqa: A002
        team_id = req.context.team_id or req.context.enterprise_id
        if ctx.settings.team_allowed(team_id):
            return next()
        log.info("ignoring a Slack request from team %s: not in PIPEBOT_ALLOWED_TEAMS", team_id)
        if req.body.get("command"):
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": NOT_ALLOWED_TEXT})
        return BoltResponse(status=200, body="")

    return middleware

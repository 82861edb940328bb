"""What a run's read_artifact tool may return, from Slack (core/visibility.may_carry): an
artifact the run's requester may see, of the run's own conversation, of a public channel or
of no conversation at all, so a model cannot carry a private conversation's content into
another one. A run nobody in Slack asked for (the CLI) reads only its own conversation's
runs and those that posted nowhere.

The worker asks Slack only when the tool is called (most runs never call it), from the
shared membership cache (bot/slack/membership.py), and once more afresh before saying no.
If Slack will not say, the answer is no.
"""

from __future__ import annotations

import logging

from bot.slack.membership import MembershipUnknown, slack_sight
from bot.slack.seeing import recheck_allowed
from core.context import AppContext
from core.visibility import ArtifactGate, may_carry, unattended_gate

log = logging.getLogger(__name__)


class SlackReadRule:
    """core.visibility.ReadRule from the workspace's Slack membership."""

    def __init__(self, ctx: AppContext) -> None:
        self._ctx = ctx

    def __call__(self, team_id: str, run_channel: str | None, requester: str | None) -> ArtifactGate:
        if not requester:
            return unattended_gate(run_channel)

        def gate(artifact_channel: str | None) -> bool:
            source = slack_sight(self._ctx)
            try:
                public = source.public_channels(team_id)
                if may_carry(source.sight(team_id, requester), run_channel, artifact_channel, public=public):
                    return True
                if recheck_allowed(self._ctx, team_id, requester, artifact_channel):
                    sight = source.sight(team_id, requester, fresh=True)
                    return may_carry(sight, run_channel, artifact_channel, public=public)
            except MembershipUnknown as exc:
                log.info("read_artifact refused for %s: %s", requester, exc)
            return False

        return gate

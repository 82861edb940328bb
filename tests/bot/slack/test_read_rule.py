"""What a run's read_artifact tool may return (bot/slack/read_rule.py over
core/visibility.may_carry): an artifact its requester may see, of the run's own conversation, a
public channel or none; a run nobody in Slack asked for reads only its own conversation's runs
and those that posted nowhere. Checked against the fake Slack's membership, and once through a
real worker whose model asks for a private run's artifact."""

from __future__ import annotations

import json

import pytest

from bot.slack.read_rule import SlackReadRule
from core.runs.intake import start_run
from core.runs.request import ReportTo
from core.visibility import Sight, may_carry, shows_where_pasted
from tests.fakes.llm_base import ToolCallSpec
from tests.fakes.slack import TEAM_ID
from tests.support.finished_runs import finished_run
from tests.support.people import trust_world
from tests.support.runs import HAIKU, drain, make_agent, make_pipeline, read_run, with_keys

# (the run's conversation, its requester) -> conversations whose runs it may read, and not.
# One person per test: Slack's budget for users.conversations is the workspace's (Tier 3).
CASES = {
    "colleague-in-public": (("public", "colleague"), ("public", "guest_channel", None), ("private", "dm")),
    "member-in-private": (("private", "member"), ("private", "public"), ("dm",)),
    "guest-in-theirs": (("guest_channel", "guest"), ("guest_channel",), ("public", None)),
    "outsider-in-shared": (("shared", "outsider"), ("shared",), ("public",)),
    "cli-in-public": (("public", None), ("public", None), ("guest_channel",)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_rule_for_each_requester(ctx, slack, case):
    world = trust_world(slack.fake)
    (where, who), reads, refused = CASES[case]
    gate = SlackReadRule(slack.ctx)(TEAM_ID, getattr(world, where), getattr(world, who) if who else None)
    for channel in reads:
        assert gate(getattr(world, channel) if channel else None), channel
    for channel in refused:
        assert not gate(getattr(world, channel) if channel else None), channel


def test_slack_refusing_to_say_means_no(ctx, slack):
    world = trust_world(slack.fake)
    slack.fake.fail_next("users.info", error="user_not_visible")
    assert not SlackReadRule(slack.ctx)(TEAM_ID, world.public, world.colleague)(world.public)


def test_the_pure_rules():
    anna = Sight("T1", "U1", frozenset({"C1", "G1"}), full_member=True)
    assert may_carry(anna, "C1", "G1", public=frozenset({"C1"})) is False
    assert may_carry(anna, "G1", "C1", public=frozenset({"C1"})) is True
    assert may_carry(None, None, None, public=frozenset()) is True
    assert shows_where_pasted("G1", "G1", run_public=False, pasted_shared=True) is True
    assert shows_where_pasted("C1", "C2", run_public=True, pasted_shared=True) is False
    assert shows_where_pasted(None, "C2", run_public=True, pasted_shared=False) is False


@pytest.fixture
def reader_env(worker_env, fake_slack, ctx) -> dict[str, str]:
    """A worker that knows Slack: its read_artifact rule asks the fake's membership."""
    return dict(worker_env, SLACK_BOT_TOKEN=fake_slack.token, SLACK_API_URL=fake_slack.url)


def test_a_worker_reads_no_private_run_into_another_conversation(ctx, fake_slack, reader_env, fake_anthropic):
    world = trust_world(fake_slack)
    with_keys(ctx, TEAM_ID, "anthropic")
    essay = make_pipeline(ctx, TEAM_ID, "Essay", [make_agent(ctx, TEAM_ID, "Drafter")])
    secret = finished_run(ctx, TEAM_ID, essay, "the back room's plan", fake=fake_slack, channel=world.private)
    public = finished_run(ctx, TEAM_ID, essay, "the open plan", fake=fake_slack, channel=world.public)
    reader = make_agent(ctx, TEAM_ID, "Reader", HAIKU, tools=["read_artifact"])
    make_pipeline(ctx, TEAM_ID, "Reader", [reader])

    def run_reading(artifact_id: str) -> str:
        fake_anthropic.reply_tool_calls([ToolCallSpec("read_artifact", {"artifact_id": artifact_id})])
        fake_anthropic.reply("done")
        before = len(fake_anthropic.calls("/v1/messages"))
        run = start_run(ctx, TEAM_ID, "Reader", "read it", requested_by=world.member, report_to=ReportTo(world.public))
        drain(reader_env)
        assert read_run(ctx, TEAM_ID, run.id).status == "succeeded"
        last = fake_anthropic.calls("/v1/messages")[before + 1].json["messages"][-1]
        return json.dumps([b for b in last["content"] if b["type"] == "tool_result"])

    refused = run_reading(secret.artifact_id)  # the member sees it, but this run posts in #open-plans
    assert "that this run may read" in refused and "back room" not in refused
    assert "the open plan" in run_reading(public.artifact_id)

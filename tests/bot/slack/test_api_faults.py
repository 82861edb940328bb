"""Slack Web API faults while handling a command: every one ends in a message the user
can act on, never a 500 and never a half-started or duplicated run."""

from __future__ import annotations

import pytest

from core.context import AppContext
from tests.fakes.slack import ADMIN_ID, GENERAL, TEAM_ID
from tests.support.runs import all_runs, make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer
from tests.support.waiting import wait_until


@pytest.fixture
def essay(ctx: AppContext) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    make_pipeline(ctx, TEAM_ID, "Essay", [make_agent(ctx, TEAM_ID, "Drafter")])


@pytest.mark.parametrize(
    "error, expected",
    [
        ("is_archived", "archived"),
        ("channel_not_found", "Invite me"),
        ("msg_too_long", "Slack refused the message that starts the run (`msg_too_long`)"),
        ("invalid_blocks", "Slack refused the message that starts the run (`invalid_blocks`)"),
        ("restricted_action", "Invite me"),
    ],
)
def test_run_post_refused_by_slack_is_explained_and_starts_nothing(
    ctx: AppContext, slack: SlackServer, essay: None, error: str, expected: str
) -> None:
    slack.fake.fail_next("chat.postMessage", error, when=lambda p: p.get("channel") == GENERAL)
    sent = slack.command("run Essay hello")
    assert sent.response.status_code == 200
    assert expected in sent.text()
    assert all_runs(ctx, TEAM_ID) == []
    # the same person trying again right away works
    slack.command("run Essay hello again")
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run")


def test_a_ratelimited_answer_to_the_run_post_is_retried_and_starts_the_run(
    ctx: AppContext, slack: SlackServer, essay: None
) -> None:
    """A run is never refused because Slack is busy (issue 15): it waits its turn."""
    before = len(slack.fake.calls("chat.postMessage"))
    slack.fake.fail_next("chat.postMessage", "ratelimited", times=3, when=lambda p: p.get("channel") == GENERAL)
    slack.command("run Essay hello")
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 20, "the run")
    errors = [c.error for c in slack.fake.calls("chat.postMessage")[before:] if c.params.get("channel") == GENERAL]
    assert errors[:3] == ["ratelimited"] * 3 and None in errors[3:], errors


def test_rate_limited_run_post_is_retried_and_starts_one_run(ctx: AppContext, slack: SlackServer, essay: None) -> None:
    before = len(slack.fake.messages(GENERAL))
    slack.fake.fail_next("chat.postMessage", status=429, retry_after=1, when=lambda p: p.get("channel") == GENERAL)
    slack.command("run Essay hello")
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run")
    assert len(slack.fake.messages(GENERAL)) == before + 1


def test_rate_limited_views_open_still_opens_the_modal(ctx: AppContext, slack: SlackServer, essay: None) -> None:
    before = len(slack.fake.calls("views.open"))
    slack.fake.fail_next("views.open", status=429, retry_after=1)
    slack.command("agent new")
    first = slack.fake.wait_for("views.open", count=before + 1)
    assert first.error == "ratelimited"
    retried = slack.fake.wait_for("views.open", count=before + 2)
    assert retried.ok and retried.response["view"]["title"]["text"] == "New agent"


@pytest.mark.parametrize("status", [200, 429])
def test_users_info_ratelimited_during_the_admin_check(ctx: AppContext, slack: SlackServer, status: int) -> None:
    slack.fake.fail_next("users.info", "ratelimited", status=status, retry_after=0, times=5)
    reply = slack.command("settings", user_id=ADMIN_ID).text(timeout=30)  # 429s are waited out first
    assert "couldn't check who you are in Slack" in reply and "try again" in reply.lower()


def test_very_long_command_input_starts_a_run_and_the_first_message_fits(
    ctx: AppContext, slack: SlackServer, essay: None
) -> None:
    long_input = ("Paragraph with R&amp;D &lt;tags&gt; and emoji 🦦. " * 400).strip()
    before = len(slack.fake.calls("chat.postMessage"))
    slack.command("run Essay " + long_input)
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run")
    assert all_runs(ctx, TEAM_ID)[0].input == long_input.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    post = slack.fake.calls("chat.postMessage")[before]
    assert post.ok, post.error

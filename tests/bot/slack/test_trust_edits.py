"""Who may change what, through Slack (DESIGN §10): the workspace limits in `/pipebot
settings` (bad input refused inline, nothing saved; saved without re-entering keys, and
audited), guests and people of other organisations refused every way of creating, editing
or deleting agents and pipelines (forged submissions and buttons included), a pipeline's
budget changed only by its creator or an admin, and the admins' daily limit notice."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from bot.slack.blocks import common as common_blocks
from bot.slack.limit_notice import notify_admins
from bot.slack.listeners.pipelines import BUDGET_OWNER_ONLY
from bot.slack.member_guard import MEMBERS_ONLY
from core.context import AppContext
from storage.db import transaction
from storage.models import AuditEvent
from storage.repos import agents as agent_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import workspaces as workspace_repo
from tests.fakes.slack import ADMIN_ID, OWNER_ID, TEAM_ID, USER_ID, FakeSlack
from tests.support.runs import make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer, slack_settings

GUEST = "U0GUEST"
OUTSIDER = "U0OUTSIDE"  # a Slack Connect user of another organisation
OTHER_MEMBER = "U0OTHER"


@pytest.fixture(scope="module", autouse=True)
def _people(fake_slack: FakeSlack) -> None:
    fake_slack.add_user(GUEST, "gus")
    fake_slack.set_user(GUEST, is_restricted=True)
    fake_slack.add_user(OUTSIDER, "olga", team_id="T0OTHERORG")
    fake_slack.add_user(OTHER_MEMBER, "otto")


def submit(slack: SlackServer, view: dict[str, Any], values: dict[str, Any], **kw: Any) -> dict[str, Any]:
    r = slack.post(slack.signer.view_submission(view, values, **kw))
    assert r.status_code == 200, r.text
    return r.json() if r.content else {}


def _audit(ctx: AppContext) -> list[tuple[str, str, Any]]:
    with transaction(ctx.sessions) as s:
        return [(e.action, e.actor, e.detail) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]


# ---- limits in settings ---------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["-5", "abc", "0", "1e9999", "NaN"])
def test_a_bad_limit_gets_an_inline_error_and_nothing_is_saved(ctx: AppContext, slack: SlackServer, bad: str) -> None:
    view = slack.open_modal("settings", user_id=ADMIN_ID)
    answer = submit(slack, view, {"Daily limit (USD)": bad, "Runs per person per hour": bad}, user_id=ADMIN_ID)
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"daily_limit_usd", "runs_per_person_hour"}
    assert "US dollars" in answer["errors"]["daily_limit_usd"]
    with transaction(ctx.sessions) as s:
        assert workspace_repo.limits(s, TEAM_ID) == workspace_repo.Limits()
    assert _audit(ctx) == []


def test_limits_save_without_keys_show_again_and_are_audited(ctx: AppContext, slack: SlackServer) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    view = slack.open_modal("settings", user_id=OWNER_ID)
    values = {"Daily limit (USD)": "25", "Runs per person per hour": "4", "public_links": ["on"]}
    assert submit(slack, view, values, user_id=OWNER_ID) == {}
    with transaction(ctx.sessions) as s:
        assert workspace_repo.limits(s, TEAM_ID) == workspace_repo.Limits(Decimal("25"), 4, True)
        assert workspace_repo.public_links(s, TEAM_ID) is True
    assert "Daily limit: $25.00." in slack.reply_text(view["_response_url"])
    assert [a for a, _, _ in _audit(ctx)] == ["limits_changed", "setting_changed"]
    again = slack.open_modal("settings", user_id=OWNER_ID)
    dump = json.dumps(again)
    assert '"initial_value": "25.00"' in dump and '"initial_value": "4"' in dump
    assert submit(slack, again, {"Daily limit (USD)": "", "Runs per person per hour": "4"}, user_id=OWNER_ID) == {}
    with transaction(ctx.sessions) as s:
        assert workspace_repo.limits(s, TEAM_ID) == workspace_repo.Limits(None, 4, False)
    last = _audit(ctx)[-2:]
    assert last[0] == (
        "limits_changed",
        OWNER_ID,
        {"daily_limit_usd": {"old": "25.00", "new": None}, "runs_per_person_hour": {"old": 4, "new": 4}},
    )
    assert last[1] == ("setting_changed", OWNER_ID, {"old": True, "new": False})


# ---- guests and other organisations ------------------------------------------------------


@pytest.mark.parametrize("who", [GUEST, OUTSIDER], ids=["guest", "other-organisation"])
def test_guests_and_outsiders_cannot_open_agent_or_pipeline_forms(
    ctx: AppContext, slack: SlackServer, who: str
) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    agent = make_agent(ctx, TEAM_ID, "Drafter")
    make_pipeline(ctx, TEAM_ID, "Essay", [agent])
    opened = len(slack.fake.calls("views.open"))
    for command in ("agent new Spy", "agent edit Drafter", "pipeline new Plot", "pipeline edit Essay"):
        assert MEMBERS_ONLY in slack.command(command, user_id=who).text(), command
    for command in ("agent delete Drafter", "pipeline delete Essay"):
        assert MEMBERS_ONLY in slack.command(command, user_id=who).text(), command
    assert len(slack.fake.calls("views.open")) == opened


@pytest.mark.parametrize("who", [GUEST, OUTSIDER], ids=["guest", "other-organisation"])
def test_forged_submissions_and_delete_buttons_of_guests_change_nothing(
    ctx: AppContext, slack: SlackServer, who: str
) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    agent = make_agent(ctx, TEAM_ID, "Drafter")
    pipeline = make_pipeline(ctx, TEAM_ID, "Essay", [agent])
    agent_view = slack.open_modal("agent edit Drafter", user_id=USER_ID)
    answer = submit(slack, agent_view, {"name": "Hijacked"}, user_id=who)
    assert answer["errors"] == {"name": MEMBERS_ONLY}
    pipeline_view = slack.open_modal("pipeline edit Essay", user_id=USER_ID)
    answer = submit(slack, pipeline_view, {"name": "Hijacked"}, user_id=who)
    assert answer["errors"] == {"name": MEMBERS_ONLY}
    for action, item in ((common_blocks.DELETE_AGENT, agent), (common_blocks.DELETE_PIPELINE, pipeline)):
        hook = slack.fake.new_response_url()
        button = {"type": "button", "action_id": action, "block_id": "b", "value": json.dumps({"id": item})}
        r = slack.post(slack.signer.block_actions([button], user_id=who, response_url=hook))
        assert r.status_code == 200
        assert MEMBERS_ONLY in slack.reply_text(hook)
    with transaction(ctx.sessions) as s:
        assert agent_repo.get_agent(s, TEAM_ID, agent).name == "Drafter"
        assert pipeline_repo.get_pipeline(s, TEAM_ID, pipeline).name == "Essay"
    assert _audit(ctx) == []


def test_a_member_deletes_and_the_audit_trail_says_who(ctx: AppContext, slack: SlackServer) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    agent = make_agent(ctx, TEAM_ID, "Drafter")
    pipeline = make_pipeline(ctx, TEAM_ID, "Essay", [agent])
    for action, item in ((common_blocks.DELETE_PIPELINE, pipeline), (common_blocks.DELETE_AGENT, agent)):
        hook = slack.fake.new_response_url()
        button = {"type": "button", "action_id": action, "block_id": "b", "value": json.dumps({"id": item})}
        slack.post(slack.signer.block_actions([button], user_id=USER_ID, response_url=hook))
        assert "Deleted" in slack.reply_text(hook)
    assert [(a, who) for a, who, _ in _audit(ctx)] == [("pipeline_deleted", USER_ID), ("agent_deleted", USER_ID)]


# ---- a pipeline's budget -----------------------------------------------------------------------


def test_only_the_creator_or_an_admin_changes_a_budget(ctx: AppContext, slack: SlackServer) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    agent = make_agent(ctx, TEAM_ID, "Drafter")
    with transaction(ctx.sessions) as s:
        pipeline = pipeline_repo.create_pipeline(
            s, TEAM_ID, "Essay", [agent], budget_usd=Decimal("1.00"), created_by=USER_ID
        ).id
    view = slack.open_modal("pipeline edit Essay", user_id=OTHER_MEMBER)
    form = {"Name": "Essay", "Step 1": str(agent), "Budget (USD)": "1.00"}
    answer = submit(slack, view, form | {"Budget (USD)": "50"}, user_id=OTHER_MEMBER)
    assert answer["errors"] == {"budget_usd": BUDGET_OWNER_ONLY}
    answer = submit(slack, view, form | {"Budget (USD)": ""}, user_id=OTHER_MEMBER)  # removing it is a change too
    assert answer["errors"] == {"budget_usd": BUDGET_OWNER_ONLY}
    assert submit(slack, view, form | {"Name": "Essay two"}, user_id=OTHER_MEMBER) == {}  # the rest may change
    with transaction(ctx.sessions) as s:
        p = pipeline_repo.get_pipeline(s, TEAM_ID, pipeline)
        assert p.name == "Essay two" and p.budget_usd == Decimal("1.00")
    assert _audit(ctx) == []
    view = slack.open_modal("pipeline edit Essay two", user_id=USER_ID)
    assert submit(slack, view, form | {"Name": "Essay two", "Budget (USD)": "2.50"}, user_id=USER_ID) == {}
    view = slack.open_modal("pipeline edit Essay two", user_id=ADMIN_ID)
    assert submit(slack, view, form | {"Name": "Essay two", "Budget (USD)": ""}, user_id=ADMIN_ID) == {}
    with transaction(ctx.sessions) as s:
        assert pipeline_repo.get_pipeline(s, TEAM_ID, pipeline).budget_usd is None
    assert _audit(ctx) == [
        ("pipeline_budget_changed", USER_ID, {"old": "1.00", "new": "2.50"}),
        ("pipeline_budget_changed", ADMIN_ID, {"old": "2.50", "new": None}),
    ]


# ---- the daily limit notice ------------------------------------------------------------------


@pytest.fixture
def notice_ctx(_session_ctx: AppContext, ctx: AppContext, fake_slack: FakeSlack) -> Iterator[AppContext]:
    settings = slack_settings(_session_ctx.settings, fake_slack, PIPEBOT_ADMINS="U0LISTED")
    yield dataclasses.replace(_session_ctx, settings=settings)


def test_admins_are_told_by_dm_and_nobody_else(notice_ctx: AppContext, fake_slack: FakeSlack) -> None:
    for i in range(5):  # more users than a page, so the cursor is followed
        fake_slack.add_user(f"U0FILL{i}", f"fill{i}")
    fake_slack.add_user("U0LISTED", "lee")
    fake_slack.add_user("U0GUESTADMIN", "gia", is_admin=True)
    fake_slack.set_user("U0GUESTADMIN", is_restricted=True)
    fake_slack.add_user("U0GONEADMIN", "gil", is_admin=True, deleted=True)
    fake_slack.add_user("U0BOTADMIN", "bob", is_admin=True, is_bot=True)
    fake_slack.add_user("U0FARADMIN", "fay", is_admin=True, team_id="T0OTHERORG")
    before = len(fake_slack.calls("chat.postMessage"))
    from bot.slack import limit_notice

    page, limit_notice.USERS_PAGE = limit_notice.USERS_PAGE, 3
    try:
        told = notify_admins(notice_ctx, TEAM_ID, Decimal("8.10"), Decimal("10"))
    finally:
        limit_notice.USERS_PAGE = page
    assert told == {ADMIN_ID, OWNER_ID, "U0LISTED"}
    assert len(fake_slack.calls("users.list")) >= 3
    posts = fake_slack.calls("chat.postMessage")[before:]
    assert sorted(c.params["channel"] for c in posts) == sorted(told)
    assert "$8.10 of this workspace's daily limit of $10.00 today (81 %)" in posts[0].params["text"]

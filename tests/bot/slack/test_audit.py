"""`/pipebot audit` through the real `/slack/events` endpoint against the fake Slack: admins see
the latest events in words, newest first and escaped; a member and a guest get the settings
refusal."""

from __future__ import annotations

import json

from bot.slack.blocks.audit import ACTION_TEXT
from core.audit import AuditAction
from storage.db import transaction
from storage.repos import audit
from tests.fakes.slack import ADMIN_ID, TEAM_ID, USER_ID

GUEST = "U0GUEST1"


def test_every_action_has_words():
    assert set(ACTION_TEXT) == set(AuditAction)


def test_admins_see_the_latest_events_others_are_refused(ctx, slack):
    with transaction(ctx.sessions) as s:
        for i in range(55):
            audit.record(s, TEAM_ID, USER_ID, AuditAction.RUN_DELETED, f"Essay {i}")
        audit.record(s, TEAM_ID, ADMIN_ID, AuditAction.KEY_SAVED, "<b>Anthropic</b> & co", {"provider": "anthropic"})
        audit.record(s, "T0OTHER", ADMIN_ID, AuditAction.KEY_REMOVED, "someone else's")

    sent = slack.command("audit", user_id=ADMIN_ID)
    post = slack.replies(sent.hook)[0]
    assert post.get("response_type") == "ephemeral"
    text = json.dumps(post["blocks"], ensure_ascii=False)
    lines = [ln for b in post["blocks"] if b["type"] == "section" for ln in b["text"]["text"].split("\n")][1:]
    assert len(lines) == 50  # the latest 50
    assert f"<@{ADMIN_ID}> saved a provider key: *&lt;b&gt;Anthropic&lt;/b&gt; &amp; co*" in lines[0]
    assert lines[0].startswith("<!date^") and "UTC|" not in lines[0]
    assert f"<@{USER_ID}> deleted a run's result: *Essay 54*" in lines[1]
    assert "Essay 6*" in lines[-1] and "Essay 5*" not in text and "someone else" not in text

    assert "Only workspace admins and owners" in slack.command("audit", user_id=USER_ID).text()
    slack.fake.add_user(GUEST, "gus", real_name="Gus Guest", is_admin=True)
    slack.fake.set_user(GUEST, is_restricted=True)  # a guest, even one Slack calls an admin
    assert "Only workspace admins and owners" in slack.command("audit", user_id=GUEST).text()


def test_help_lists_audit(slack):
    assert "audit" in slack.command("help").text()

"""Triggers in Slack (DESIGN §13, issue 19 items 2, 3, 5): `/pipebot trigger new` and its inline
errors, a webhook's secret shown once, `/pipebot triggers` with Pause / Resume / Delete, and the
fake Slack delivering signed ``reaction_added`` and ``message`` events (with retries) to the real
`/slack/events` endpoint, against real PostgreSQL and Redis. Runs are asserted as recorded in
PostgreSQL (no worker: what is checked here ends when the run is queued and its first message
posted in the message's thread).
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot.slack.blocks import triggers as blocks
from bot.slack.commands_text import TRIGGER_NEW, TRIGGERS, UNKNOWN, parse_command
from bot.slack.trigger_runs import changed
from core.triggers import store, texts
from core.triggers.store import MESSAGE, REACTION, TriggerDraft
from storage.db import transaction
from storage.repos import triggers as trigger_repo
from tests.fakes.slack import ADMIN_ID, BOT_ID, GENERAL, PRIVATE, TEAM_ID, USER_ID
from tests.support.runs import all_runs, drain, make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer, message_text
from tests.support.waiting import wait_until

OTHER = "U0OTHERPERSON"
GUEST = "U0GUESTPERSON"
BOT_PERSON = "U0OTHERBOT"


@pytest.fixture
def digest(ctx, slack) -> int:
    with_keys(ctx, TEAM_ID, "anthropic")
    fake = slack.fake
    fake.add_user(OTHER, "robin", real_name="Robin Member")
    fake.add_user(GUEST, "gus", real_name="Gus Guest")
    fake.set_user(GUEST, is_restricted=True)
    fake.add_user(BOT_PERSON, "otherbot", is_bot=True)
    return make_pipeline(ctx, TEAM_ID, "Digest", [make_agent(ctx, TEAM_ID, "Summariser")])


def _trigger(ctx, pipeline_id: int, kind: str = REACTION, user_id: str = USER_ID, **fields: Any) -> store.TriggerView:
    view, _ = store.create(ctx, TEAM_ID, user_id, TriggerDraft(kind=kind, pipeline_id=pipeline_id, **fields))
    changed(ctx, TEAM_ID)  # as the Slack form does: every process reads the list again
    return view


def _send(slack: SlackServer, event: dict[str, Any], **signing: Any) -> None:
    r = slack.post(slack.signer.event(event, **signing))
    assert r.status_code == 200, r.text


def _submit(slack: SlackServer, view: dict[str, Any], values: dict[str, Any], **kw: Any) -> dict[str, Any]:
    r = slack.post(slack.signer.view_submission(view, values, **kw))
    assert r.status_code == 200, r.text
    return r.json() if r.content else {}


def _choose_kind(slack: SlackServer, view: dict[str, Any], kind: str) -> dict[str, Any]:
    """Pick **When**: the app rebuilds the modal (views.update); the view as Slack now shows it."""
    count = len(slack.fake.calls("views.update"))
    r = slack.post(
        slack.signer.block_actions(action_id=blocks.KIND_ACTION, value=kind, view=view, values={"When": kind})
    )
    assert r.status_code == 200, r.text
    call = slack.fake.wait_for("views.update", count=count + 1)
    assert call.ok, (call.error, call.response)
    return call.response["view"]


def _labels(view: dict[str, Any]) -> list[str]:
    return [b["label"]["text"] for b in view["blocks"] if b.get("type") == "input"]


def _runs(ctx) -> list[Any]:
    return all_runs(ctx, TEAM_ID)


# ---- the form ------------------------------------------------------------------------------


def test_the_form_shows_the_fields_of_the_chosen_when(ctx, slack, digest):
    view = slack.open_modal("trigger new")
    assert _labels(view) == ["Pipeline", "When", "Emoji", "Channels"]
    message_form = _choose_kind(slack, view, MESSAGE)
    assert _labels(message_form) == ["Pipeline", "When", "Matching", "Runs per hour", "Channels"]
    per_hour = next(b for b in message_form["blocks"] if b.get("block_id") == blocks.PER_HOUR_BLOCK)
    assert per_hour["element"]["initial_value"] == "30"
    assert "top-level" in json.dumps(message_form)  # the hint says what a new message is
    webhook_form = _choose_kind(slack, message_form, "webhook")
    assert _labels(webhook_form) == ["Pipeline", "When", "Name", "Channel"]


def test_an_unknown_emoji_is_refused_inline_and_real_ones_are_saved(ctx, slack, digest):
    view = slack.open_modal("trigger new")
    answer = _submit(slack, view, {"Pipeline": str(digest), "When": REACTION, "Emoji": ":no_such_thing:"})
    assert answer["response_action"] == "errors"
    assert "no emoji called :no_such_thing: in this workspace" in answer["errors"][blocks.EMOJI_BLOCK]
    assert not store.list_triggers(ctx, TEAM_ID)
    slack.fake.add_emoji("shipit")
    ctx.redis.flushdb()  # the emoji names are cached for minutes: a new upload is asked again
    assert _submit(slack, view, {"Pipeline": str(digest), "When": REACTION, "Emoji": "shipit"}) == {}
    assert _submit(slack, view, {"Pipeline": str(digest), "When": REACTION, "Emoji": ":thinking_face:"}) == {}
    assert sorted(t.emoji or "" for t in store.list_triggers(ctx, TEAM_ID)) == ["shipit", "thinking_face"]


def test_emoji_list_failing_accepts_the_name_silently(ctx, slack, digest):
    view = slack.open_modal("trigger new")
    slack.fake.fail_next("emoji.list", "missing_scope")
    assert _submit(slack, view, {"Pipeline": str(digest), "When": REACTION, "Emoji": "party_parrot"}) == {}
    [trigger] = store.list_triggers(ctx, TEAM_ID)
    assert trigger.emoji == "party_parrot"


def test_a_webhook_needs_one_channel_and_shows_its_secret_once(ctx, slack, digest):
    fake = slack.fake
    form = _choose_kind(slack, slack.open_modal("trigger new"), "webhook")
    two = _submit(slack, form, {"Pipeline": str(digest), "When": "webhook", "Channel": [GENERAL, "C0RANDOM"]})
    assert two["errors"] == {blocks.CHANNELS_BLOCK: texts.WEBHOOK_ONE_CHANNEL}
    done = _submit(
        slack, form, {"Pipeline": str(digest), "When": "webhook", "Name": "CI deploys", "Channel": [GENERAL]}
    )
    assert done["response_action"] == "update"
    [trigger] = store.list_triggers(ctx, TEAM_ID)
    shown = json.dumps(done["view"])
    assert f"{slack.ctx.settings.public_url}/hooks/{trigger.id}" in shown
    assert "not shown again" in shown and "curl -X POST" in shown
    secret = shown.split("Bearer ")[1].split('\\"')[0].split(" ")[0]
    with transaction(ctx.sessions) as s:
        row = trigger_repo.get(s, TEAM_ID, uuid.UUID(trigger.id))
        assert row is not None and store.secret_matches(row.secret_hash, secret)
    # never again: not in the list, not in any message or ephemeral
    listed = slack.command("triggers").text()
    assert "CI deploys" in listed and secret not in listed
    assert all(secret not in json.dumps(c.params) for c in fake.calls() if c.method != "views.open")


def test_channels_pipebot_is_not_in_are_refused(ctx, slack, digest):
    fake = slack.fake
    quiet = "C0QUIET" + str(int(time.time() * 1000) % 100000)
    fake.add_channel(quiet, "quiet", is_member=False)
    view = slack.open_modal("trigger new")
    answer = _submit(slack, view, {"Pipeline": str(digest), "When": REACTION, "Emoji": "memo", "Channels": [quiet]})
    assert answer["errors"][blocks.CHANNELS_BLOCK] == texts.not_in_channels("#quiet", webhook=False)
    form = _choose_kind(slack, slack.open_modal("trigger new"), "webhook")
    answer = _submit(slack, form, {"Pipeline": str(digest), "When": "webhook", "Channel": [PRIVATE]})
    assert "invite @pipebot" in answer["errors"][blocks.CHANNELS_BLOCK]
    assert (
        _submit(slack, form, {"Pipeline": str(digest), "When": "webhook", "Channel": [quiet]})["response_action"]
        == "update"
    )
    assert [t.channels for t in store.list_triggers(ctx, TEAM_ID)] == [[quiet]]  # a public one it joins to post


def test_guests_may_not_make_triggers(ctx, slack, digest):
    sent = slack.command("trigger new", user_id=GUEST)
    assert texts.GUESTS_CANNOT_OPEN in sent.text()
    view = slack.open_modal("trigger new")  # a member's form, submitted by a guest (a forged payload)
    answer = _submit(slack, view, {"Pipeline": str(digest), "When": REACTION, "Emoji": "memo"}, user_id=GUEST)
    assert answer["errors"] == {blocks.PIPELINE_BLOCK: texts.GUESTS_CANNOT}
    assert not store.list_triggers(ctx, TEAM_ID)


def test_bad_runs_per_hour_and_no_pipeline_are_said_under_their_fields(ctx, slack, digest):
    form = _choose_kind(slack, slack.open_modal("trigger new"), MESSAGE)
    answer = _submit(slack, form, {"When": MESSAGE, "Runs per hour": "lots"})
    assert answer["errors"] == {
        blocks.PIPELINE_BLOCK: texts.PIPELINE_MISSING,
        blocks.PER_HOUR_BLOCK: texts.RUNS_PER_HOUR,
    }


def test_help_lists_both_commands(ctx, slack):
    text = slack.command("help").text()
    assert "trigger new" in text and "triggers" in text


# ---- the list --------------------------------------------------------------------------------


def _press(slack: SlackServer, message: dict[str, Any], action_id: str, trigger_id: str, user_id: str) -> str:
    """Press a list button for ``trigger_id``; the response_url that answers it."""
    hook = slack.fake.new_response_url(user_id=user_id)
    r = slack.post(
        slack.signer.block_actions(
            action_id=action_id,
            value=json.dumps({"id": trigger_id}),
            message={"type": "message", "ts": "1.0", "text": "", "blocks": message["blocks"]},
            user_id=user_id,
            response_url=hook,
        )
    )
    assert r.status_code == 200, r.text
    return hook


def test_the_list_pauses_resumes_and_deletes_for_its_creator_or_an_admin(ctx, slack, digest):
    trigger = _trigger(ctx, digest, emoji="memo", channels=(GENERAL,))
    listed = slack.command("triggers").message()
    text = message_text(listed)
    assert "Digest" in text and ":memo:" in text and f"<#{GENERAL}>" in text and f"<@{USER_ID}>" in text

    hook = _press(slack, listed, blocks.TRIGGER_PAUSE, trigger.id, OTHER)
    assert texts.NOT_YOURS in slack.reply_text(hook)
    assert not store.list_triggers(ctx, TEAM_ID)[0].paused

    hook = _press(slack, listed, blocks.TRIGGER_PAUSE, trigger.id, USER_ID)
    paused = slack.replies(hook)[-1]
    assert paused["replace_original"] is True and "paused" in message_text(paused)
    assert store.list_triggers(ctx, TEAM_ID)[0].paused
    assert _in_blocks(paused, blocks.TRIGGER_RESUME)

    hook = _press(slack, paused, blocks.TRIGGER_RESUME, trigger.id, USER_ID)
    assert "Resumed" in slack.reply_text(hook) and not store.list_triggers(ctx, TEAM_ID)[0].paused

    delete = _find(listed, blocks.TRIGGER_DELETE)
    assert delete["confirm"]["confirm"]["text"] == "Delete"  # Slack asks before the click counts
    hook = _press(slack, listed, blocks.TRIGGER_DELETE, trigger.id, ADMIN_ID)  # an admin may
    assert "Deleted" in slack.reply_text(hook) and not store.list_triggers(ctx, TEAM_ID)
    hook = _press(slack, listed, blocks.TRIGGER_DELETE, trigger.id, USER_ID)
    assert texts.NOT_FOUND in slack.reply_text(hook)


def _find(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for el in block.get("elements") or []:
            if isinstance(el, dict) and el.get("action_id") == action_id:
                return el
    raise KeyError(action_id)


def _in_blocks(message: dict[str, Any], action_id: str) -> bool:
    try:
        _find(message, action_id)
    except KeyError:
        return False
    return True


# ---- reactions -----------------------------------------------------------------------------


def test_reactions_by_two_people_and_a_retry_start_one_run_in_the_messages_thread(ctx, slack, digest):
    fake = slack.fake
    trigger = _trigger(ctx, digest, emoji="memo", channels=(GENERAL,))
    message = fake.post_as_user(GENERAL, "Release notes: we shipped &lt;dark mode&gt;")
    history = len(fake.calls("conversations.history"))
    first = fake.reaction_event(message, "memo", user_id=USER_ID)
    _send(slack, first, event_id="EvREACT1")
    _send(slack, fake.reaction_event(message, "memo", user_id=OTHER))
    _send(slack, first, event_id="EvREACT1", retry_num=1)  # Slack's retry of the first
    wait_until(lambda: len(_runs(ctx)) >= 1, 10, "the run to be recorded")
    wait_until(lambda: fake.replies(GENERAL, message["ts"]), 10, "the run's message in the thread")
    [run] = _runs(ctx)
    assert run.input == "Release notes: we shipped <dark mode>"  # fetched: the event had no text
    assert run.channel_id == GENERAL and run.thread_ts == message["ts"]
    who = run.requested_by  # whichever of the two reactions was handled first
    assert who in (USER_ID, OTHER) and run.dedupe_key == f"reaction:{trigger.id}:{GENERAL}:{message['ts']}"
    assert run.origin == {"kind": "reaction", "id": trigger.id, "emoji": "memo", "by": who}
    first_message = message_text(fake.replies(GENERAL, message["ts"])[0])
    assert f"triggered by :memo: from <@{who}>" in first_message
    assert len(fake.calls("conversations.history")) - history == 1  # the message read once
    assert len(_runs(ctx)) == 1 and len(fake.replies(GENERAL, message["ts"])) == 1


def test_a_reaction_on_a_reply_reads_it_from_the_thread(ctx, slack, digest):
    fake = slack.fake
    _trigger(ctx, digest, emoji="memo")
    root = fake.post_as_user(GENERAL, "Incident 42")
    reply = fake.post_as_user(GENERAL, "Root cause: a full disk", thread_ts=root["ts"])
    _send(slack, fake.reaction_event(reply, "memo"))
    wait_until(lambda: len(_runs(ctx)) >= 1, 10, "the run to be recorded")
    [run] = _runs(ctx)
    assert run.input == "Root cause: a full disk" and run.thread_ts == root["ts"]
    assert fake.last("conversations.replies").params["ts"] == reply["ts"]


def test_other_emoji_bots_and_files_start_nothing(ctx, slack, digest):
    fake = slack.fake
    _trigger(ctx, digest, emoji="memo")
    message = fake.post_as_user(GENERAL, "Q3 plans")
    _send(slack, fake.reaction_event(message, "tada"))  # not the trigger's emoji: dropped at the ack
    _send(slack, {**fake.reaction_event(message, "memo"), "item": {"type": "file", "file": "F0123"}})
    users_info = len(fake.calls("users.info"))
    _send(slack, fake.reaction_event(message, "memo", user_id=BOT_PERSON))
    wait_until(
        lambda: any(c.params.get("user") == BOT_PERSON for c in fake.calls("users.info")[users_info:]),
        10,
        "the reacting account to be looked up",
    )
    other = fake.post_as_user(GENERAL, "Q4 plans")
    _send(slack, fake.reaction_event(other, "memo"))
    wait_until(lambda: len(_runs(ctx)) >= 1, 10, "the person's run")
    assert [r.input for r in _runs(ctx)] == ["Q4 plans"]


def test_a_reaction_where_pipebot_cannot_read_tells_the_person_to_invite_it(ctx, slack, digest):
    fake = slack.fake
    lounge = "C0LOUNGE" + str(int(time.time() * 1000) % 100000)
    fake.add_channel(lounge, "lounge", is_member=False)
    _trigger(ctx, digest, emoji="memo")  # every channel
    message = fake.post_as_user(lounge, "Can someone summarise this?")
    _send(slack, fake.reaction_event(message, "memo", channel=lounge))

    def told() -> list[str]:
        ephemerals = [m["text"] for m in fake.ephemerals(lounge, USER_ID)]
        dms = [m.get("text") or "" for m in fake.messages(fake.dm_channel(USER_ID))]
        return [t for t in ephemerals + dms if "invite @pipebot" in t]

    wait_until(lambda: bool(told()), 10, "the person to be told")
    assert f"<#{lounge}>" in told()[0]
    assert not _runs(ctx)


# ---- new messages --------------------------------------------------------------------------


def test_a_persons_message_runs_and_bots_edits_joins_and_pipebots_posts_do_not(ctx, slack, digest):
    fake = slack.fake
    trigger = _trigger(ctx, digest, kind=MESSAGE, channels=(GENERAL,))
    bot_post = fake.post_as_user(GENERAL, "deploy finished", user_id=BOT_PERSON)
    _send(slack, fake.message_event(bot_post, bot_id="B0OTHERBOT"))
    edited = fake.post_as_user(GENERAL, "typo")
    _send(slack, fake.message_event(edited, subtype="message_changed"))
    joined = fake.post_as_user(GENERAL, f"<@{OTHER}> has joined the channel", user_id=OTHER)
    _send(slack, fake.message_event(joined, subtype="channel_join"))
    _send(slack, fake.bot_post_event("⏳ Running *Digest*…"))  # pipebot's own post: no loop
    _send(slack, fake.message_event(fake.post_as_user(GENERAL, "a reply", thread_ts=edited["ts"])))
    _send(slack, fake.message_event(fake.post_as_user(GENERAL, "<@U0PIPEBOT> run Digest hi")))
    person = fake.post_as_user(GENERAL, "The build is red again")
    _send(slack, fake.message_event(person))
    wait_until(lambda: len(_runs(ctx)) >= 1, 10, "the run to be recorded")
    wait_until(lambda: fake.replies(GENERAL, person["ts"]), 10, "the run's message in the thread")
    [run] = _runs(ctx)
    assert run.input == "The build is red again" and run.thread_ts == person["ts"]
    assert run.requested_by == trigger.created_by
    assert run.origin == {"kind": "message", "id": trigger.id, "channel": GENERAL, "by": USER_ID}
    assert run.dedupe_key == f"msg:{trigger.id}:{GENERAL}:{person['ts']}"
    assert f"triggered by a new message in <#{GENERAL}>" in message_text(fake.replies(GENERAL, person["ts"])[0])
    assert BOT_ID  # pipebot's own post above carried its bot_id


def test_matching_text_picks_the_messages(ctx, slack, digest):
    fake = slack.fake
    _trigger(ctx, digest, kind=MESSAGE, matching="incident")
    _send(slack, fake.message_event(fake.post_as_user(GENERAL, "lunch at noon?")))
    _send(slack, fake.message_event(fake.post_as_user(GENERAL, "New INCIDENT: checkout is down")))
    wait_until(lambda: len(_runs(ctx)) >= 1, 10, "the run to be recorded")
    assert [r.input for r in _runs(ctx)] == ["New INCIDENT: checkout is down"]


def test_a_burst_starts_exactly_the_runs_per_hour(ctx, slack, digest):
    fake = slack.fake
    trigger = _trigger(ctx, digest, kind=MESSAGE, runs_per_hour=5, channels=(GENERAL,))
    events = [fake.message_event(fake.post_as_user(GENERAL, f"alert {i}")) for i in range(20)]
    first_window = int(time.time() // 3600)
    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(lambda e: _send(slack, e), events))
    windows = range(first_window, int(time.time() // 3600) + 1)  # one, unless the hour turned meanwhile
    counters = [f"pipebot:trigger:runs:{trigger.id}:{w}" for w in windows]
    wait_until(lambda: sum(int(ctx.redis.get(c) or 0) for c in counters) >= 20, 20, "every message to be counted")
    wait_until(lambda: len(_runs(ctx)) >= 5, 20, "the capped runs")
    dm = fake.dm_channel(USER_ID)
    wait_until(lambda: any("limit of 5 runs" in (m.get("text") or "") for m in fake.messages(dm)), 10, "the DM")
    skipped = sum("limit of 5 runs" in (m.get("text") or "") for m in fake.messages(dm))
    if len(windows) == 1:
        assert len(_runs(ctx)) == 5 and skipped == 1  # exactly the cap; told once per hour
    else:  # the hour turned during the burst: each hour holds its own cap
        assert 5 <= len(_runs(ctx)) <= 10 and 1 <= skipped <= 2


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("trigger new", TRIGGER_NEW),
        ("Trigger create", TRIGGER_NEW),
        ("triggers", TRIGGERS),
        ("trigger list", TRIGGERS),
    ],
)
def test_the_trigger_commands_parse(typed: str, name: str) -> None:
    assert parse_command(typed).name == name and parse_command(typed).error is None


def test_a_trigger_command_it_does_not_know_says_what_to_type() -> None:
    cmd = parse_command("trigger edit memo")
    assert cmd.name == UNKNOWN and cmd.error and "trigger new" in cmd.error and "triggers" in cmd.error


def test_a_reaction_run_completes_in_the_thread_and_keeps_naming_its_origin(ctx, slack, digest, worker_env):
    """With a real worker: the ✅ that replaces the first message still says what started it."""
    fake = slack.fake
    _trigger(ctx, digest, emoji="memo", channels=(GENERAL,))
    message = fake.post_as_user(GENERAL, "Summarise: the migration finished at 03:00")
    _send(slack, fake.reaction_event(message, "memo", user_id=OTHER))
    wait_until(lambda: len(_runs(ctx)) >= 1, 10, "the run to be recorded")
    worker = drain(dict(worker_env, SLACK_API_URL=fake.url, SLACK_BOT_TOKEN=fake.token))
    assert "Traceback" not in worker.stderr, worker.stderr[-3000:]
    [run] = _runs(ctx)
    assert run.status == "succeeded"
    status = message_text(fake.replies(GENERAL, message["ts"])[0])
    assert status.startswith("✅") and f"triggered by :memo: from <@{OTHER}>" in status
    assert len(fake.replies(GENERAL, message["ts"])) >= 2  # the result follows in the same thread


def test_a_paused_trigger_starts_nothing_until_resumed(ctx, slack, digest):
    fake = slack.fake
    trigger = _trigger(ctx, digest, emoji="memo")
    _send(slack, fake.reaction_event(fake.post_as_user(GENERAL, "warm the cache"), "tada"))  # the list is cached
    store.pause(ctx, TEAM_ID, trigger.id, USER_ID)
    changed(ctx, TEAM_ID)  # as the list's Pause does: counts at once, cache or not
    _send(slack, fake.reaction_event(fake.post_as_user(GENERAL, "while paused"), "memo"))
    store.resume(ctx, TEAM_ID, trigger.id, USER_ID)
    changed(ctx, TEAM_ID)
    _send(slack, fake.reaction_event(fake.post_as_user(GENERAL, "after resuming"), "memo"))
    wait_until(lambda: len(_runs(ctx)) >= 1, 10, "the run after resuming")
    assert [r.input for r in _runs(ctx)] == ["after resuming"]

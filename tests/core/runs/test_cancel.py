"""Cancel, end to end: the Cancel button clicked through the real `/slack/events` endpoint,
real PostgreSQL and Redis, a real worker process against the fake Anthropic API and the
fake Slack Web API.

A queued run never starts (no provider call); a running one has its model's stream closed
mid-reply (the fake model records that it never sent the end of its reply) and ends
failed "cancelled by …" with its finished steps in its artifact; someone who is neither
the requester nor an admin is refused and nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.slack.blocks.runs import RUN_CANCEL
from tests.fakes.slack import ADMIN_ID, GENERAL, TEAM_ID, USER_ID, FakeSlack
from tests.support.runs import (
    all_runs,
    drain,
    make_agent,
    make_pipeline,
    read_artifact,
    read_run,
    read_steps,
    start_worker,
    stop_worker,
    with_keys,
)
from tests.support.slack_app import SlackServer, message_text
from tests.support.waiting import wait_until

# fixtures: fake providers, worker_env (tests/support/runs.py); fake_slack, slack (tests/support/slack_app.py)

OTHER_ID = "U0OTHER"
DELTAS = [f"w{i:03d} " for i in range(200)]
SLOW_TEXT = "".join(DELTAS)


@pytest.fixture
def fake(slack: SlackServer) -> Iterator[FakeSlack]:
    slack.fake.clear_calls()
    slack.fake.add_user(OTHER_ID, "sam", real_name="Sam Member")
    yield slack.fake


def _env(worker_env: dict[str, str], fake: FakeSlack) -> dict[str, str]:
    return dict(worker_env, SLACK_API_URL=fake.url, SLACK_BOT_TOKEN=fake.token)


def _start(ctx, slack: SlackServer, text: str) -> Any:
    before = len(all_runs(ctx, TEAM_ID))
    response, _hook = slack.command(text)
    assert response.status_code == 200, response.text
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == before + 1, 10)
    return all_runs(ctx, TEAM_ID)[-1]


def _click(slack: SlackServer, run: Any, user_id: str, parent: dict[str, Any] | None = None) -> str:
    """Click Cancel on the run's parent message (as it is now, or ``parent``: a copy the
    clicker's Slack still shows) as ``user_id``; returns the response_url used."""
    parent = parent or slack.fake.message(GENERAL, run.thread_ts)
    hook = slack.fake.new_response_url(GENERAL, user_id)
    response = slack.post(
        slack.signer.block_actions(
            action_id=RUN_CANCEL, message=parent, user_id=user_id, channel_id=GENERAL, response_url=hook
        )
    )
    assert response.status_code == 200, response.text
    return hook


def _said(slack: SlackServer, hook: str) -> str:
    wait_until(lambda: slack.fake.response_url_posts(hook), 10)
    return message_text(slack.fake.response_url_posts(hook)[-1])


def _essay(ctx, steps: int = 1) -> None:
    with_keys(ctx, TEAM_ID, "anthropic")
    make_pipeline(ctx, TEAM_ID, "Essay", [make_agent(ctx, TEAM_ID, f"Writer {i}") for i in range(steps)])


def test_the_running_message_carries_a_cancel_button_for_its_run(ctx, slack, fake):
    _essay(ctx)
    run = _start(ctx, slack, "run Essay write about otters")
    parent = fake.message(GENERAL, run.thread_ts)
    buttons = [el for b in parent["blocks"] if b["type"] == "actions" for el in b["elements"]]
    assert [(b["action_id"], b["value"], b["text"]["text"]) for b in buttons] == [(RUN_CANCEL, str(run.id), "Cancel")]


def test_a_cancelled_queued_run_never_starts(ctx, slack, fake, fake_anthropic, worker_env):
    _essay(ctx)
    run = _start(ctx, slack, "run Essay write about otters")
    shown = fake.message(GENERAL, run.thread_ts)
    _click(slack, run, USER_ID)
    done = wait_until(lambda: (r := read_run(ctx, TEAM_ID, run.id)).status == "failed" and r, 10)
    assert (done.error_kind, done.error_message, done.cancel_requested_by) == (
        "cancelled",
        "cancelled by U0USER",
        USER_ID,
    )
    update = fake.wait_for("chat.update", lambda c: c.params.get("ts") == run.thread_ts, timeout=15)
    assert update.params["text"].startswith("❌ *Essay* for <@U0USER> failed: cancelled by <@U0USER>")
    assert not [b for b in update.params["blocks"] if b["type"] == "actions"]  # no Cancel on a finished run
    art = read_artifact(ctx, TEAM_ID, run.id)
    assert art.content["status"] == "failed" and art.content["error"]["kind"] == "cancelled"

    out = drain(_env(worker_env, fake))  # the job is still in the queue: the claim refuses it
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    assert fake_anthropic.calls("/v1/messages") == []
    after = read_run(ctx, TEAM_ID, run.id)
    assert (after.status, after.error_kind, after.attempts) == ("failed", "cancelled", 0)
    assert read_steps(ctx, run.id) == []

    again = _click(slack, run, USER_ID, shown)  # a second click on the old message: it finished, nothing changes
    assert "already finished" in _said(slack, again)
    assert read_run(ctx, TEAM_ID, run.id).finished_at == after.finished_at


def test_only_the_requester_or_an_admin_may_cancel(ctx, slack, fake):
    _essay(ctx)
    run = _start(ctx, slack, "run Essay write about otters")
    hook = _click(slack, run, OTHER_ID)
    assert _said(slack, hook) == "Only <@U0USER> or an admin can cancel this run."
    refused = read_run(ctx, TEAM_ID, run.id)
    assert (refused.status, refused.cancel_requested_by, refused.cancel_requested_at) == ("queued", None, None)
    assert not [c for c in fake.calls("chat.update") if c.params.get("ts") == run.thread_ts]

    _click(slack, run, ADMIN_ID)  # a workspace admin may
    done = wait_until(lambda: (r := read_run(ctx, TEAM_ID, run.id)).status == "failed" and r, 10)
    assert (done.error_message, done.cancel_requested_by) == ("cancelled by U0ADMIN", ADMIN_ID)
    update = fake.wait_for("chat.update", lambda c: c.params.get("ts") == run.thread_ts, timeout=15)
    assert "cancelled by <@U0ADMIN>" in update.params["text"]


def test_cancel_stops_a_running_run_mid_stream_and_keeps_its_finished_steps(
    ctx, slack, fake, fake_anthropic, worker_env
):
    _essay(ctx, steps=2)
    fake_anthropic.reply("first draft about otters")
    fake_anthropic.reply(SLOW_TEXT, deltas=DELTAS, chunk_delay=0.05)  # about 10 s of writing
    run = _start(ctx, slack, "run Essay write about otters")
    worker = start_worker(_env(worker_env, fake))
    try:
        second = wait_until(lambda: len(calls := fake_anthropic.calls("/v1/messages")) == 2 and calls[1], 60)
        wait_until(lambda: len(second.sent) >= 10, 30)  # the second step's words are coming
        hook = _click(slack, run, USER_ID)
        assert "Cancelling *Essay*" in _said(slack, hook)
        done = wait_until(lambda: (r := read_run(ctx, TEAM_ID, run.id)).status == "failed" and r, 30)
        wait_until(lambda: second.ended_at > 0, 30)
    finally:
        stop_worker(worker)
    assert (done.error_kind, done.error_message) == ("cancelled", "cancelled by U0USER")
    # the model's stream was closed before it finished: the fake never sent the end of the reply
    assert second.sent_at("message_stop") is None
    assert sum(1 for _t, ev in second.sent if b"text_delta" in ev) < len(DELTAS)
    assert len(fake_anthropic.calls("/v1/messages")) == 2  # nothing asked again
    first, cut = read_steps(ctx, run.id)
    assert (first.status, first.output) == ("succeeded", "first draft about otters")
    assert (cut.status, cut.error_kind) == ("failed", "cancelled")
    assert cut.output and SLOW_TEXT.startswith(cut.output.strip()) and len(cut.output) < len(SLOW_TEXT)
    art = read_artifact(ctx, TEAM_ID, run.id)
    assert art.content["error"] == {"kind": "cancelled", "message": "cancelled by U0USER", "step": 2}
    assert art.content["steps"][0]["status"] == "succeeded"
    assert art.content["steps"][0]["output"] == "first draft about otters"
    # Slack: the parent says who cancelled it, with a mention, and so does the result in the thread
    parent = fake.wait_for(
        "chat.update", lambda c: c.params.get("ts") == run.thread_ts and c.params["text"].startswith("❌"), timeout=15
    )
    assert "cancelled by <@U0USER>" in parent.params["text"]
    final = [m for m in fake.replies(GENERAL, run.thread_ts) if not m.get("_stream")][-1]
    assert "cancelled by <@U0USER>" in message_text(final)


def _home_event(slack: SlackServer, user_id: str) -> None:
    response = slack.post(slack.signer.event({"type": "app_home_opened", "user": user_id, "tab": "home"}))
    assert response.status_code == 200, response.text


def test_app_home_lists_a_waiting_run_with_cancel_and_a_click_cancels_it(ctx, slack, fake):
    _essay(ctx)
    run = _start(ctx, slack, "run Essay write about otters")
    _home_event(slack, USER_ID)
    fake.wait_for("views.publish", timeout=15)
    home = fake.home_view(USER_ID)
    cancels = [b["accessory"] for b in home["blocks"] if (b.get("accessory") or {}).get("action_id") == RUN_CANCEL]
    assert [c["value"] for c in cancels] == [str(run.id)]
    published = len(fake.calls("views.publish"))
    response = slack.post(slack.signer.block_actions(action_id=RUN_CANCEL, view=home, user_id=USER_ID))
    assert response.status_code == 200, response.text
    done = wait_until(lambda: (r := read_run(ctx, TEAM_ID, run.id)).status == "failed" and r, 10)
    assert (done.error_kind, done.cancel_requested_by) == ("cancelled", USER_ID)
    republished = fake.wait_for("views.publish", count=published + 1, timeout=15)
    assert not [
        b for b in republished.params["view"]["blocks"] if (b.get("accessory") or {}).get("action_id") == RUN_CANCEL
    ]  # finished: no Cancel any more


def test_pipebot_cancel_from_the_cli(ctx, slack, fake, worker_env):
    import subprocess
    import sys

    _essay(ctx)
    run = _start(ctx, slack, "run Essay write about otters")
    cmd = [sys.executable, "-m", "bot.cli.main", "cancel", str(run.id), "--team", TEAM_ID]
    out = subprocess.run(cmd, env=_env(worker_env, fake), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "cancelled: it was queued and will never start" in out.stdout
    done = read_run(ctx, TEAM_ID, run.id)
    assert (done.status, done.error_message) == ("failed", "cancelled by cli")
    update = fake.wait_for("chat.update", lambda c: c.params.get("ts") == run.thread_ts, timeout=15)
    assert "failed: cancelled by cli" in update.params["text"]
    again = subprocess.run(cmd, env=_env(worker_env, fake), capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "already finished" in again.stderr

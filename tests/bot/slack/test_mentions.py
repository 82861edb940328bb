"""`@pipebot run NAME [text]` (the ``app_mention`` event), signed as Slack signs it and sent to
the real `/slack/events` endpoint, against the fake Slack and real PostgreSQL/Redis: the run
posts in the mention's thread with the mention's files and, inside a thread, the thread; help,
usage and did-you-mean are answered to the person in the thread; retries start nothing twice.

Marked in the report as needing the core branch (intake storing files and the thread, and its
file rules): the assertions on ``runs.thread``, ``run_files`` and the refused .exe.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from typing import Any

import pytest

from bot.slack.chat_text import MENTION_HELP, MENTION_USAGE
from storage.db import transaction
from storage.repos import run_files as file_repo
from tests.fakes.slack import BOT_USER_ID, GENERAL, TEAM_ID, USER_ID
from tests.fakes.slack_socket_mode import APP_TOKEN
from tests.support.http_server import free_port
from tests.support.runs import all_runs, make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer, message_text
from tests.support.slack_signing import SlackRequests
from tests.support.waiting import wait_until

AT = f"<@{BOT_USER_ID}>"


@pytest.fixture
def digest(ctx) -> int:
    with_keys(ctx, TEAM_ID, "anthropic")
    return make_pipeline(ctx, TEAM_ID, "Digest", [make_agent(ctx, TEAM_ID, "Summariser")])


def _send(slack: SlackServer, event: dict[str, Any], **signing: Any) -> None:
    r = slack.post(slack.signer.event(event, **signing))
    assert r.status_code == 200, r.text


def _sent(slack: SlackServer, event: dict[str, Any], **signing: Any) -> dict[str, Any]:
    _send(slack, event, **signing)
    return event


def _told(slack: SlackServer, event: dict[str, Any]) -> str:
    """What the person was told about ``event`` (an ephemeral in its thread), waited for."""

    def found() -> list[dict[str, Any]]:
        return [m for m in slack.fake.ephemerals(GENERAL, USER_ID) if m.get("thread_ts") == event["ts"]]

    wait_until(lambda: bool(found()), 10, f"an answer to {event['text']!r}")
    [told] = found()
    return str(told["text"])


def _one_run(ctx) -> Any:
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) >= 1, 10, "the run to be recorded")
    [run] = all_runs(ctx, TEAM_ID)
    return run


def _file_names(ctx, run) -> list[str]:
    with transaction(ctx.sessions) as s:
        return [f.name for f in file_repo.files_of(s, run.id)]


def test_a_mention_runs_the_pipeline_in_its_thread_with_its_files(ctx, slack, digest):
    fake = slack.fake
    png = fake.add_file(b"\x89PNG\r\n\x1a\n....", "otters.png", mimetype="image/png", filetype="png")
    event = fake.mention_event(f"{AT} run Digest what is in &lt;this&gt; picture?", files=[png])
    _send(slack, event)
    run = _one_run(ctx)
    assert run.pipeline_name == "Digest" and run.requested_by == USER_ID
    assert run.input == "what is in <this> picture?"
    assert run.channel_id == GENERAL and run.thread_ts == event["ts"]  # the mention's thread
    wait_until(lambda: fake.replies(GENERAL, event["ts"]), 10, "the run's message in the mention's thread")
    assert "Digest" in message_text(fake.replies(GENERAL, event["ts"])[0])
    assert not fake.messages(GENERAL)[-1].get("bot_id")  # nothing of the run at the channel's top
    assert run.thread is None  # a mention at the top of a channel has no thread to read
    assert _file_names(ctx, run) == ["otters.png"]  # needs core: intake records the files


def test_a_mention_inside_a_thread_takes_the_threads_earlier_messages(ctx, slack, digest):
    fake = slack.fake
    root = fake.post_as_user(GENERAL, "Our Q3 plans")
    fake.post_as_user(GENERAL, "first idea", thread_ts=root["ts"])
    event = fake.mention_event(f"{AT} run Digest sum it up", thread_ts=root["ts"])
    _send(slack, event)
    run = _one_run(ctx)
    assert run.thread_ts == root["ts"] and run.channel_id == GENERAL
    # needs core: intake records the thread to read (the worker fetches it through our source)
    assert run.thread == {"ref": {"channel_id": GENERAL, "thread_ts": root["ts"], "before_ts": event["ts"]}}


def test_a_slack_connect_stub_is_completed_before_the_run(ctx, slack, digest):
    fake = slack.fake
    pdf = fake.add_file(b"%PDF-1.7", "brief.pdf", mimetype="application/pdf", filetype="pdf")
    _send(slack, fake.mention_event(f"{AT} run Digest summarise", files=[pdf], stub_files=True))
    run = _one_run(ctx)
    assert fake.last("files.info").params["file"] == pdf["id"]
    assert _file_names(ctx, run) == ["brief.pdf"]  # needs core: intake records the files


def test_help_and_usage_are_told_in_the_thread(ctx, slack, digest):
    fake = slack.fake
    assert _told(slack, _sent(slack, fake.mention_event(f"{AT} help"))) == MENTION_HELP
    for text in (AT, f"{AT}   run", f"{AT} what's up?"):
        assert _told(slack, _sent(slack, fake.mention_event(text))) == MENTION_USAGE
    assert not all_runs(ctx, TEAM_ID)


def test_a_missing_pipeline_gets_did_you_mean(ctx, slack, digest):
    told = _told(slack, _sent(slack, slack.fake.mention_event(f"{AT} run Digset the week")))
    assert "No pipeline named “Digset”" in told and "Did you mean *Digest*?" in told
    assert not all_runs(ctx, TEAM_ID)


def test_a_file_pipebot_cannot_see_refuses_the_run(ctx, slack, digest):
    fake = slack.fake
    hidden = fake.add_file(b"x", "plans.txt", channel="C0RANDOM")  # shared where pipebot is not
    gone = fake.add_file(b"y", "old.txt")
    fake.delete_file(gone["id"])
    first = _sent(slack, fake.mention_event(f"{AT} run Digest read this", files=[hidden], stub_files=True))
    second = _sent(slack, fake.mention_event(f"{AT} run Digest and this", files=[gone], stub_files=True))
    assert "invite @pipebot" in _told(slack, first) and "invite @pipebot" in _told(slack, second)
    assert not all_runs(ctx, TEAM_ID) and not fake.downloads(hidden["id"])


def test_an_exe_refuses_the_run_naming_its_type(ctx, slack, digest):
    fake = slack.fake
    exe = fake.add_file(b"MZ\x90\x00", "setup.exe", mimetype="application/x-msdownload", filetype="exe")
    event = _sent(slack, fake.mention_event(f"{AT} run Digest install this", files=[exe]))
    # needs core: intake's file rules refuse the type before anything is recorded or downloaded
    assert "setup.exe" in _told(slack, event)
    assert not all_runs(ctx, TEAM_ID) and not fake.downloads(exe["id"])


def test_a_retried_delivery_starts_one_run(ctx, slack, digest):
    event = slack.fake.mention_event(f"{AT} run Digest once")
    _send(slack, event, event_id="EvMENTION1")
    _send(slack, event, event_id="EvMENTION1", retry_num=1, retry_reason="http_timeout")
    _send(slack, event, event_id="EvMENTION2")  # the same message again: its dedupe key holds
    run = _one_run(ctx)
    wait_until(lambda: slack.fake.replies(GENERAL, event["ts"]), 10, "the run's message")
    assert len(all_runs(ctx, TEAM_ID)) == 1 and run.input == "once"


def test_another_apps_mention_is_ignored(ctx, slack, digest):
    fake = slack.fake
    bot_event = fake.mention_event(f"{AT} run Digest from a bot")
    bot_event["bot_id"] = "B0OTHERAPP"
    _send(slack, bot_event)
    assert _told(slack, _sent(slack, fake.mention_event(f"{AT} help"))) == MENTION_HELP  # a later one is answered
    assert not [m for m in fake.ephemerals(GENERAL) if m.get("thread_ts") == bot_event["ts"]]
    assert not all_runs(ctx, TEAM_ID)


def test_a_mention_over_socket_mode_is_answered(ctx, base_env, fake_slack, tmp_path):
    """The same event delivered the Socket Mode way (an ``events_api`` envelope to a real
    `pipebot serve` process) is acked and answered in its thread."""
    env = dict(
        base_env,
        SLACK_API_URL=fake_slack.url,
        SLACK_BOT_TOKEN=fake_slack.token,
        SLACK_SIGNING_SECRET="unused-in-socket-mode",
        SLACK_APP_TOKEN=APP_TOKEN,
    )
    cmd = [sys.executable, "-m", "bot.cli.main", "serve", "--port", str(free_port())]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: fake_slack.socket_mode.connected or proc.poll() is not None, 30, "a Socket Mode connection")
        assert proc.poll() is None, proc.communicate()
        event = fake_slack.mention_event(f"{AT} help")
        body, _ = SlackRequests("unused").event(event)
        envelope_id = fake_slack.socket_mode.deliver("events_api", json.loads(body))
        assert fake_slack.socket_mode.ack(envelope_id)["envelope_id"] == envelope_id

        def told() -> list[dict[str, Any]]:
            return [m for m in fake_slack.ephemerals(GENERAL, USER_ID) if m.get("thread_ts") == event["ts"]]

        wait_until(lambda: bool(told()), 15, "the help in the mention's thread")
        assert told()[0]["text"] == MENTION_HELP
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)


def test_a_mention_with_nothing_to_run_on_says_how(ctx, slack, digest):
    told = _told(slack, _sent(slack, slack.fake.mention_event(f"{AT} run Digest")))
    assert told.startswith("What should *Digest* run on?") and "@pipebot run Digest" in told
    assert not all_runs(ctx, TEAM_ID)

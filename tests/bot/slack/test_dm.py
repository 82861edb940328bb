"""Messages to pipebot in its Messages tab (``message`` events, ``channel_type: im``), signed
as Slack signs them, against the fake Slack and real PostgreSQL/Redis: ``run NAME text`` with
files starts a run in the DM, ``help`` and anything else are answered, and edits, deletions,
bots and retries start nothing.

Needs the core branch (intake recording files): the ``run_files`` assertion.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.chat_text import DM_FRIENDLY, DM_HELP, DM_USAGE
from storage.db import transaction
from storage.repos import run_files as file_repo
from tests.fakes.slack import TEAM_ID, USER_ID
from tests.support.runs import all_runs, make_agent, make_pipeline, with_keys
from tests.support.slack_app import SlackServer
from tests.support.waiting import wait_until


@pytest.fixture
def digest(ctx) -> int:
    with_keys(ctx, TEAM_ID, "anthropic")
    return make_pipeline(ctx, TEAM_ID, "Digest", [make_agent(ctx, TEAM_ID, "Summariser")])


def _send(slack: SlackServer, event: dict[str, Any], **signing: Any) -> dict[str, Any]:
    r = slack.post(slack.signer.event(event, **signing))
    assert r.status_code == 200, r.text
    return event


def _answers(slack: SlackServer, after_ts: str, count: int = 1) -> list[str]:
    """pipebot's messages in the DM after ``after_ts``, waited for."""
    dm = slack.fake.dm_channel(USER_ID)

    def found() -> list[str]:
        return [
            m.get("text") or "" for m in slack.fake.messages(dm) if m.get("bot_id") and float(m["ts"]) > float(after_ts)
        ]

    wait_until(lambda: len(found()) >= count, 10, f"{count} answer(s) in the DM")
    return found()


def test_run_in_a_dm_with_files_starts_a_run_there(ctx, slack, digest):
    fake = slack.fake
    csv = fake.add_file(
        b"a,b\n1,2\n", "numbers.csv", mimetype="text/csv", filetype="csv", channel=fake.dm_channel(USER_ID)
    )
    _send(slack, fake.dm_event("run Digest what changed?", files=[csv]))
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run")
    [run] = all_runs(ctx, TEAM_ID)
    assert run.channel_id == fake.dm_channel(USER_ID) and run.input == "what changed?"
    assert run.requested_by == USER_ID and run.thread is None
    with transaction(ctx.sessions) as s:  # needs core: intake records the files
        assert [f.name for f in file_repo.files_of(s, run.id)] == ["numbers.csv"]


def test_help_and_anything_else_are_answered(ctx, slack, digest):
    first = _send(slack, slack.fake.dm_event("help"))
    assert _answers(slack, first["ts"]) == [DM_HELP]
    second = _send(slack, slack.fake.dm_event("hello there"))
    assert _answers(slack, second["ts"]) == [DM_FRIENDLY]
    third = _send(slack, slack.fake.dm_event("run Nope something"))
    [answer] = _answers(slack, third["ts"])
    assert "No pipeline named “Nope”" in answer
    assert not all_runs(ctx, TEAM_ID)


def test_edits_deletions_bots_and_retries_start_nothing(ctx, slack, digest):
    fake = slack.fake
    base = _send(slack, fake.dm_event("hello"))
    edited = dict(fake.dm_event("run Digest edited"), subtype="message_changed")
    deleted = dict(fake.dm_event("run Digest deleted"), subtype="message_deleted")
    from_bot = dict(fake.dm_event("run Digest from a bot"), bot_id="B0OTHERAPP")
    for event in (edited, deleted, from_bot):
        _send(slack, event)
    once = fake.dm_event("run Digest only once")
    _send(slack, once, event_id="EvDM1")
    _send(slack, once, event_id="EvDM1", retry_num=1)
    wait_until(lambda: len(all_runs(ctx, TEAM_ID)) == 1, 10, "the run")
    last = _send(slack, fake.dm_event("help"))
    _answers(slack, last["ts"])  # every earlier event was handled by now
    [run] = all_runs(ctx, TEAM_ID)
    assert run.input == "only once"
    answers = _answers(slack, base["ts"])
    assert answers.count(DM_FRIENDLY) == 1 and answers[-1] == DM_HELP


def test_run_without_a_name_or_input_says_how(ctx, slack, digest):
    first = _send(slack, slack.fake.dm_event("run"))
    assert _answers(slack, first["ts"]) == [DM_USAGE]
    second = _send(slack, slack.fake.dm_event("run Digest"))
    [answer] = _answers(slack, second["ts"])
    assert answer.startswith("What should *Digest* run on?") and "`run Digest your input…`" in answer
    assert not all_runs(ctx, TEAM_ID)

"""Slack as a run's input source (bot/slack/input_source.py, bot/slack/file_refs.py) against
the fake Slack: downloads need the bot token, only go to Slack's hosts, and say clearly what
went wrong; Slack Connect stubs are completed with files.info; a thread is read in pages,
without pipebot's own progress, with display names."""

from __future__ import annotations

import dataclasses

import pytest
from slack_sdk import WebClient

from bot.slack.blocks import runs as msgs
from bot.slack.file_download import allowed_url
from bot.slack.file_refs import FileNotUsable, file_refs, file_refs_by_id
from bot.slack.input_source import SlackInputSource, slack_input_source
from bot.slack.thread_reader import is_own_progress
from core.inputs.refs import FileRef, ThreadRef
from core.inputs.source import InputUnavailable, input_source_for
from core.reporter import RunOutcome
from tests.fakes.slack import ADMIN_ID, CLIENT_ID, CLIENT_SECRET, GENERAL, RANDOM, TEAM_ID, USER_ID
from tests.fakes.slack.files import stub_of
from tests.support.slack_app import SlackServer, install_workspace, slack_settings

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 800  # ~200 KB: several chunks


def _client(slack: SlackServer) -> WebClient:
    return WebClient(token=slack.fake.token, base_url=slack.fake.url)


def _ref(obj: dict) -> FileRef:
    return FileRef(obj["id"], obj["name"], obj["mimetype"], obj["filetype"], obj["size"], obj["url_private"])


def _download(slack: SlackServer, ref: FileRef) -> list[bytes]:
    chunks: list[bytes] = []
    SlackInputSource(slack.ctx).download(TEAM_ID, ref, chunks.append)
    return chunks


# ---- downloads ------------------------------------------------------------------------------------


def test_the_entry_point_is_slacks_source(slack):
    assert isinstance(input_source_for(slack.ctx), SlackInputSource)
    assert isinstance(slack_input_source(slack.ctx), SlackInputSource)


def test_download_streams_the_bytes_with_the_bot_token(ctx, slack):
    obj = slack.fake.add_file(PNG, "otters.png", mimetype="image/png", filetype="png")
    chunks = _download(slack, _ref(obj))
    assert b"".join(chunks) == PNG
    assert len(chunks) > 1  # written as they arrive, not as one buffer
    [got] = slack.fake.downloads(obj["id"])
    assert got.headers["authorization"] == f"Bearer {slack.fake.token}" and got.status == 200


def test_without_the_token_slack_answers_a_login_page(slack):
    """What the fake does when the bearer is missing: the app must never take this page as the file."""
    import httpx

    obj = slack.fake.add_file(b"secret", "notes.txt")
    r = httpx.get(obj["url_private"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert b"secret" not in r.content


def test_a_file_in_a_channel_pipebot_is_not_in_says_invite(ctx, slack):
    obj = slack.fake.add_file(b"hidden", "plan.txt", channel=RANDOM)
    with pytest.raises(InputUnavailable) as err:
        _download(slack, _ref(obj))
    assert "invite @pipebot" in str(err.value) and "plan.txt" in str(err.value)
    assert slack.fake.downloads(obj["id"])[-1].content_type.startswith("text/html")


def test_a_deleted_file_says_it_was_deleted(ctx, slack):
    obj = slack.fake.add_file(b"gone soon", "old.txt")
    slack.fake.delete_file(obj["id"])
    with pytest.raises(InputUnavailable, match="old.txt was deleted"):
        _download(slack, _ref(obj))


def test_a_foreign_host_is_refused_without_a_request(ctx, slack):
    obj = slack.fake.add_file(b"data", "x.txt")
    before = len(slack.fake.downloads())
    elsewhere = obj["url_private"].replace("127.0.0.1", "localhost")  # the same server, another host
    for url in (elsewhere, "https://evil.example/files-pri/x.txt", "file:///etc/passwd", ""):
        with pytest.raises(InputUnavailable, match="not on Slack's file server"):
            _download(slack, FileRef(obj["id"], "x.txt", "text/plain", "text", 4, url))
    assert len(slack.fake.downloads()) == before


def test_allowed_hosts():
    api = "https://slack.com/api/"
    assert allowed_url("https://files.slack.com/files-pri/T1-F1/a.png", api)
    assert allowed_url("https://files-edu.slack.com/files-pri/T1-F1/a.png", api)
    assert not allowed_url("http://files.slack.com/files-pri/T1-F1/a.png", api)  # no token over http
    assert not allowed_url("https://files.slack.com.evil.com/a.png", api)
    assert not allowed_url("https://evilslack.com/a.png", api)
    assert not allowed_url("https://slack.com:8443/a.png", api)
    assert allowed_url("http://127.0.0.1:9000/files-pri/a", "http://127.0.0.1:9000/api/")
    assert not allowed_url("http://127.0.0.1:9001/files-pri/a", "http://127.0.0.1:9000/api/")
    assert not allowed_url("http://user:pw@127.0.0.1:9000/a", "http://127.0.0.1:9000/api/")


# ---- file objects -> FileRefs ---------------------------------------------------------------------


def test_a_slack_connect_stub_is_completed_with_files_info(slack):
    obj = slack.fake.add_file(b"%PDF-1.7 ...", "report.pdf", mimetype="application/pdf", filetype="pdf")
    [ref] = file_refs(_client(slack), [stub_of(obj)])
    assert ref == FileRef(obj["id"], "report.pdf", "application/pdf", "pdf", obj["size"], obj["url_private"])
    assert slack.fake.last("files.info").params["file"] == obj["id"]


def test_a_whole_file_object_needs_no_files_info(slack):
    obj = slack.fake.add_file(b"a,b\n1,2\n", "t.csv", mimetype="text/csv", filetype="csv")
    slack.fake.clear_calls()
    [ref] = file_refs(_client(slack), [obj])
    assert ref.name == "t.csv" and ref.url == obj["url_private"] and not slack.fake.calls("files.info")


def test_a_stub_pipebot_cannot_see_says_invite(slack):
    obj = slack.fake.add_file(b"x", "private.txt", channel=RANDOM)
    with pytest.raises(FileNotUsable, match="invite @pipebot"):
        file_refs(_client(slack), [stub_of(obj)])
    with pytest.raises(FileNotUsable, match="invite @pipebot"):
        file_refs_by_id(_client(slack), [obj["id"]])


def test_a_deleted_file_by_id_is_refused(slack):
    obj = slack.fake.add_file(b"x", "soon-gone.txt")
    slack.fake.delete_file(obj["id"])
    with pytest.raises(FileNotUsable):
        file_refs_by_id(_client(slack), [obj["id"]])


def test_an_external_file_is_refused_by_name(slack):
    obj = slack.fake.add_file(b"", "Roadmap", mode="external")
    with pytest.raises(FileNotUsable, match=r"\*Roadmap\* is a link to another service"):
        file_refs(_client(slack), [obj])


# ---- threads --------------------------------------------------------------------------------------


def _result_blocks(text: str) -> list[dict]:
    outcome = RunOutcome(
        run_id="r1",
        status="succeeded",
        output=text,
        error_kind=None,
        error_message=None,
        cost_usd=None,
        models=["Claude Haiku 4.5"],
        duration_ms=10,
        artifact_id=None,
        permalink=None,
    )
    _, blocks = msgs.final_message("Digest", outcome, "https://pipebot.example/a/1")
    return [b.to_dict() for b in blocks]


def test_a_long_thread_is_read_in_pages_without_pipebots_progress(ctx, slack):
    fake = slack.fake
    client = _client(slack)
    root = fake.post_as_user(GENERAL, "Plans for Q3 &amp; Q4", user_id=ADMIN_ID)
    fake.fill_thread(GENERAL, root["ts"], 4997)  # with the rest, 5,000 replies
    with_file = fake.add_file(b"x", "budget.xlsx", filetype="xlsx")
    fake.post_as_user(GENERAL, "see <@U0ADMIN> numbers", thread_ts=root["ts"], files=[with_file])
    client.chat_postMessage(channel=GENERAL, thread_ts=root["ts"], text="⏳ Running Digest…")  # a status note
    client.chat_postMessage(
        channel=GENERAL,
        thread_ts=root["ts"],
        text="✅ Digest: preview",
        blocks=_result_blocks("The **full** result of an earlier run"),
        metadata={"event_type": msgs.RESULT_MARK, "event_payload": {"run_id": "r1"}},
    )
    mention = fake.post_as_user(GENERAL, "<@U0PIPEBOT> run Digest", thread_ts=root["ts"])
    fake.post_as_user(GENERAL, "after the mention", thread_ts=root["ts"])
    fake.clear_calls()

    found = SlackInputSource(slack.ctx).thread(TEAM_ID, ThreadRef(GENERAL, root["ts"], before_ts=mention["ts"]))

    pages = fake.calls("conversations.replies")
    assert len(pages) == 6 and all(int(p.params["limit"]) >= 200 for p in pages)
    assert [m.text for m in found[:2]] == ["Plans for Q3 & Q4", "reply 0"]
    assert found[0].author == "alex" and found[1].author == "casey"  # display names
    assert len(found) == 1 + 4997 + 1 + 1  # the status note and everything from the mention on are left out
    assert found[-2].file_names == ("budget.xlsx",) and found[-2].text == "see @alex numbers"
    assert found[-1].author == "pipebot" and "The **full** result" in found[-1].text
    assert not any("Running Digest" in m.text for m in found)
    assert len(fake.calls("users.info")) <= 3  # one lookup per person, not per message


def test_a_thread_in_a_channel_pipebot_is_not_in_says_invite(ctx, slack):
    with pytest.raises(InputUnavailable, match="invite @pipebot"):
        SlackInputSource(slack.ctx).thread(TEAM_ID, ThreadRef(RANDOM, "1700000000.000100"))


def test_a_thread_whose_first_message_is_gone(ctx, slack):
    with pytest.raises(InputUnavailable, match="first message was deleted"):
        SlackInputSource(slack.ctx).thread(TEAM_ID, ThreadRef(GENERAL, "1600000000.000100"))


def test_results_are_marked_and_progress_is_not():
    result = {"bot_id": "B1", "blocks": _result_blocks("out")}
    assert not is_own_progress(result, "U1", "B1")
    assert is_own_progress({"bot_id": "B1", "text": "⏳ step 1 of 2"}, "U1", "B1")
    assert not is_own_progress({"bot_id": "B2", "text": "another app"}, "U1", "B1")
    assert not is_own_progress({"user": USER_ID, "text": "a person"}, "U1", "B1")


def test_a_shared_html_file_is_taken_but_a_login_page_in_its_place_is_not(ctx, slack):
    page = b"<!doctype html><html><body><h1>Release notes</h1></body></html>"
    shared = slack.fake.add_file(page, "notes.html", mimetype="text/html", filetype="html")
    assert b"".join(_download(slack, _ref(shared))) == page
    hidden = slack.fake.add_file(page, "elsewhere.html", mimetype="text/html", filetype="html", channel=RANDOM)
    with pytest.raises(InputUnavailable, match="invite @pipebot"):
        _download(slack, _ref(hidden))  # Slack's login page, not the file: its size differs


def test_redirects_are_followed_only_to_allowed_hosts(ctx, slack):
    fake = slack.fake
    obj = fake.add_file(b"moved bytes", "moved.txt")
    fake.redirect_file(obj["id"], obj["url_private"] + "/moved/")  # the same host: followed
    assert b"".join(_download(slack, _ref(obj))) == b"moved bytes"
    assert [d.status for d in fake.downloads(obj["id"])] == [302, 200]
    assert all(d.headers["authorization"] == f"Bearer {fake.token}" for d in fake.downloads(obj["id"]))
    away = fake.add_file(b"x", "away.txt")
    fake.redirect_file(away["id"], "https://evil.example/steal")
    with pytest.raises(InputUnavailable, match="couldn't download away.txt"):
        _download(slack, _ref(away))
    assert [d.status for d in fake.downloads(away["id"])] == [302]  # nothing sent on to the other host


def test_an_oauth_workspace_downloads_with_its_own_bot_token(ctx, slack):
    """Multi-workspace installs: the token comes from the installation store, per workspace."""
    settings = slack_settings(
        ctx.settings, slack.fake, SLACK_BOT_TOKEN=None, SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET
    )
    oauth_ctx = dataclasses.replace(ctx, settings=settings)
    token = install_workspace(oauth_ctx, slack.fake, "T0SECOND", "Second")
    slack.fake.add_channel("C0SECOND", "second-general", is_member=True, team_id="T0SECOND")
    obj = slack.fake.add_file(
        b"their bytes", "theirs.txt", channel="C0SECOND", team_id="T0SECOND", user_id="U0BOTT0SECOND"
    )
    chunks: list[bytes] = []
    SlackInputSource(oauth_ctx).download("T0SECOND", _ref(obj), chunks.append)
    assert b"".join(chunks) == b"their bytes"
    assert (
        slack.fake.downloads(obj["id"])[-1].headers["authorization"]
        == f"Bearer {token}"
        != f"Bearer {slack.fake.token}"
    )
    with pytest.raises(InputUnavailable, match="not installed"):
        SlackInputSource(oauth_ctx).download("T0NOTHERE", _ref(obj), chunks.append)

"""Webhook triggers over real HTTP (DESIGN §13, issue 19 item 4): ``POST /hooks/{id}`` with the
trigger's bearer secret starts one run posted in its channel, ``GET`` its status URL says how it
went. Good, bad, replayed and hostile requests against pipebot's own web app served by uvicorn,
with real PostgreSQL and Redis, and a real worker and the fake Anthropic API end to end."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
import redis
from sqlalchemy import update

from bot.web.server import build_app
from core import limits
from core.links import artifact_permalink
from core.runs.queue import run_queue
from core.triggers import store
from core.triggers.store import TriggerDraft
from storage.db import transaction
from storage.models import Run
from storage.repos import credentials as credential_repo
from storage.repos import pipelines as pipeline_repo
from tests.fakes.slack import TEAM_ID
from tests.support.http_server import free_port, serve
from tests.support.runs import HAIKU, all_runs, drain, make_agent, make_pipeline, read_artifact, with_keys

TEAM = "T1"
TEXT = "text/plain"
JSON = "application/json"


@dataclasses.dataclass(frozen=True)
class Hook:
    id: str
    secret: str
    pipeline_id: int


def _hook(ctx, team: str = TEAM, channel: str = "C1", name: str = "CI", pipeline: str = "Triage") -> Hook:
    with_keys(ctx, team, "anthropic")
    pid = make_pipeline(ctx, team, pipeline, [make_agent(ctx, team, f"{pipeline}r", HAIKU)])
    view, secret = store.create(ctx, team, "U1", TriggerDraft("webhook", pid, (channel,), name=name))
    assert secret is not None
    return Hook(view.id, secret, pid)


def _post(
    site: str,
    hook: Hook,
    body: bytes | str = b"the build failed",
    ctype: str | None = TEXT,
    secret: str | None = None,
    **headers: str,
) -> httpx.Response:
    sent = {"Authorization": f"Bearer {hook.secret if secret is None else secret}", **headers}
    if ctype is not None:
        sent["Content-Type"] = ctype
    content = body.encode() if isinstance(body, str) else body
    return httpx.post(f"{site}/hooks/{hook.id}", content=content, headers=sent, timeout=30)


def _status(site: str, status_url: str, secret: str) -> httpx.Response:
    return httpx.get(_local(status_url, site), headers={"Authorization": f"Bearer {secret}"}, timeout=30)


def _local(url: str, site: str) -> str:
    """A URL built from PIPEBOT_PUBLIC_URL, pointed at the server under test."""
    parts = urlsplit(url)
    return f"{site}{parts.path}" + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def site(ctx) -> Iterator[str]:
    with serve(build_app(ctx)) as url:
        yield url


# ---- a good request ----------------------------------------------------------------------------


def test_a_good_request_queues_one_run_with_its_origin_input_and_channel(ctx, site):
    hook = _hook(ctx)
    r = _post(site, hook, "the build on main failed: test_login timed out")
    assert r.status_code == 202, r.text
    body = r.json()
    assert set(body) == {"run_id", "status_url"}
    assert body["status_url"] == f"http://pipebot.test/hooks/{hook.id}/runs/{body['run_id']}"
    assert r.headers["location"] == body["status_url"] and r.headers["cache-control"] == "no-store"
    (run,) = all_runs(ctx, TEAM)
    assert str(run.id) == body["run_id"] and run.status == "queued"
    assert run.input == "the build on main failed: test_login timed out"
    assert run.channel_id == "C1" and run.thread_ts is None and run.source == "webhook"
    assert run.requested_by == "U1" and run.pipeline_id == hook.pipeline_id
    assert run.origin == {"kind": "webhook", "id": hook.id, "name": "CI", "by": "U1"}
    assert run_queue(ctx).count == 1
    status = _status(site, body["status_url"], hook.secret)
    assert status.status_code == 200 and status.json() == {"run_id": body["run_id"], "status": "queued"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"ref": "main", "ok": false, "who": "Zoë"}', '{\n  "ref": "main",\n  "ok": false,\n  "who": "Zoë"\n}'),
        ('"a top-level string is the input as it is"', "a top-level string is the input as it is"),
        ("[1, 2.5, null]", "[\n  1,\n  2.5,\n  null\n]"),
        ("42", "42"),
    ],
)
def test_a_json_body_is_the_input_as_indented_json_or_a_top_level_string_as_is(ctx, site, body, expected):
    hook = _hook(ctx)
    r = _post(site, hook, body, ctype="application/json; charset=utf-8")
    assert r.status_code == 202, r.text
    (run,) = all_runs(ctx, TEAM)
    assert run.input == expected


def test_a_plain_text_body_is_the_input_as_it_is(ctx, site):
    hook = _hook(ctx)
    text = 'line one\n  *not bold* <!channel> {"not": json}\n'
    r = _post(site, hook, text, ctype="text/plain; charset=UTF-8")
    assert r.status_code == 202, r.text
    (run,) = all_runs(ctx, TEAM)
    assert run.input == text.strip()


# ---- who may call it ---------------------------------------------------------------------------


def test_a_wrong_secret_or_an_unknown_id_gets_the_same_401_and_nothing_is_recorded(ctx, site):
    hook = _hook(ctx)
    other = _hook(ctx, pipeline="Other", name="Other")
    message_trigger, _ = store.create(ctx, TEAM, "U1", TriggerDraft("message", hook.pipeline_id, ()))
    attempts = [
        httpx.post(f"{site}/hooks/{hook.id}", content=b"x", headers={"Content-Type": TEXT}),  # no Authorization
        _post(site, hook, secret=hook.secret + "x"),
        httpx.post(
            f"{site}/hooks/{hook.id}", content=b"x", headers={"Content-Type": TEXT, "Authorization": "Bearer"}
        ),  # no token
        _post(site, hook, secret=other.secret),  # another trigger's secret
        httpx.post(
            f"{site}/hooks/{hook.id}", content=b"x", headers={"Content-Type": TEXT, "Authorization": hook.secret}
        ),  # no scheme
        _post(site, dataclasses.replace(hook, id="6f1c3a52-0b7e-4c8e-9d38-3c3f0e9a1b2c")),  # unknown id
        _post(site, dataclasses.replace(hook, id="not-a-uuid")),
        _post(site, dataclasses.replace(hook, id=message_trigger.id)),  # not a webhook
    ]
    for r in attempts:
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert len({r.text for r in attempts}) == 1 and attempts[0].json()["error"] == "unauthorized"
    assert all_runs(ctx, TEAM) == []
    assert run_queue(ctx).count == 0


def test_the_status_url_needs_the_secret_and_shows_only_this_webhooks_runs(ctx, site):
    hook, other = _hook(ctx), _hook(ctx, pipeline="Other", name="Other")
    url = _post(site, hook).json()["status_url"]
    other_url = _post(site, other).json()["status_url"]
    assert _status(site, url, hook.secret + "x").status_code == 401
    assert _status(site, url, other.secret).status_code == 401
    assert _status(site, url.replace(hook.id, other.id), other.secret).status_code == 404
    assert _status(site, other_url.replace(other.id, hook.id), hook.secret).status_code == 404
    assert _status(site, f"{url.rsplit('/', 1)[0]}/not-a-run", hook.secret).status_code == 404
    assert _status(site, url, hook.secret).status_code == 200


# ---- idempotency -------------------------------------------------------------------------------


def test_a_replayed_idempotency_key_gets_the_same_202_and_one_run(ctx, site):
    hook, other = _hook(ctx), _hook(ctx, pipeline="Other", name="Other")
    first = _post(site, hook, "deploy 1", **{"Idempotency-Key": "deploy-1"})
    again = _post(site, hook, "deploy 1", **{"Idempotency-Key": "deploy-1"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    ctx.redis.delete(*ctx.redis.keys("pipebot:run-request:*"))  # the rule holds in PostgreSQL alone
    assert _post(site, hook, "deploy 1", **{"Idempotency-Key": "deploy-1"}).json() == first.json()
    second = _post(site, hook, "deploy 2", **{"Idempotency-Key": "deploy-2"})
    elsewhere = _post(site, other, "deploy 1", **{"Idempotency-Key": "deploy-1"})
    ids = {first.json()["run_id"], second.json()["run_id"], elsewhere.json()["run_id"]}
    assert len(ids) == 3
    assert len(all_runs(ctx, TEAM)) == 3 and run_queue(ctx).count == 3


def test_one_key_sent_many_times_at_once_starts_one_run_and_every_answer_names_it(ctx, site):
    hook = _hook(ctx)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _post(site, hook, **{"Idempotency-Key": "burst"}), range(8)))
    assert {r.status_code for r in answers} == {202}
    assert len({r.json()["run_id"] for r in answers}) == 1
    (run,) = all_runs(ctx, TEAM)
    assert str(run.id) == answers[0].json()["run_id"] and run_queue(ctx).count == 1


def test_a_key_older_than_24_hours_starts_a_new_run_which_its_replays_then_get(ctx, site):
    hook = _hook(ctx)
    first = _post(site, hook, **{"Idempotency-Key": "nightly"}).json()["run_id"]
    with transaction(ctx.sessions) as s:
        s.execute(update(Run).where(Run.id == first).values(created_at=datetime.now(UTC) - timedelta(hours=25)))
    second = _post(site, hook, **{"Idempotency-Key": "nightly"})
    assert second.status_code == 202 and "idempotent-replayed" not in second.headers
    assert second.json()["run_id"] != first
    replay = _post(site, hook, **{"Idempotency-Key": "nightly"})
    assert replay.json()["run_id"] == second.json()["run_id"] and replay.headers["idempotent-replayed"] == "true"
    assert len(all_runs(ctx, TEAM)) == 2


@pytest.mark.parametrize("key", ["k" * 201, ""])
def test_a_bad_idempotency_key_gets_400_and_no_run(ctx, site, key):
    r = _post(site, _hook(ctx), **{"Idempotency-Key": key})
    assert r.status_code == 400 and r.json()["error"] == "bad_idempotency_key"
    assert all_runs(ctx, TEAM) == []


# ---- bad bodies ----------------------------------------------------------------------------------


def test_a_5_mb_body_gets_413_and_no_run_with_or_without_a_content_length(ctx, site):
    hook = _hook(ctx)
    big = b"a" * (5 * 1024 * 1024)
    declared = _post(site, hook, big)
    assert declared.status_code == 413 and declared.json()["error"] == "body_too_large"

    def chunks() -> Iterator[bytes]:
        for _ in range(80):
            yield b"a" * 65536

    streamed = httpx.post(
        f"{site}/hooks/{hook.id}",
        content=chunks(),
        headers={"Authorization": f"Bearer {hook.secret}", "Content-Type": TEXT},
        timeout=30,
    )
    assert streamed.status_code == 413
    just_fits = _post(site, hook, b'"' + b"a" * 1000 + b'"' + b" " * (1024 * 1024 - 1002), ctype=JSON)
    assert just_fits.status_code == 202, just_fits.text
    assert len(all_runs(ctx, TEAM)) == 1


@pytest.mark.parametrize(
    ("body", "ctype", "status", "error"),
    [
        (b"x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"x", None, 415, "unsupported_media_type"),
        (b"<a/>", "application/xml", 415, "unsupported_media_type"),
        (b"x", "text/plain; charset=latin-1", 415, "unsupported_media_type"),
        (b"", TEXT, 422, "empty_input"),
        (b"  \n\t ", JSON, 422, "empty_input"),
        (b'""', JSON, 422, "empty_input"),
        (b"\x00\x00", TEXT, 422, "empty_input"),
        (b"caf\xe9", TEXT, 400, "invalid_utf8"),
        (b'{"a": ', JSON, 400, "invalid_json"),
        (b"{'a': 1}", JSON, 400, "invalid_json"),
        ("é".encode() * 120_000, TEXT, 413, "input_too_long"),  # under 1 MiB, over 100,000 characters
    ],
)
def test_bad_bodies_are_named_and_start_nothing(ctx, site, body, ctype, status, error):
    r = _post(site, _hook(ctx), body, ctype=ctype)
    assert r.status_code == status, r.text
    assert r.json()["error"] == error and r.json()["message"]
    assert all_runs(ctx, TEAM) == []


@pytest.mark.parametrize(
    ("body", "status", "check"),
    [
        ("[" * 100_000 + "]" * 100_000, 400, "nested too deeply"),
        ("[" * 5000 + "]" * 5000, 400, "nested too deeply"),
        ("[" * 900 + "1" + "]" * 900, 413, "100,000 characters"),  # parses, but indented it is 1.6 M
        ("1" * 5000, 400, "too many digits"),
        ('{"n": ' + "9" * 4000 + "}", 202, "9" * 4000),
        ('{"n": 1e999999, "m": -1e999999}', 202, "Infinity"),
        ('{"nul": "a\\u0000b", "lone": "\\ud800"}', 202, "a\\u0000b"),
        ('["a\x00b"]', 400, "not valid JSON"),
        ("[" + ",".join(['"' + "x" * 50 + '"'] * 15_000) + "]", 413, "100,000 characters"),
        ('{"<script>alert(1)</script>": "&amp;"}', 202, "<script>alert(1)</script>"),
    ],
)
def test_hostile_json_gets_a_clean_answer_never_a_500(ctx, site, body, status, check):
    r = _post(site, _hook(ctx), body, ctype=JSON)
    assert r.status_code == status, r.text
    runs = all_runs(ctx, TEAM)
    if status == 202:
        (run,) = runs
        assert check in run.input and "\x00" not in run.input
    else:
        assert check in r.json()["message"] and runs == []


# ---- triggers that cannot run, limits and a queue that is down ------------------------------------


def test_a_paused_trigger_or_a_deleted_pipeline_gets_409_and_no_run(ctx, site):
    hook = _hook(ctx)
    store.pause(ctx, TEAM, hook.id, "U1")
    paused = _post(site, hook)
    assert paused.status_code == 409 and paused.json()["error"] == "paused"
    assert "paused" in paused.json()["message"]
    store.resume(ctx, TEAM, hook.id, "U1")
    with transaction(ctx.sessions) as s:
        pipeline_repo.delete_pipeline(s, TEAM, hook.pipeline_id)
    gone = _post(site, hook)
    assert gone.status_code == 409 and gone.json()["error"] == "pipeline_gone" and "Triage" in gone.json()["message"]
    assert all_runs(ctx, TEAM) == []


def test_a_pipeline_that_cannot_run_now_gets_409_naming_why_and_no_run(ctx, site):
    hook = _hook(ctx)
    with transaction(ctx.sessions) as s:
        credential_repo.delete_credential(s, TEAM, "anthropic")
    r = _post(site, hook)
    assert r.status_code == 409 and r.json()["error"] == "cannot_run"
    assert "Anthropic" in r.json()["message"]
    assert all_runs(ctx, TEAM) == []


def test_the_workspaces_hourly_limit_gets_429_with_retry_after(ctx, site):
    hook = _hook(ctx)
    with transaction(ctx.sessions) as s:
        limits.save_limits(s, TEAM, "U0", limits.parse_limits(None, "1", False))
    assert _post(site, hook).status_code == 202
    r = _post(site, hook)
    assert r.status_code == 429 and r.json()["error"] == "limited" and "creator" in r.json()["message"]
    assert 1 <= int(r.headers["retry-after"]) <= 3601
    assert len(all_runs(ctx, TEAM)) == 1


def test_with_redis_down_the_run_is_saved_and_still_accepted(ctx):
    hook = _hook(ctx)
    down = dataclasses.replace(ctx, redis=redis.Redis(port=free_port(), socket_connect_timeout=0.5))
    with serve(build_app(down)) as site:
        r = _post(site, hook, "run me later", **{"Idempotency-Key": "k1"})
        assert r.status_code == 202, r.text
        assert _post(site, hook, "run me later", **{"Idempotency-Key": "k1"}).json() == r.json()
    (run,) = all_runs(ctx, TEAM)
    assert str(run.id) == r.json()["run_id"] and run.status == "queued" and run.input == "run me later"


# ---- end to end --------------------------------------------------------------------------------


def test_a_webhook_run_ends_and_its_status_gives_the_output_and_the_permalink(ctx, slack, worker_env, fake_anthropic):
    hook = _hook(ctx, team=TEAM_ID)
    fake_anthropic.reply("Triage: the login test is flaky; rerun it.")
    r = _post(slack.url, hook, json.dumps({"job": "test", "status": "failed"}), ctype=JSON)
    assert r.status_code == 202, r.text
    url = r.json()["status_url"]
    before = _status(slack.url, url, hook.secret).json()
    assert before == {"run_id": r.json()["run_id"], "status": "queued"}

    drain(dict(worker_env, SLACK_API_URL=slack.fake.url, SLACK_BOT_TOKEN=slack.fake.token))

    after = _status(slack.url, url, hook.secret)
    assert after.status_code == 200
    done = after.json()
    assert done["status"] == "succeeded" and done["output"] == "Triage: the login test is flaky; rerun it."
    artifact = read_artifact(ctx, TEAM_ID, uuid.UUID(r.json()["run_id"]))
    assert done["permalink"] == artifact_permalink(ctx, TEAM_ID, str(artifact.id))
    page = httpx.get(_local(done["permalink"], slack.url), timeout=30)
    assert page.status_code == 200 and "Triage" in page.text
    (sent,) = [c for c in fake_anthropic.calls() if "/messages" in c.path]
    assert '\\"status\\": \\"failed\\"' in sent.body.decode()  # the indented JSON, as the model read it

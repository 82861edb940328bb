"""core/runs/intake.submit, the one way a run starts, against real PostgreSQL and Redis: one
dedupe rule for ordinary runs and branches alike (a recorded key returns its run; a key
claimed by a request still being placed answers a repeat with nothing; a refusal frees the
key), the checks before anything is placed, and the request's fields on the run row."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select

from core.errors import RunRejected
from core.runs.intake import Submission, submit
from core.runs.request import BranchFrom, Origin, ReportTo, RunRequest
from storage.db import transaction
from storage.models import Run
from tests.support.finished_runs import finished_run
from tests.support.runs import make_agent, make_pipeline, with_keys


def _count(ctx) -> int:
    with transaction(ctx.sessions) as s:
        return int(s.scalar(select(func.count()).select_from(Run)) or 0)


@pytest.fixture
def essay(ctx) -> dict[str, Any]:
    with_keys(ctx, "T1", "anthropic")
    drafter = make_agent(ctx, "T1", "Drafter")
    pipeline = make_pipeline(ctx, "T1", "Essay", [drafter])
    return {"pipeline": pipeline, "artifact": finished_run(ctx, "T1", pipeline, "Done.").artifact_id}


def _plain(key: str | None = "k1", **kw: Any) -> RunRequest:
    fields: dict[str, Any] = dict(
        pipeline_name="Essay", input_text="write about otters", requested_by="U1", dedupe_key=key
    )
    return RunRequest("T1", Origin.SLASH_COMMAND, **(fields | kw))


def _branch(artifact_id: str, key: str | None = "k2") -> RunRequest:
    return RunRequest(
        "T1", Origin.RERUN, requested_by="U1", dedupe_key=key, branch=BranchFrom(artifact_id, from_step=1)
    )


@pytest.mark.parametrize("kind", ["plain", "branch"])
def test_a_repeat_while_the_first_is_placed_starts_nothing_and_after_it_gets_the_first_run(ctx, essay, kind):
    request = _plain() if kind == "plain" else _branch(essay["artifact"])
    before = _count(ctx)
    inside, release = threading.Event(), threading.Event()
    repeats: list[Submission] = []

    def place(req: RunRequest) -> RunRequest:
        inside.set()
        assert release.wait(10)
        return replace(req, report_to=ReportTo("C1", "1700000000.000100"))

    first: list[Submission] = []
    worker = threading.Thread(target=lambda: first.append(submit(ctx, request, place=place)))
    worker.start()
    assert inside.wait(10)
    repeats.append(submit(ctx, request, place=lambda r: pytest.fail("a repeat must not be placed")))
    release.set()
    worker.join(10)
    assert repeats[0] == Submission(None, repeat=True)  # the first is still being placed: nothing
    assert first[0].run is not None and not first[0].repeat
    again = submit(ctx, request, place=lambda r: pytest.fail("a repeat must not be placed"))
    assert again.repeat and again.run is not None and again.run.id == first[0].run.id
    assert _count(ctx) == before + 1
    assert (first[0].run.channel_id, first[0].run.thread_ts) == ("C1", "1700000000.000100")
    assert first[0].run.source == "slack"


def test_a_refusal_frees_the_key_so_the_repeat_is_answered_again(ctx, essay):
    before = _count(ctx)

    def place_then_fail(req: RunRequest) -> RunRequest:
        raise RunRejected("cannot_post", "no")

    with pytest.raises(RunRejected):
        submit(ctx, _plain(), place=place_then_fail)
    run = submit(ctx, _plain()).run  # the same key again: not a repeat of anything started
    assert run is not None and _count(ctx) == before + 1


@pytest.mark.parametrize(
    "request_kw,kind",
    [
        ({"input_text": "   "}, "bad_input"),
        ({"input_text": "x" * 100_001}, "bad_input"),
        ({"pipeline_name": "Nope"}, "not_found"),
        ({"pipeline_id": 999_999}, "not_found"),
    ],
)
def test_checks_refuse_before_anything_is_placed(ctx, essay, request_kw, kind):
    with pytest.raises(RunRejected) as err:
        submit(ctx, _plain(**request_kw), place=lambda r: pytest.fail("nothing may be placed"))
    assert err.value.kind == kind


def test_a_branch_is_checked_by_its_own_rules_before_it_is_placed(ctx, essay):
    bad = RunRequest("T1", Origin.RERUN, branch=BranchFrom(essay["artifact"], from_step=5))
    with pytest.raises(RunRejected) as err:
        submit(ctx, bad, place=lambda r: pytest.fail("nothing may be placed"))
    assert err.value.kind == "bad_step"


def test_the_request_is_what_the_run_row_records(ctx, essay):
    run_id = uuid.uuid4()
    request = _plain(
        key=None, run_id=run_id, requester_team_id="T0GUEST", report_to=ReportTo("C9", "1700000000.000200")
    )
    run = submit(ctx, request).run
    assert run is not None and run.id == run_id
    assert (run.requested_by, run.recipient_team_id, run.channel_id, run.thread_ts) == (
        "U1",
        "T0GUEST",
        "C9",
        "1700000000.000200",
    )
    cli = submit(ctx, RunRequest("T1", Origin.CLI, pipeline_name="essay", input_text="hi")).run
    assert cli is not None and cli.source == "cli" and cli.recipient_team_id == "T1"

"""One `pipebot worker` process, many runs in flight; fair share across workspaces; a
SIGKILLed worker with several runs in flight. Real worker processes against the fake
providers; overlaps are read from the fake's own request times, never from a stopwatch."""

from __future__ import annotations

import json
import threading
import time

from core.runs.intake import start_run
from tests.fakes.llm_base import RecordedRequest, Turn
from tests.support.runs import (
    HAIKU,
    drain,
    kill_hard,
    make_agent,
    make_pipeline,
    start_worker,
    stop_worker,
    with_keys,
)
from tests.support.runs import (
    read_run as _run,
)
from tests.support.runs import (
    read_steps as _steps,
)
from tests.support.waiting import wait_until

MESSAGES = "/v1/messages"


def _system(req: RecordedRequest) -> str:
    return json.dumps((req.json or {}).get("system"))


def _max_overlap(calls: list[RecordedRequest]) -> int:
    """The most calls in flight at one moment (start before another's end)."""
    edges = sorted([(c.started_at, 1) for c in calls] + [(c.ended_at, -1) for c in calls], key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, delta in edges:
        now += delta
        most = max(most, now)
    return most


def _hold_until(fake, count: int) -> threading.Barrier:
    """Each model call waits (up to 60 s) until ``count`` calls have arrived: they can all
    arrive only if the worker has them in flight at once."""
    barrier = threading.Barrier(count, timeout=60)

    def hook(req: RecordedRequest) -> None:
        if req.path == MESSAGES:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass

    fake.on_request = hook
    return barrier


def test_one_worker_process_keeps_many_runs_in_flight(ctx, worker_env, fake_anthropic):
    n = 12
    for team in ("T1", "T2"):
        with_keys(ctx, team, "anthropic")
        make_pipeline(ctx, team, "P", [make_agent(ctx, team, "One", HAIKU, "Be brief.")])
    runs = [start_run(ctx, team, "P", f"input {i}") for i in range(n // 2) for team in ("T1", "T2")]
    barrier = _hold_until(fake_anthropic, n)
    try:
        drain(worker_env)
    finally:
        fake_anthropic.on_request = None
    assert not barrier.broken, "the calls did not all arrive while the others were waiting"
    assert [_run(ctx, r.team_id, r.id).status for r in runs] == ["succeeded"] * n
    calls = fake_anthropic.calls(MESSAGES)
    assert len(calls) == n
    assert max(c.started_at for c in calls) < min(c.ended_at for c in calls)  # all in flight together
    assert _max_overlap(calls) == n


def test_fair_share_caps_one_workspace_while_another_goes_ahead(ctx, worker_env, fake_anthropic):
    with_keys(ctx, "TA", "anthropic")
    with_keys(ctx, "TB", "anthropic")
    make_pipeline(ctx, "TA", "P", [make_agent(ctx, "TA", "One", HAIKU, "Team A agent.")])
    make_pipeline(ctx, "TB", "P", [make_agent(ctx, "TB", "One", HAIKU, "Team B agent.")])
    fake_anthropic.slow_turns(1.0)
    a_runs = [start_run(ctx, "TA", "P", f"a {i}") for i in range(6)]
    b_runs = [start_run(ctx, "TB", "P", f"b {i}") for i in range(2)]
    drain(dict(worker_env, PIPEBOT_WORKSPACE_CONCURRENCY="2", PIPEBOT_WORKER_CONCURRENCY="8"))
    assert [_run(ctx, "TA", r.id).status for r in a_runs] == ["succeeded"] * 6
    assert [_run(ctx, "TB", r.id).status for r in b_runs] == ["succeeded"] * 2
    calls = fake_anthropic.calls(MESSAGES)
    a_calls = [c for c in calls if "Team A" in _system(c)]
    b_calls = [c for c in calls if "Team B" in _system(c)]
    assert len(a_calls) == 6 and len(b_calls) == 2
    # While B still had a run waiting (until its last run was claimed), A held to its share
    # of 2; a call that started before then took its slot while B waited.
    b_last_claimed = max(_run(ctx, "TB", r.id).started_at for r in b_runs).timestamp()
    b_last_claimed -= time.time() - time.monotonic()  # the fake's times are monotonic, same machine
    a_while_b_waited = [c for c in a_calls if c.started_at < b_last_claimed]
    # (on a loaded machine B may be claimed before any of A's calls reaches the model: then
    # no call of A started while B waited, and the last assertion says B did not wait for A)
    assert _max_overlap(a_while_b_waited) <= 2
    # B, enqueued behind all of A, did not wait for A to finish: it ran beside A's runs
    assert max(c.started_at for c in b_calls) < max(c.started_at for c in a_calls)
    assert _max_overlap(a_calls + b_calls) >= 3
    # once nobody else waited, A used the free slots beyond its share (work-conserving)
    assert _max_overlap(a_calls) > 2


def test_one_workspace_alone_uses_every_slot_beyond_its_share(ctx, worker_env, fake_anthropic):
    n = 12
    with_keys(ctx, "T1", "anthropic")
    make_pipeline(ctx, "T1", "P", [make_agent(ctx, "T1", "One", HAIKU, "Be brief.")])
    runs = [start_run(ctx, "T1", "P", f"input {i}") for i in range(n)]
    barrier = _hold_until(fake_anthropic, n)
    try:
        drain(dict(worker_env, PIPEBOT_WORKSPACE_CONCURRENCY="4", PIPEBOT_WORKER_CONCURRENCY="16"))
    finally:
        fake_anthropic.on_request = None
    assert not barrier.broken, "the runs did not all get a slot while the others held theirs"
    assert [_run(ctx, "T1", r.id).status for r in runs] == ["succeeded"] * n
    assert _max_overlap(fake_anthropic.calls(MESSAGES)) == n  # no slot idled for a share of 4


def test_sigkill_with_several_runs_in_flight_another_worker_finishes_them_all(ctx, worker_env, fake_anthropic):
    n = 4
    with_keys(ctx, "T1", "anthropic")
    first = make_agent(ctx, "T1", "First", HAIKU, "Step one agent.")
    second = make_agent(ctx, "T1", "Second", HAIKU, "Step two agent.")
    make_pipeline(ctx, "T1", "Two", [first, second])
    hang = threading.Event()
    hang.set()

    def turn(req: RecordedRequest, model_id: str, last_user: str) -> Turn:
        if "Step two" in _system(req) and hang.is_set():
            return Turn(text="never seen", delay=120)  # the model is still writing when the worker dies
        return Turn(text=f"[{model_id}] {last_user[:40]}")

    fake_anthropic.default_turn = turn
    runs = [start_run(ctx, "T1", "Two", f"input {i}") for i in range(n)]
    proc = start_worker(worker_env)
    try:
        wait_until(lambda: sum("Step two" in _system(c) for c in fake_anthropic.calls(MESSAGES)) == n, timeout=60)
        kill_hard(proc)
        hang.clear()
        proc = start_worker(worker_env)
        wait_until(lambda: all(_run(ctx, "T1", r.id).status == "succeeded" for r in runs), timeout=60, every=0.2)
    finally:
        stop_worker(proc)
    calls = fake_anthropic.calls(MESSAGES)
    assert sum("Step one" in _system(c) for c in calls) == n  # finished steps were not paid twice
    assert sum("Step two" in _system(c) for c in calls) == 2 * n  # the cut-off ones once more each
    for r in runs:
        steps = _steps(ctx, r.id)
        assert [s.status for s in steps] == ["succeeded", "succeeded"]
        assert _run(ctx, "T1", r.id).attempts == 2

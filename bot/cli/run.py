"""`pipebot run`: start a run through the queue and follow it live over Redis pub/sub.

Exit codes: 0 the run succeeded (or was only enqueued), 1 it failed, 2 it could not start,
3 following it stopped (no worker took it, or ``--timeout`` passed), 4 it waits for a
person (an approval, DESIGN §12): it holds no worker then and may wait for hours, so the
command says for whom and where, and stops following it instead of hanging.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from core.context import AppContext
from core.errors import QueueUnavailable, RunRejected
from core.events import channel
from core.formatting import format_cost, format_datetime, format_duration, format_tokens
from core.links import thread_url
from core.messages import cli_waiting, waiting_for_whom
from core.runs.approvals import pending_approval
from core.runs.intake import submit, submitted
from core.runs.queue import run_queue
from core.runs.request import Origin, RunRequest
from core.timings import CLI_PROGRESS_POLL_S
from storage.db import transaction
from storage.repos import artifacts as artifact_repo
from storage.repos import runs as run_repo
from storage.states import FINISHED, RunStatus

if TYPE_CHECKING:
    from redis.client import PubSub

    from storage.models import Run


def _print(*parts: str, err: bool = False) -> None:
    print(*parts, file=sys.stderr if err else sys.stdout, flush=True)


def _workers(ctx: AppContext) -> int:
    """RQ workers listening on our queue (`pipebot worker` and plain `rq worker` alike)."""
    from rq import Worker

    try:
        return Worker.count(connection=ctx.redis, queue=run_queue(ctx))
    except Exception:  # noqa: BLE001 - only a hint; assume one is there
        return 1


def run_from_cli(
    ctx: AppContext,
    pipeline: str,
    *,
    team_id: str,
    input_text: str,
    wait: bool = True,
    timeout: float = 900,
    queue_timeout: float = 60,
) -> int:
    if input_text == "-":
        input_text = sys.stdin.read()
    pubsub = ctx.redis.pubsub(ignore_subscribe_messages=True)
    try:
        return _follow(ctx, pubsub, pipeline, team_id, input_text, wait, timeout, queue_timeout)
    except KeyboardInterrupt:  # Ctrl-C: said what happens to the run, exit 130 without a traceback
        return 130
    finally:
        pubsub.close()


def _follow(
    ctx: AppContext,
    pubsub: PubSub,
    pipeline: str,
    team_id: str,
    input_text: str,
    wait: bool,
    timeout: float,
    queue_timeout: float,
) -> int:
    """Start the run and print it live: the steps, their text as it streams, the result."""
    run = None
    try:
        run = _start(ctx, team_id, pipeline, input_text)
        if isinstance(run, int):
            return run
        if not wait:
            _print(str(run.id))
            return 0
        pubsub.subscribe(channel(str(run.id)))
        _print(f"run {run.id} queued for pipeline “{run.pipeline_name}”", err=True)
        if _workers(ctx) == 0:
            _print(
                "pipebot: no worker is running, so the run waits in the queue; start one with `pipebot worker`",
                err=True,
            )
        code = _watch(ctx, pubsub, team_id, run, timeout, queue_timeout)
        if code is not None:
            return code
        _print(
            f"pipebot: run {run.id} did not finish within {timeout:g} s; it goes on in the worker, and its "
            "artifact appears when it finishes",
            err=True,
        )
        return 3
    except KeyboardInterrupt:
        if run is not None and not isinstance(run, int):
            _print(
                f"\npipebot: stopped following run {run.id}; it goes on in the worker (`--no-wait` skips following)",
                err=True,
            )
        raise


def _start(ctx: AppContext, team_id: str, pipeline: str, input_text: str) -> Run | int:
    """The run, or the exit code when it was refused (2) or saved while Redis is away (0)."""
    try:
        request = RunRequest(team_id, Origin.CLI, pipeline_name=pipeline, input_text=input_text)
        return submitted(submit(ctx, request))
    except RunRejected as exc:
        _print(f"pipebot: {exc.message}", err=True)
        return 2
    except QueueUnavailable as exc:  # saved as queued; the workers enqueue it once Redis is back
        _print(f"pipebot: {exc.message}", err=True)
        _print(str(exc.run.id))
        return 0


def _watch(ctx: AppContext, pubsub: PubSub, team_id: str, run: Run, timeout: float, queue_timeout: float) -> int | None:
    """Print the run's events until it ends (its exit code), or None when ``timeout`` passes.
    Between events the database says whether it ended unseen or still waits for a worker."""
    started = time.monotonic()
    deadline = started + timeout
    streaming = False
    while time.monotonic() < deadline:
        msg = pubsub.get_message(timeout=CLI_PROGRESS_POLL_S)
        if msg is not None:
            ev = json.loads(msg["data"])
            if ev["event"] == "approval_requested":
                return _waiting(run, ev.get("approval") or {})
            if ev["event"] == "run_finished":
                o = ev["outcome"]
                return _final(
                    ctx,
                    team_id,
                    o["status"],
                    o["output"],
                    o["error_message"],
                    o["artifact_id"],
                    o.get("permalink"),
                    o.get("cost_usd"),
                )
            streaming = _print_event(ev, streaming)
            continue
        with transaction(ctx.sessions) as s:
            current = run_repo.get_run(s, team_id, run.id)
            art = None
            if current is not None and current.status in FINISHED:
                art = artifact_repo.get_artifact_for_run(s, team_id, run.id)
        if current is not None and current.status == RunStatus.WAITING:  # the event came before we listened
            view = pending_approval(ctx, team_id, run.id)
            return _waiting(run, asdict(view) if view is not None else {})
        if current is not None and current.status in FINISHED:
            art_id = str(art.id) if art else None
            return _final(ctx, team_id, current.status, current.output, current.error_message, art_id)
        waiting = current is not None and current.status == RunStatus.QUEUED and not streaming
        if waiting and time.monotonic() - started > queue_timeout:
            _print(
                f"pipebot: no worker picked up run {run.id} within {queue_timeout:g} s; it stays queued "
                "and starts when a worker runs (`pipebot worker`)",
                err=True,
            )
            return 3
    return None


def _waiting(run: Run, approval: dict[str, Any]) -> int:
    """The run stopped for a person: say for what, whom and where, and stop following (4)."""
    payload = approval.get("payload") or {}
    if approval.get("kind") == "tool_call" and isinstance(payload, dict):
        tool = " · ".join(str(p) for p in (payload.get("server"), payload.get("tool")) if p)
        what = f"Allow / Deny of the tool call {tool}" if tool else "Allow / Deny of a tool call"
    else:
        what = "approval"
    who = waiting_for_whom([str(u) for u in approval.get("approvers") or []], approval.get("requested_by"))
    due = approval.get("due_at")
    _print("", err=True)
    _print(
        cli_waiting(
            str(run.id),
            approval.get("position"),
            what,
            who,
            thread_url(run.channel_id, run.thread_ts, run.team_id),
            format_datetime(due) if due else None,
        ),
        err=True,
    )
    return 4


def _tool_line(call: dict[str, Any]) -> str | None:
    """A tool call once it ended or stopped for Allow / Deny (its start would only repeat
    it): "  ↳ ✓ Web search: pizza". Plain text from the model: control characters dropped."""
    status = call.get("status")
    if status not in ("done", "error", "waiting"):
        return None
    label = " ".join(str(call.get("label") or "tool").split())
    detail = " ".join(str(call.get("detail") or "").split())[:120]
    what = "".join(ch for ch in (f"{label}: {detail}" if detail else label) if ch.isprintable())
    if status == "error":
        error = "".join(ch for ch in " ".join(str(call.get("error") or "failed").split()) if ch.isprintable())
        return f"\n  ↳ ✗ {what}: {error[:300]}"
    if status == "waiting":
        return f"\n  ↳ ⏸ {what}: waiting for Allow / Deny"
    return f"\n  ↳ ✓ {what}"


def _print_event(ev: dict[str, Any], streaming: bool) -> bool:
    """One progress event on stderr; returns whether a step's text is streaming."""
    kind = ev["event"]
    if kind == "step_started":
        st = ev["step"]
        _print(f"\n▶ step {st['position']}: {st['agent_name']} ({st['model_display'] or st['model']})", err=True)
        return True
    if kind == "text_delta" and streaming:
        sys.stderr.write(ev["text"])
        sys.stderr.flush()
    elif kind == "tool_call":
        line = _tool_line(ev.get("call") or {})
        if line:
            _print(line, err=True)
    elif kind == "step_retrying":
        _print(f"\n↻ step {ev['position']} broke off ({ev['reason']}); asking again from the start", err=True)
    elif kind == "step_finished":
        r = ev["result"]
        _print(
            f"\n✓ step {r['position']} done: {format_tokens(r['input_tokens'])}→{format_tokens(r['output_tokens'])} "
            f"tokens, {format_cost(r.get('cost_usd'))}, {format_duration(r['latency_ms'])}",
            err=True,
        )
    return streaming


def _final(
    ctx: AppContext,
    team_id: str,
    status: str,
    output: str | None,
    error: str | None,
    artifact_id: str | None,
    link: str | None = None,
    cost: str | None = None,
) -> int:
    from core.links import artifact_permalink

    if artifact_id and not link:
        link = artifact_permalink(ctx, team_id, artifact_id)
    _print("", err=True)
    if status == RunStatus.SUCCEEDED:
        _print(output or "")
    else:
        _print(f"pipebot: run failed: {error}", err=True)
    if cost is not None:
        _print(f"cost: {format_cost(cost)}", err=True)
    if link:
        _print(f"artifact: {link}", err=True)
    return 0 if status == RunStatus.SUCCEEDED else 1

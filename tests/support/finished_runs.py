"""Artifacts as a finished run leaves them, and its result message in a Slack thread, for the
tests of the lifecycle buttons (edit, compare, feedback, unfurl).

``finished_run`` writes a run and its artifact with the content the executor writes
(core/runs/outcome.py) and, when asked, posts the run's thread (parent and final message,
built by bot/slack/blocks/runs.py) into the fake Slack through the real WebClient, so the
fake checks those blocks like any message. Tests that need the worker itself run one.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from slack_sdk import WebClient

from bot.slack.blocks.runs import final_message, parent_message
from core.links import artifact_permalink
from core.reporter import RunOutcome
from storage.db import transaction
from storage.repos import artifacts as artifact_repo
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from tests.fakes.slack import GENERAL, USER_ID, FakeSlack
from tests.support.runs import HAIKU
from tests.support.slack_signing import SlackRequests


@dataclass
class Finished:
    run_id: str
    artifact_id: str
    channel: str | None = None
    thread_ts: str | None = None
    final: dict[str, Any] | None = None  # the result message as the fake stored it


def content_for(
    run: Any,
    output: str,
    steps: list[tuple[str, str, str | None, int]],
    *,
    status: str,
    channel: str | None,
    thread_ts: str | None,
) -> dict[str, Any]:
    """``steps``: (agent name, output, cost, latency ms) per step, in order."""
    return {
        "version": 1,
        "run_id": str(run.id),
        "team_id": run.team_id,
        "status": status,
        "pipeline": {"id": run.pipeline_id, "name": run.pipeline_name},
        "input": run.input,
        "output": output,
        "requested_by": run.requested_by,
        "source": "slack",
        "created_at": run.created_at.isoformat(),
        "duration_ms": sum(st[3] for st in steps),
        "cost_usd": str(sum((Decimal(st[2]) for st in steps if st[2]), Decimal(0))),
        "models": [HAIKU],
        "usage": {"input_tokens": 100 * len(steps), "output_tokens": 50 * len(steps)},
        "slack": {"channel_id": channel, "thread_ts": thread_ts} if channel else None,
        "error": {"kind": "provider", "message": "Anthropic rejected the API key."} if status == "failed" else None,
        "steps": [
            {
                "position": i,
                "status": status,
                "agent": {"name": name},
                "model": HAIKU,
                "model_display": "Claude Haiku 4.5",
                "input": run.input,
                "output": text,
                "usage": {"input_tokens": 100, "output_tokens": 50},
                "cost_usd": cost,
                "latency_ms": ms,
            }
            for i, (name, text, cost, ms) in enumerate(steps, start=1)
        ],
    }


def finished_run(
    ctx,
    team: str,
    pipeline_id: int,
    output: str,
    *,
    steps: list[tuple[str, str, str | None, int]] | None = None,
    status: str = "succeeded",
    fake: FakeSlack | None = None,
    channel: str = GENERAL,
    minutes_ago: int = 0,
    user_id: str = USER_ID,
) -> Finished:
    """A finished run of ``pipeline_id`` with its artifact; with ``fake``, its thread in ``channel``
    (the parent, and the final message with the lifecycle buttons)."""
    steps = steps or [("Drafter", output, "0.0012", 1500)]
    client = WebClient(token=fake.token, base_url=fake.url) if fake is not None else None
    thread_ts = None
    with transaction(ctx.sessions) as s:
        pipeline = pipeline_repo.get_pipeline(s, team, pipeline_id)
        run = run_repo.create_run(s, team, pipeline, f"input of {output[:20]}", requested_by=user_id, source="slack")
        if client is not None:
            text, blocks = parent_message(pipeline.name, user_id, run.input, status=status)
            thread_ts = client.chat_postMessage(channel=channel, text=text, blocks=[b.to_dict() for b in blocks])["ts"]
            run.channel_id, run.thread_ts = channel, thread_ts
        run.status, run.output = status, output
        cost = sum((Decimal(st[2]) for st in steps if st[2]), Decimal(0))
        run.cost_usd = cost
        content = content_for(
            run, output, steps, status=status, channel=channel if client else None, thread_ts=thread_ts
        )
        aid = artifact_repo.insert_for_run(s, team, run, content, models=[HAIKU], cost_usd=cost)
        art = artifact_repo.get_artifact(s, team, aid)
        when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        art.created_at = run.created_at = when
        run_id, artifact_id = str(run.id), str(aid)
    done = Finished(run_id, artifact_id, channel if client else None, thread_ts)
    if client is not None:
        outcome = RunOutcome(
            run_id=run_id,
            status=status,
            output=output,
            error_kind="provider" if status == "failed" else None,
            error_message="Anthropic rejected the API key." if status == "failed" else None,
            cost_usd=cost,
            models=[HAIKU],
            duration_ms=1500,
            artifact_id=artifact_id,
            permalink=artifact_permalink(ctx, team, artifact_id),
        )
        text, blocks = final_message(pipeline.name, outcome)
        ts = client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=text, blocks=[b.to_dict() for b in blocks]
        )["ts"]
        done.final = fake.message(channel, ts)
    return done


def click(
    signer: SlackRequests,
    fake: FakeSlack,
    message: dict[str, Any],
    action_id: str,
    *,
    channel: str = GENERAL,
    user_id: str = USER_ID,
    value: Any = None,
) -> tuple[bytes, dict[str, str]]:
    """A click on ``action_id`` in a message of ``channel``, with a live trigger id."""
    return signer.block_actions(
        action_id=action_id,
        message=message,
        channel_id=channel,
        user_id=user_id,
        value=value,
        trigger_id=fake.new_trigger_id(user_id=user_id),
    )


def element(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    """The element with ``action_id`` in ``blocks``; AssertionError naming those present."""
    found = [
        el
        for b in blocks
        for el in ([b.get("accessory"), b.get("element")] + list(b.get("elements") or []))
        if isinstance(el, dict)
    ]
    for el in found:
        if el.get("action_id") == action_id:
            return el
    raise AssertionError(f"no {action_id!r}; have {[el.get('action_id') for el in found]}")


def guest_click(
    signer: SlackRequests,
    message: dict[str, Any],
    action_id: str,
    trigger_id: str,
    *,
    user_id: str,
    guest_team: str,
    channel: str = GENERAL,
) -> tuple[bytes, dict[str, str]]:
    """A click by ``user_id``, a person of workspace ``guest_team`` (tests/support/people.py's
    outsider), on a message of ``channel``: the payload names our workspace, the person's
    ``team_id`` theirs, as Slack sends it from a Slack Connect channel."""
    body, _ = signer.block_actions(
        action_id=action_id, message=message, channel_id=channel, trigger_id=trigger_id, user_id=user_id
    )
    payload = json.loads(urllib.parse.unquote(body.decode()[len("payload=") :]))
    payload["user"]["team_id"] = guest_team
    raw = b"payload=" + urllib.parse.quote(json.dumps(payload), safe="").encode("ascii")
    return signer.sign(raw, "application/x-www-form-urlencoded")

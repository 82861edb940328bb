"""Artifacts for the viewer's lifecycle tests: stored as the executor stores them (real
PostgreSQL), with steps, usage, cost and time, plus versions, branches and votes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from bot.web.server import build_app
from storage.db import transaction
from storage.repos import agents as agent_repo
from storage.repos import artifact_versions as versions
from storage.repos import artifacts as artifact_repo
from storage.repos import feedback, lineage
from storage.repos import pipelines as pipeline_repo
from storage.repos import runs as run_repo
from tests.support.http_server import serve

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def content(
    outputs: list[str],
    *,
    cost: str = "0.0100",
    tokens: tuple[int, int] = (100, 50),
    duration_ms: int = 4000,
    models: tuple[str, ...] = ("anthropic:claude-haiku-4-5",),
) -> dict[str, Any]:
    steps = []
    for i, out in enumerate(outputs, start=1):
        model = models[(i - 1) % len(models)]
        steps.append(
            {
                "position": i,
                "status": "succeeded",
                "model": model,
                "model_display": model.split(":")[-1],
                "agent": {"id": i, "name": f"Agent {i}", "model": model, "system_prompt": ""},
                "input": "in",
                "output": out,
                "usage": {"input_tokens": tokens[0], "output_tokens": tokens[1]},
                "cost_usd": cost,
                "latency_ms": duration_ms // max(1, len(outputs)),
            }
        )
    n = len(outputs)
    return {
        "version": 1,
        "status": "succeeded",
        "pipeline": {"id": None, "name": "Digest"},
        "input": "the input",
        "output": outputs[-1],
        "requested_by": "U1",
        "created_at": "2026-11-30T10:00:00+00:00",
        "duration_ms": duration_ms,
        "cost_usd": str(float(cost) * n),
        "models": list(models),
        "usage": {"input_tokens": tokens[0] * n, "output_tokens": tokens[1] * n},
        "steps": steps,
    }


def make_artifact(
    ctx: Any,
    team: str,
    body: dict[str, Any],
    *,
    pipeline_id: int | None = None,
    channel_id: str | None = None,
    requested_by: str = "U1",
) -> tuple[str, int]:
    """A stored artifact of ``body``, run in ``channel_id`` (None: posted nowhere) for
    ``requested_by``; returns its id and the pipeline id (reuse it for siblings)."""
    with transaction(ctx.sessions) as s:
        if pipeline_id is None:
            agent = agent_repo.create_agent(
                s, team, name=f"Writer {uuid.uuid4().hex[:6]}", system_prompt="", model="anthropic:claude-haiku-4-5"
            )
            pipeline = pipeline_repo.create_pipeline(s, team, f"Digest {uuid.uuid4().hex[:6]}", [agent.id])
        else:
            pipeline = pipeline_repo.get_pipeline(s, team, pipeline_id)
        run = run_repo.create_run(s, team, pipeline, "the input", requested_by=requested_by, channel_id=channel_id)
        aid = artifact_repo.insert_for_run(s, team, run, body, models=list(body.get("models") or []), cost_usd=None)
        return str(aid), int(pipeline.id)


def save_version(
    ctx: Any,
    team: str,
    aid: str,
    base: int,
    body: dict[str, Any],
    *,
    author: str = "U2",
    note: str | None = None,
    edited: str = "output",
) -> int:
    with transaction(ctx.sessions) as s:
        return versions.save_version(
            s, team, aid, base_version=base, content=body, edited=edited, author=author, note=note
        )


def branch(
    ctx: Any, team: str, child: str, parent: str, *, version: int, step: int, changes: dict[str, Any] | None = None
) -> None:
    with transaction(ctx.sessions) as s:
        assert lineage.set_parent(
            s,
            team,
            child,
            parent_artifact_id=parent,
            parent_version=version,
            branched_from_step=step,
            branch_changes=changes,
        )


def vote(ctx: Any, team: str, aid: str, version: int, user: str, value: int) -> None:
    with transaction(ctx.sessions) as s:
        assert feedback.vote(s, team, aid, version, user, value)


def local(link: str, base: str) -> str:
    """A link minted for the public URL, pointed at the test server."""
    parts = urlsplit(link)
    return f"{base}{parts.path}?{parts.query}"


@contextmanager
def site(ctx: Any) -> Iterator[str]:
    with serve(build_app(ctx)) as url:
        yield url

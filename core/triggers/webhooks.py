"""Webhook triggers (DESIGN §13): a request to ``/hooks/{id}`` carrying the trigger's secret
starts one run of its pipeline, posted in the trigger's one channel; ``GET`` on the run's
status URL with the same secret says how it went. The HTTP side is bot/web/webhook_routes.py;
this module holds the rules, so another surface (a test, a benchmark) starts the same runs.

Authentication: the trigger is found by its id alone (the URL names no workspace), then its
secret compared in constant time. An unknown id, a malformed one, another kind of trigger and a
wrong secret are one refusal, so the answer is no oracle for which ids exist.

Idempotency-Key, exactly: the same key for the same trigger within 24 hours of the run it
started returns that run; after 24 hours it starts a new one. The run's ``dedupe_key`` is
``hook:{trigger id}:{sha256(key)}`` for the first run of a key, then ``…:2``, ``…:3`` for the
runs of later days: the newest generation decides, and the unique column makes two racing
requests with one key record one run (core/runs/intake.py). Nothing lives in Redis, so a
flushed or unreachable Redis never makes a replay start a second run. The run's id is derived
from its dedupe key, so a replay that arrives while the first request is still being
recorded is answered with the same id.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from core.context import AppContext
from core.errors import QueueUnavailable, RefusalKind, RunRejected
from core.links import artifact_permalink
from core.preflight import utc_midnight
from core.runs.intake import submit
from core.runs.request import INPUT_MAX, Origin, ReportTo, RunRequest
from core.settings import Settings
from core.text import clean_text
from core.triggers import webhook_texts as texts
from core.triggers.store import WEBHOOK, TriggerView, secret_matches, view_of
from storage.db import transaction
from storage.models import Run
from storage.repos import artifacts as artifact_repo
from storage.repos import runs as run_repo
from storage.repos import spend as spend_repo
from storage.repos import triggers as repo
from storage.states import FINISHED, RunStatus

__all__ = [
    "IDEMPOTENCY_KEY_MAX",
    "IDEMPOTENCY_WINDOW",
    "Accepted",
    "HookRefused",
    "HookRunStatus",
    "Refusal",
    "authenticate",
    "hook_url",
    "run_status",
    "start",
    "status_url",
]

log = logging.getLogger(__name__)

HOOK_PATH = "/hooks/{id}"
IDEMPOTENCY_WINDOW = timedelta(hours=24)
IDEMPOTENCY_KEY_MAX = 200
#: Generations of one key looked at (one per 24 hours it was reused); past them a fresh key.
_GENERATIONS_MAX = 1000
#: Namespace of the run ids derived from a dedupe key (uuid5).
_RUN_IDS = uuid.UUID("5d0c6a43-7d1e-4f43-9a52-2f0b8f4c1e77")
#: Compared against when no trigger was found, so that refusal costs what a wrong secret does.
_NO_HASH = "0" * 64


class Refusal(StrEnum):
    """Why a webhook request started nothing (the route turns each into its HTTP status)."""

    UNAUTHORIZED = "unauthorized"
    PAUSED = "paused"
    PIPELINE_GONE = "pipeline_gone"
    CANNOT_RUN = "cannot_run"
    LIMITED = "limited"
    EMPTY_INPUT = "empty_input"
    INPUT_TOO_LONG = "input_too_long"
    BAD_INPUT = "bad_input"
    NOT_FOUND = "not_found"


class HookRefused(Exception):
    """Nothing was started; ``message`` says why, ``retry_after_s`` when trying later helps."""

    def __init__(self, kind: Refusal, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Accepted:
    """A request that has its run: ``replayed`` when its Idempotency-Key had started it
    before; ``queue_down`` when the run is saved but waits for Redis to be enqueued."""

    run_id: str
    status_url: str
    replayed: bool = False
    queue_down: bool = False


@dataclass(frozen=True)
class HookRunStatus:
    """What ``GET status_url`` answers; output, permalink and error only once the run ended."""

    run_id: str
    status: str
    output: str | None = None
    permalink: str | None = None
    error: str | None = None

    @property
    def ended(self) -> bool:
        return self.status in FINISHED


def hook_url(settings: Settings, trigger_id: str) -> str:
    """The URL a webhook trigger is called at (shown once with its secret)."""
    return settings.public_url + HOOK_PATH.format(id=trigger_id)


def status_url(settings: Settings, trigger_id: str, run_id: str) -> str:
    return f"{hook_url(settings, trigger_id)}/runs/{run_id}"


def authenticate(ctx: AppContext, trigger_id: str, secret: str) -> TriggerView:
    """The webhook trigger ``trigger_id`` if ``secret`` is its secret; else HookRefused
    (UNAUTHORIZED), the same for every way of being wrong."""
    try:
        tid = uuid.UUID(trigger_id)
    except (ValueError, TypeError):
        tid = None
    with transaction(ctx.sessions) as s:
        row = repo.get_by_id(s, tid) if tid is not None else None
        stored = row.secret_hash if row is not None and row.kind == WEBHOOK else None
        if not secret_matches(stored or _NO_HASH, secret) or row is None or stored is None:
            raise HookRefused(Refusal.UNAUTHORIZED, texts.UNAUTHORIZED)
        return view_of(row)


def start(ctx: AppContext, trigger: TriggerView, input_text: str, idempotency_key: str | None = None) -> Accepted:
    """Start a run of ``trigger``'s pipeline on ``input_text`` (or answer a replayed key with
    its run). Raises HookRefused when nothing starts; a run saved while Redis is down is
    accepted (it starts once Redis is back)."""
    text = clean_text(input_text)
    if not text.strip():
        raise HookRefused(Refusal.EMPTY_INPUT, texts.EMPTY_INPUT)
    if len(text) > INPUT_MAX:
        raise HookRefused(Refusal.INPUT_TOO_LONG, texts.input_too_long(INPUT_MAX))
    dedupe_key: str | None = None
    run_id: uuid.UUID | None = None
    if idempotency_key is not None:
        prior, dedupe_key = _prior_of_key(ctx, trigger, idempotency_key)
        if prior is not None:
            return _accepted(ctx, trigger, prior, replayed=True)
        run_id = uuid.uuid5(_RUN_IDS, dedupe_key)
    if trigger.pipeline_id is None:
        raise HookRefused(Refusal.PIPELINE_GONE, texts.pipeline_gone(trigger.pipeline_name))
    if trigger.paused:
        raise HookRefused(Refusal.PAUSED, texts.PAUSED)
    request = RunRequest(
        trigger.team_id,
        Origin.WEBHOOK,
        pipeline_id=trigger.pipeline_id,
        pipeline_name=trigger.pipeline_name,
        input_text=text,
        requested_by=trigger.created_by,
        report_to=ReportTo(channel_id=trigger.channels[0] if trigger.channels else None),
        dedupe_key=dedupe_key,
        run_id=run_id,
        origin_detail={"kind": Origin.WEBHOOK.value, "id": trigger.id, "name": trigger.name, "by": trigger.created_by},
    )
    try:
        submission = submit(ctx, request, preflight=True)
    except QueueUnavailable as exc:
        return _accepted(ctx, trigger, str(exc.run.id), queue_down=True)
    except RunRejected as exc:
        raise _refusal(ctx, trigger, exc) from None
    if submission.run is None:  # the same key, still being recorded by another request
        assert run_id is not None  # only a request with a dedupe key can be a repeat
        return _accepted(ctx, trigger, str(run_id), replayed=True)
    return _accepted(ctx, trigger, str(submission.run.id), replayed=submission.repeat)


def run_status(ctx: AppContext, trigger: TriggerView, run_id: str) -> HookRunStatus:
    """The status of a run this trigger started; HookRefused (NOT_FOUND) for any other id."""
    with transaction(ctx.sessions) as s:
        run = run_repo.get_run(s, trigger.team_id, run_id)
        if run is None or not _started_by(run, trigger):
            raise HookRefused(Refusal.NOT_FOUND, texts.RUN_NOT_FOUND)
        status = RunStatus(run.status)
        if status not in FINISHED:
            return HookRunStatus(str(run.id), status.value)
        artifact = artifact_repo.get_artifact_for_run(s, trigger.team_id, run.id)
        link = artifact_permalink(ctx, trigger.team_id, str(artifact.id)) if artifact is not None else None
        error = run.error_message if status is RunStatus.FAILED else None
        return HookRunStatus(str(run.id), status.value, run.output, link, error)


def _started_by(run: Run, trigger: TriggerView) -> bool:
    origin = run.origin or {}
    return origin.get("kind") == Origin.WEBHOOK.value and origin.get("id") == trigger.id


def _accepted(
    ctx: AppContext, trigger: TriggerView, run_id: str, *, replayed: bool = False, queue_down: bool = False
) -> Accepted:
    return Accepted(run_id, status_url(ctx.settings, trigger.id, run_id), replayed, queue_down)


def _prior_of_key(ctx: AppContext, trigger: TriggerView, key: str) -> tuple[str | None, str]:
    """(the run this key started within 24 hours or None, the dedupe key a new run takes)."""
    base = f"hook:{trigger.id}:{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()}"
    since = datetime.now(UTC) - IDEMPOTENCY_WINDOW
    with transaction(ctx.sessions) as s:
        for generation in range(1, _GENERATIONS_MAX + 1):
            dedupe_key = base if generation == 1 else f"{base}:{generation}"
            prior = run_repo.get_run_by_dedupe_key(s, trigger.team_id, dedupe_key)
            if prior is None:
                return None, dedupe_key
            if prior.created_at >= since:
                return str(prior.id), dedupe_key
    return None, f"{base}:{uuid.uuid4().hex}"


def _refusal(ctx: AppContext, trigger: TriggerView, exc: RunRejected) -> HookRefused:
    """What a refusal of intake means for a webhook caller."""
    if exc.kind == RefusalKind.DAILY_LIMIT:
        now = datetime.now(UTC)
        wait = (utc_midnight(now) + timedelta(days=1) - now).total_seconds()
        return HookRefused(Refusal.LIMITED, texts.limited(exc.message), max(1, int(wait) + 1))
    if exc.kind == RefusalKind.PERSON_RATE:
        wait_s = _person_free_in(ctx, trigger)
        return HookRefused(Refusal.LIMITED, texts.creator_rate(wait_s), wait_s)
    if exc.kind == RefusalKind.NOT_FOUND:
        return HookRefused(Refusal.PIPELINE_GONE, texts.pipeline_gone(trigger.pipeline_name))
    if exc.kind == RefusalKind.BAD_INPUT:
        return HookRefused(Refusal.BAD_INPUT, exc.message)
    return HookRefused(Refusal.CANNOT_RUN, texts.cannot_run(exc.message))


def _person_free_in(ctx: AppContext, trigger: TriggerView) -> int:
    """Seconds until the creator's oldest run of the last hour leaves the hourly window."""
    now = datetime.now(UTC)
    with transaction(ctx.sessions) as s:
        _, oldest = spend_repo.runs_started_since(s, trigger.team_id, trigger.created_by, now - timedelta(hours=1))
    if oldest is None:
        return 60
    return max(1, int((oldest + timedelta(hours=1) - now).total_seconds()) + 1)

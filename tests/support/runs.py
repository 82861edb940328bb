"""Fixtures for running pipelines end to end: fake providers, keys, agents, real worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from core import agents, pipelines
from core.agents import AgentDraft
from core.pipelines import PipelineDraft
from storage.db import transaction
from storage.models import RunStep
from storage.repos import artifacts as artifact_repo
from storage.repos import credentials as credential_repo
from storage.repos import runs as run_repo
from tests.fakes.fake_anthropic import FakeAnthropic
from tests.fakes.fake_openai import FakeOpenAI

HAIKU = "anthropic:claude-haiku-4-5"
GPT = "openai:gpt-5.4-mini"


@pytest.fixture(scope="session")
def _fake_providers() -> Iterator[tuple[FakeAnthropic, FakeOpenAI]]:
    a, o = FakeAnthropic().start(), FakeOpenAI().start()
    yield a, o
    a.stop()
    o.stop()


@pytest.fixture
def fake_anthropic(_fake_providers) -> FakeAnthropic:
    _fake_providers[0].reset()
    return _fake_providers[0]


@pytest.fixture
def fake_openai(_fake_providers) -> FakeOpenAI:
    _fake_providers[1].reset()
    return _fake_providers[1]


@pytest.fixture
def worker_env(base_env, fake_anthropic, fake_openai) -> dict[str, str]:
    return dict(
        base_env,
        ANTHROPIC_BASE_URL=fake_anthropic.url,
        OPENAI_BASE_URL=fake_openai.url,
        PIPEBOT_HEARTBEAT_SECONDS="0.5",
        PIPEBOT_STALE_AFTER_SECONDS="3",
        PIPEBOT_REAP_SECONDS="1",
    )


def with_keys(ctx, team: str, *providers: str) -> None:
    with transaction(ctx.sessions) as s:
        for p in providers:
            credential_repo.set_credential(s, team, p, f"sk-test-{p}-key-0001", ctx.box, "U1")


def make_agent(ctx, team: str, name: str, model: str = HAIKU, prompt: str = "", **kw) -> int:
    with transaction(ctx.sessions) as s:
        return agents.create(
            s, team, AgentDraft(name=name, system_prompt=prompt or f"You are {name}.", model=model, **kw), "U1"
        ).id


def make_pipeline(ctx, team: str, name: str, agent_ids: list[int], **kw) -> int:
    with transaction(ctx.sessions) as s:
        return pipelines.create(s, team, PipelineDraft(name=name, agent_ids=agent_ids, **kw), "U1").id


# `pipebot worker` modes: the default keeps runs in threads of the worker process; --fork is
# RQ's classic worker, a forked work horse per job.
WORKER_FLAGS = {"threads": [], "fork": ["--fork"]}


def _worker_cmd(mode: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli.main", "worker", *WORKER_FLAGS[mode]]


def drain(env: dict[str, str], timeout: float = 120, *, mode: str = "threads") -> subprocess.CompletedProcess[str]:
    """A real `pipebot worker --burst` process (``mode``: "threads" or "fork"): runs what is
    queued, then exits."""
    out = subprocess.run(_worker_cmd(mode) + ["--burst"], env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def start_worker(env: dict[str, str], *, mode: str = "threads") -> subprocess.Popen[str]:
    return subprocess.Popen(
        _worker_cmd(mode),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def process_with_port(root_pid: int, port: int) -> int | None:
    """The pid, among ``root_pid`` and its descendants, that holds a TCP connection from local
    ``port`` (a fake provider's ``client_port``): which process made a request."""
    try:
        root = psutil.Process(root_pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return None
    for proc in procs:
        try:
            if any(c.laddr and c.laddr.port == port for c in proc.net_connections(kind="tcp")):
                return proc.pid
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def kill_hard(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the worker and its work horse (which RQ puts in a process group of its own)."""
    victims = [psutil.Process(proc.pid)]
    try:
        victims += victims[0].children(recursive=True)
    except psutil.NoSuchProcess:
        pass
    for p in victims:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    proc.wait(10)
    psutil.wait_procs(victims, timeout=10)


def stop_worker(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            kill_hard(proc)


# ---- reading what a run left behind (detached rows, safe to use after the session) ---------


def read_run(ctx, team: str, run_id):
    with transaction(ctx.sessions) as s:
        run = run_repo.get_run(s, team, run_id)
        s.expunge_all()
        return run


def all_runs(ctx, team: str) -> list[Any]:
    """Every run of ``team``, oldest first (detached)."""
    with transaction(ctx.sessions) as s:
        runs = list(run_repo.latest_runs(s, team, limit=1000))
        s.expunge_all()
    return sorted(runs, key=lambda r: r.created_at)


def read_steps(ctx, run_id) -> list[RunStep]:
    from sqlalchemy import select

    with transaction(ctx.sessions) as s:
        rows = list(s.scalars(select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.position)))
        s.expunge_all()
        return rows


def read_artifact(ctx, team: str, run_id):
    with transaction(ctx.sessions) as s:
        art = artifact_repo.get_artifact_for_run(s, team, run_id)
        s.expunge_all()
        return art

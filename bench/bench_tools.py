"""Issue 18's figures: a step making 5 MCP calls, and 200 runs waiting for approval at once.

1. **MCP calls.** A real MCP server (the `mcp` SDK's ``MCPServer`` over streamable HTTP with
   uvicorn on loopback, behind a bearer token, as tests/support/mcp_server.py serves it) has
   a tool ``pause`` that sleeps 50 ms and answers. A one-agent pipeline whose tools are
   ``["mcp:Bench"]`` runs on a real `pipebot worker`; the fake Anthropic API (tests/fakes)
   makes the model call ``pause`` 5 times, either one call per round (*rounds*: 6 model
   requests) or all 5 in one turn (*one turn*: 2 model requests), then answer. Each step's
   own latency (``run_steps.latency_ms``) minus the model's own time (the fake's request
   times, ``started_at`` → ``ended_at``) is what the tools cost, side by side with the same 5
   calls made directly with the `mcp` SDK's client (one session, 5 sequential calls; with
   and without opening the session) and with pipebot's ``core.mcp.client.call_tool`` (a
   connection per call, as the worker makes them).
2. **200 waiting runs.** Drafter → Approval → Publisher, 200 runs started at once and drained
   by one `pipebot worker` until all are ``waiting``: the worker slots they hold (fair-share
   slots in Redis, RQ's queue and started-job registry, target 0), the worker's RSS, the
   PostgreSQL rows. Then all 200 are approved back to back (``core.runs.approvals.decide``, as
   the person who started them) with the same worker running, and the time from each
   ``decide()`` returning to the fake model's request for the Publisher step is printed
   beside a baseline: 200 fresh one-step runs started back to back on the same worker,
   ``start_run()`` returning to the model's request; then both again one at a time
   (BENCH_TOOLS_PACED more runs, each once the last one's model request came).

The fake Anthropic API and the MCP server run in a child process (their threads do not
share the benchmark's or the worker's GIL); its clock is the same ``time.monotonic()``.

    .venv/bin/python bench/bench_tools.py
    BENCH_TOOLS_N=20 BENCH_TOOLS_WAITING=200 .venv/bin/python bench/bench_tools.py
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402
import psutil  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from redis import Redis  # noqa: E402
from rq import Queue, Worker  # noqa: E402
from rq.registry import StartedJobRegistry  # noqa: E402
from sqlalchemy import func, select, text, update  # noqa: E402

from bench._common import PeakMemory, pct, scratch_database  # noqa: E402
from core import agents, pipelines  # noqa: E402
from core.agents import AgentDraft  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.mcp import servers  # noqa: E402
from core.mcp.client import Endpoint, McpLimits, call_tool  # noqa: E402
from core.mcp.names import model_tool_name  # noqa: E402
from core.mcp.tools import server_selector  # noqa: E402
from core.pipelines import PipelineDraft  # noqa: E402
from core.runs.approvals import DecisionResult, decide  # noqa: E402
from core.runs.fair_share import slots_key  # noqa: E402
from core.runs.intake import start_run  # noqa: E402
from core.settings import load_settings  # noqa: E402
from storage.db import transaction  # noqa: E402
from storage.models import Agent, Approval, Run, RunStep  # noqa: E402
from storage.repos import credentials as credential_repo  # noqa: E402
from storage.secrets import new_key  # noqa: E402
from storage.states import ApprovalStatus  # noqa: E402
from tests.support.approvals import Recorder  # noqa: E402

QUEUE = load_settings().PIPEBOT_QUEUE
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
TEAM = "TBENCH"
STARTER = "U0BENCH"
HAIKU = "anthropic:claude-haiku-4-5"
N = int(os.environ.get("BENCH_TOOLS_N", "20"))  # repeats of each MCP measurement
WAITING = int(os.environ.get("BENCH_TOOLS_WAITING", "200"))  # runs waiting for approval at once
PACED = int(os.environ.get("BENCH_TOOLS_PACED", "20"))  # approvals one at a time
CALLS = 5
PAUSE_S = 0.05
SERVER = "Bench"
TOOL = "pause"
TOKEN = "bench-mcp-token-7d1e"
MESSAGES = "/v1/messages"
_MARK = re.compile(rb"\b(rounds|oneturn|warm)-(\d{4})\b|\brun ([a-d])(\d{4})\b")


# ---- the network edge, in a child process ------------------------------------------------


def _model_turn(tool_name: str) -> Callable[..., Any]:
    """The fake model's reply as a function of the request: in a run whose input says
    ``rounds-…``, one ``pause`` call per round until 5 results came back; ``oneturn-…``: 5
    calls in the first turn; then (and for every other run) the fake's ordinary echo."""
    from tests.fakes.llm_base import FakeLLMServer, ToolCallSpec, Turn

    def turn(req: Any, model_id: str, last_user: str) -> Any:
        body = req.body
        results = body.count(b'"tool_result"')
        if b"rounds-" in body and results < CALLS:
            return Turn(tool_calls=[ToolCallSpec(tool_name, {"seconds": PAUSE_S})])
        if (b"oneturn-" in body or b"warm-" in body) and results == 0:
            return Turn(tool_calls=[ToolCallSpec(tool_name, {"seconds": PAUSE_S}) for _ in range(CALLS)])
        if results:
            return Turn(text=f"done after {results} calls")
        return FakeLLMServer.echo_turn(req, model_id, last_user)

    return turn


def _mcp_app() -> Any:
    """The SDK's MCPServer with one tool that sleeps 50 ms, behind the tests' bearer check."""
    import anyio
    from mcp.server.mcpserver import MCPServer
    from mcp.server.transport_security import TransportSecuritySettings

    from tests.support.mcp_server import PATH, Seen, _BearerCheck

    srv = MCPServer("bench")

    @srv.tool(description="Wait this many seconds, then answer.")
    async def pause(seconds: float = PAUSE_S) -> str:
        await anyio.sleep(seconds)
        return f"waited {seconds} s"

    inner = srv.streamable_http_app(
        streamable_http_path=PATH,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return _BearerCheck(inner, TOKEN, Seen())


def _edge(conn: Any) -> None:
    """The fake Anthropic API and the MCP server; answers commands on ``conn``:
    ``requests`` (the recorded model requests as (started_at, ended_at, marks)), ``clear``,
    ``stop``."""
    import uvicorn

    from tests.fakes.fake_anthropic import FakeAnthropic
    from tests.support.mcp_server import PATH

    fake = FakeAnthropic().start()
    fake.default_turn = _model_turn(model_tool_name(SERVER, TOOL))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_mcp_app(), log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    conn.send((fake.url, f"http://127.0.0.1:{port}{PATH}"))
    while True:
        cmd = conn.recv()
        if cmd == "requests":
            conn.send(
                [
                    (r.started_at, r.ended_at, [m.group(0).decode() for m in _MARK.finditer(r.body)])
                    for r in fake.calls(MESSAGES)
                ]
            )
        elif cmd == "clear":
            fake.requests.clear()
            conn.send(True)
        else:
            break
    server.should_exit = True
    thread.join(5)
    fake.stop()


@dataclass
class Edge:
    conn: Any
    model_url: str
    mcp_url: str

    def requests(self) -> list[tuple[float, float, list[str]]]:
        self.conn.send("requests")
        return list(self.conn.recv())

    def clear(self) -> None:
        self.conn.send("clear")
        self.conn.recv()


@contextmanager
def edge() -> Iterator[Edge]:
    here, there = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=_edge, args=(there,), daemon=True)
    proc.start()
    model_url, mcp_url = here.recv()
    try:
        yield Edge(here, model_url, mcp_url)
    finally:
        here.send("stop")
        proc.join(10)


# ---- the worker ---------------------------------------------------------------------------


@contextmanager
def worker(env: dict[str, str], redis: Redis) -> Iterator[subprocess.Popen[bytes]]:
    """A `pipebot worker` (threaded, the default) until the block ends, once it listens."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while Worker.count(queue=Queue(QUEUE, connection=redis)) == 0:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the worker did not start")
            time.sleep(0.1)
        time.sleep(1)  # warmed up (providers/warmup.py)
        yield proc
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(60)


def _status(ctx: AppContext, run_id: uuid.UUID) -> str:
    with transaction(ctx.sessions) as s:
        return str(s.scalar(select(Run.status).where(Run.id == run_id)))


def _wait_run(ctx: AppContext, run_id: uuid.UUID, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while (status := _status(ctx, run_id)) not in ("succeeded", "failed"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} still {status}")
        time.sleep(0.02)
    return status


def _statuses(ctx: AppContext, ids: list[uuid.UUID]) -> dict[str, int]:
    with transaction(ctx.sessions) as s:
        rows = s.execute(select(Run.status, func.count()).where(Run.id.in_(ids)).group_by(Run.status)).all()
    return {str(st): int(n) for st, n in rows}


def _wait_all(ctx: AppContext, ids: list[uuid.UUID], status: str, timeout: float) -> float:
    t0 = time.monotonic()
    while _statuses(ctx, ids).get(status, 0) < len(ids):
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"not all runs {status}: {_statuses(ctx, ids)}")
        time.sleep(0.1)
    return time.monotonic() - t0


# ---- part 1: 5 MCP calls -----------------------------------------------------------------


def _agent(ctx: AppContext, name: str, tools: list[str] | None = None) -> int:
    with transaction(ctx.sessions) as s:
        aid = agents.create(s, TEAM, AgentDraft(name=name, system_prompt="Be brief.", model=HAIKU), STARTER).id
        if tools is not None:  # as the agent modal saves them
            s.execute(update(Agent).where(Agent.id == aid).values(tools=tools))
    return aid


def _pipeline(ctx: AppContext, name: str, agent_ids: list[int]) -> int:
    with transaction(ctx.sessions) as s:
        return pipelines.create(s, TEAM, PipelineDraft(name=name, agent_ids=agent_ids), STARTER).id


def _step_tool_time(ctx: AppContext, ed: Edge, mode: str, i: int) -> tuple[float, float, int]:
    """One run of the MCP pipeline: (step latency, the model's own time in it, tool calls)."""
    mark = f"{mode}-{i:04d}"
    run = start_run(ctx, TEAM, "Tools", f"go {mark}", requested_by=STARTER)
    if _wait_run(ctx, run.id) != "succeeded":
        raise RuntimeError(f"the {mode} run failed")
    with transaction(ctx.sessions) as s:
        step = s.scalars(select(RunStep).where(RunStep.run_id == run.id)).one()
        latency, calls = float(step.latency_ms or 0), len(step.tool_calls or [])
    model = sum((end - start) * 1000 for start, end, marks in ed.requests() if mark in marks)
    return latency, model, calls


def _direct_sdk(url: str) -> tuple[float, float]:
    """The same 5 calls with the `mcp` SDK's client: one session, sequential calls. (whole
    time, the calls alone) in ms."""

    async def go() -> tuple[float, float]:
        t0 = time.perf_counter()
        hc = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, trust_env=False)
        async with hc, Client(streamable_http_client(url, http_client=hc)) as client:
            t1 = time.perf_counter()
            for _ in range(CALLS):
                result = await client.call_tool(TOOL, {"seconds": PAUSE_S})
                if result.is_error:
                    raise RuntimeError("the direct call failed")
            t2 = time.perf_counter()
        return (time.perf_counter() - t0) * 1000, (t2 - t1) * 1000

    return asyncio.run(go())


def _pipebot_client(url: str) -> float:
    """The same 5 calls through pipebot's core.mcp.client.call_tool (a connection per call)."""
    endpoint = Endpoint(SERVER, url, TOKEN, frozenset({"127.0.0.1"}))
    t0 = time.perf_counter()
    for _ in range(CALLS):
        if call_tool(endpoint, TOOL, {"seconds": PAUSE_S}, McpLimits()).is_error:
            raise RuntimeError("pipebot's call failed")
    return (time.perf_counter() - t0) * 1000


def _line(label: str, xs: list[float], base: float | None = None) -> str:
    p50, p95 = statistics.median(xs), pct(xs, 95)
    ratio = f"{p50 / base:6.2f}x" if base else f"{'':>7}"
    return f"  {label:<52} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  {ratio}"


def mcp_part(ctx: AppContext, env: dict[str, str], redis: Redis, ed: Edge) -> list[str]:
    servers.add_server(ctx, TEAM, name=SERVER, url=ed.mcp_url, token=TOKEN, ask="never", user_id=STARTER)
    _pipeline(ctx, "Tools", [_agent(ctx, "Tool user", [server_selector(SERVER)])])
    rounds: list[tuple[float, float, int]] = []
    oneturn: list[tuple[float, float, int]] = []
    direct: list[tuple[float, float]] = []
    ours_client: list[float] = []
    with worker(env, redis):
        for i in range(2):  # warm: the tool list cached, connections made, code paths taken
            _step_tool_time(ctx, ed, "warm", i)
            _direct_sdk(ed.mcp_url)
            _pipebot_client(ed.mcp_url)
        for i in range(N):  # interleaved, so a busy moment of the machine hits all alike
            rounds.append(_step_tool_time(ctx, ed, "rounds", i))
            oneturn.append(_step_tool_time(ctx, ed, "oneturn", i))
            direct.append(_direct_sdk(ed.mcp_url))
            ours_client.append(_pipebot_client(ed.mcp_url))
    if any(c != CALLS for _, _, c in rounds + oneturn):
        raise RuntimeError("a step did not record 5 tool calls")
    whole = [d for d, _ in direct]
    base = statistics.median(whole)
    floor = CALLS * PAUSE_S * 1000
    out = [
        f"-- 5 calls of an MCP tool that sleeps {PAUSE_S * 1000:.0f} ms ({N} repeats each, "
        f"pipebot worker, threaded; floor {floor:.0f} ms)",
        _line("mcp SDK client, one session: open + 5 calls (baseline)", whole, base),
        _line("mcp SDK client, one session: the 5 calls alone", [c for _, c in direct], base),
        _line("pipebot core.mcp.client.call_tool x5 (a connection each)", ours_client, base),
    ]
    for label, rows in (("5 rounds of 1 call", rounds), ("1 turn of 5 calls", oneturn)):
        out.append(_line(f"step, {label}: latency minus model time", [lat - m for lat, m, _ in rows], base))
        out.append(_line(f"step, {label}: model's own time", [m for _, m, _ in rows]))
        out.append(_line(f"step, {label}: step latency", [lat for lat, _, _ in rows]))
    for label, rows in (("5 rounds", rounds), ("1 turn", oneturn)):
        over = statistics.median([lat - m for lat, m, _ in rows])
        out.append(
            f"  target, {label}: step latency minus model time <= 1.2x the direct calls: "
            f"{over / base:.2f}x ({'met' if over <= 1.2 * base else 'NOT met'})"
        )
    return out


# ---- part 2: 200 runs waiting for approval -----------------------------------------------


def _rss(pid: int) -> int:
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


def _slots_in_use(ctx: AppContext, redis: Redis) -> dict[str, int]:
    return {
        "fair-share slots (Redis)": int(redis.zcard(slots_key(TEAM))),
        "RQ queue": Queue(QUEUE, connection=redis).count,
        "RQ started jobs": StartedJobRegistry(QUEUE, connection=redis).count,
    }


def _rows(ctx: AppContext) -> dict[str, int]:
    with transaction(ctx.sessions) as s:
        out = {
            "runs": int(s.scalar(select(func.count()).select_from(Run)) or 0),
            "run_steps": int(s.scalar(select(func.count()).select_from(RunStep)) or 0),
            "approvals": int(s.scalar(select(func.count()).select_from(Approval)) or 0),
        }
        out["database bytes"] = int(s.scalar(text("SELECT pg_database_size(current_database())")) or 0)
    return out


def _first_request_after(requests: list[tuple[float, float, list[str]]], marks: dict[str, float]) -> dict[str, float]:
    """For each mark: ms from its time to the first model request carrying it that started after."""
    out: dict[str, float] = {}
    for started, _, found in sorted(requests):
        for m in found:
            if m in marks and m not in out and started >= marks[m]:
                out[m] = (started - marks[m]) * 1000
    return out


def _lat(label: str, xs: list[float], n: int) -> str:
    missing = f"  ({n - len(xs)} not seen)" if len(xs) < n else ""
    return (
        f"  {label:<44} n={len(xs):3d}  p50 {statistics.median(xs):7.1f} ms  p95 {pct(xs, 95):7.1f} ms  "
        f"p99 {pct(xs, 99):7.1f} ms  max {max(xs):7.1f} ms{missing}"
    )


def _cpu_s(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def _start_waiting(ctx: AppContext, prefix: str, n: int) -> dict[str, uuid.UUID]:
    """``n`` runs of the Reviewed pipeline started back to back and left to reach the approval:
    their marks (``run <prefix>0000``…) and pending approvals' ids."""
    ids = {
        f"run {prefix}{i:04d}": start_run(ctx, TEAM, "Reviewed", f"run {prefix}{i:04d}", requested_by=STARTER).id
        for i in range(n)
    }
    _wait_all(ctx, list(ids.values()), "waiting", 600)
    with transaction(ctx.sessions) as s:
        pending = dict(
            s.execute(
                select(Approval.run_id, Approval.id).where(
                    Approval.run_id.in_(list(ids.values())), Approval.status == ApprovalStatus.PENDING
                )
            ).all()
        )
    return {mark: pending[rid] for mark, rid in ids.items()}


def _approve(
    ctx: AppContext, ed: Edge, approvals: dict[str, uuid.UUID], *, paced: bool
) -> tuple[dict[str, float], tuple[float, float]]:
    """Approve each (as the starter); paced: one at a time, each once the last one's Publisher
    asked its model. (ms from decide() returning to that request per mark, (seconds from the
    first decide() returning to the last one, and to the last request))."""
    ed.clear()
    decided: dict[str, float] = {}
    for mark, aid in approvals.items():
        d = decide(ctx, TEAM, aid, STARTER, "approve", reporter=Recorder())
        decided[mark] = time.monotonic()
        if d.result != DecisionResult.APPROVED:
            raise RuntimeError(f"approve: {d.result} {d.message}")
        if paced:
            _wait_request(ed, mark)
    return _latencies(ed, decided)


def _fresh(
    ctx: AppContext, ed: Edge, prefix: str, n: int, *, paced: bool
) -> tuple[dict[str, float], tuple[float, float]]:
    """The baseline: ``n`` fresh one-step runs, start_run() returning to their model request."""
    ed.clear()
    started: dict[str, float] = {}
    for i in range(n):
        mark = f"run {prefix}{i:04d}"
        start_run(ctx, TEAM, "Plain", mark, requested_by=STARTER)
        started[mark] = time.monotonic()
        if paced:
            _wait_request(ed, mark)
    return _latencies(ed, started)


def _wait_request(ed: Edge, mark: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not any(mark in found for _, _, found in ed.requests()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no model request for {mark}")
        time.sleep(0.005)
    time.sleep(0.05)  # its run ends before the next starts


def _latencies(ed: Edge, marks: dict[str, float], timeout: float = 600) -> tuple[dict[str, float], tuple[float, float]]:
    deadline = time.monotonic() + timeout
    while len(lat := _first_request_after(requests := ed.requests(), marks)) < len(marks):
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    last = max((started for started, _, found in requests if any(m in marks for m in found)), default=0.0)
    first = min(marks.values())
    return lat, (max(marks.values()) - first, last - first)


def approval_part(ctx: AppContext, env: dict[str, str], redis: Redis, ed: Edge) -> list[str]:
    drafter, publisher = _agent(ctx, "Drafter"), _agent(ctx, "Publisher")
    pid = _pipeline(ctx, "Reviewed", [drafter, publisher])
    with transaction(ctx.sessions) as s:
        pipelines.add_approval(s, TEAM, pid, pipelines.approval_step(), position=2)
    _pipeline(ctx, "Plain", [_agent(ctx, "Plain")])
    out = [f"-- {WAITING} runs of Drafter -> Approval -> Publisher, one pipebot worker (threaded)"]
    with worker(env, redis) as proc:
        idle, rows_before = _rss(proc.pid), _rows(ctx)
        peak = PeakMemory(proc.pid, every=0.05)
        peak.start()
        t0 = time.monotonic()
        approvals = _start_waiting(ctx, "a", WAITING)
        drained = time.monotonic() - t0
        draining_peak = peak.stop()
        time.sleep(2)  # settled: the threads of the runs have ended
        slots = _slots_in_use(ctx, redis)
        waiting_rss = _rss(proc.pid)
        rows = _rows(ctx)

        cpu0 = _cpu_s(proc.pid)
        approve_lat, approve_span = _approve(ctx, ed, approvals, paced=False)
        cpu1 = _cpu_s(proc.pid)
        fresh_lat, fresh_span = _fresh(ctx, ed, "b", WAITING, paced=False)
        cpu2 = _cpu_s(proc.pid)
        paced_lat, _ = _approve(ctx, ed, _start_waiting(ctx, "c", PACED), paced=True)
        paced_fresh, _ = _fresh(ctx, ed, "d", PACED, paced=True)
        after_rss = _rss(proc.pid)

    mib = 2**20
    out.append(f"  all {WAITING} waiting {drained:.1f} s after the first start; then, with the worker running:")
    out.append(
        "  worker slots in use while waiting: "
        + ", ".join(f"{k} {v}" for k, v in slots.items())
        + f"  (target 0: {'met' if not any(slots.values()) else 'NOT met'})"
    )
    out.append(
        f"  worker RSS: idle {idle / mib:.0f} MiB, peak while draining {draining_peak / mib:.0f} MiB, "
        f"with {WAITING} waiting {waiting_rss / mib:.0f} MiB, at the end {after_rss / mib:.0f} MiB"
    )
    grown = {k: rows[k] - rows_before[k] for k in rows}
    out.append(
        f"  PostgreSQL, added by the {WAITING} waiting runs: "
        + ", ".join(f"{v} {k}" for k, v in grown.items() if k != "database bytes")
        + f" rows, database +{grown['database bytes'] / mib:.1f} MiB (to {rows['database bytes'] / mib:.1f} MiB)"
    )
    out.append(f"  all {WAITING} approved back to back (decide() as the starter, in this process):")
    out.append(_lat("decide() returned -> Publisher's model request", list(approve_lat.values()), WAITING))
    out.append(_lat("baseline: start_run() -> a fresh one-step run's", list(fresh_lat.values()), WAITING))
    out.append(
        f"  {WAITING} decide() in {approve_span[0]:.2f} s, the last Publisher request {approve_span[1]:.2f} s after "
        f"the first returned, worker CPU {(cpu1 - cpu0) / WAITING * 1000:.1f} ms per resumed run\n"
        f"  baseline: {WAITING} start_run() in {fresh_span[0]:.2f} s, the last request after {fresh_span[1]:.2f} s, "
        f"{(cpu2 - cpu1) / WAITING * 1000:.1f} ms per fresh run"
    )
    out.append(f"  one at a time ({PACED} more runs, each approved once the last one's next step began):")
    out.append(_lat("decide() returned -> Publisher's model request", list(paced_lat.values()), PACED))
    out.append(_lat("baseline: start_run() -> a fresh one-step run's", list(paced_fresh.values()), PACED))
    p99 = pct(list(approve_lat.values()), 99)
    paced99 = pct(list(paced_lat.values()), 99)
    out.append(
        f"  target p99 <= 1 s: {WAITING} back to back {p99:.0f} ms ({'met' if p99 <= 1000 else 'NOT met'}), "
        f"one at a time {paced99:.0f} ms ({'met' if paced99 <= 1000 else 'NOT met'})"
    )
    return out


def main() -> None:
    redis = Redis.from_url(REDIS)
    redis.flushdb()
    key = new_key()
    lines: list[str] = []
    with edge() as ed, scratch_database() as (db_url, _engine):
        env = dict(
            os.environ,
            DATABASE_URL=db_url,
            REDIS_URL=REDIS,
            PIPEBOT_SECRET_KEY=key,
            PIPEBOT_QUEUE=QUEUE,
            ANTHROPIC_BASE_URL=ed.model_url,
            PIPEBOT_MCP_ALLOWED_HOSTS="127.0.0.1",
            PYTHONPATH=str(ROOT),
            PIPEBOT_WORKER_CONCURRENCY=str(max(32, WAITING)),
            PIPEBOT_WORKSPACE_CONCURRENCY=str(max(8, WAITING)),
        )
        settings = load_settings(
            _env_file=None,
            DATABASE_URL=db_url,
            REDIS_URL=REDIS,
            PIPEBOT_SECRET_KEY=key,
            PIPEBOT_MCP_ALLOWED_HOSTS="127.0.0.1",
        )
        ctx = AppContext.create(settings, db_url, REDIS, settings.secret_keys)
        with transaction(ctx.sessions) as s:
            credential_repo.set_credential(s, TEAM, "anthropic", "sk-bench-key-0001", ctx.box)
        try:
            lines += mcp_part(ctx, env, redis, ed)
            lines += approval_part(ctx, env, redis, ed)
        finally:
            ctx.close()
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, load average {load:.2f} at the end")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

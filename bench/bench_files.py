"""Runs that take in files (DESIGN §11): how long a message shortcut on a message with a 5 MB
PDF and two images takes to reach the model, and how much memory 24 such runs in flight take.

    .venv/bin/python bench/bench_files.py [--runs 10] [--in-flight 24] [--model-s 8]

Everything real but Slack and the model: pipebot's web server (in this process, as the tests
run it) gets the shortcut and the run modal's submission signed as Slack signs them; a real
`pipebot worker` process (threaded, PIPEBOT_WORKER_CONCURRENCY = --in-flight) downloads the
files from the fake Slack with the bot token, stores them in PostgreSQL and sends them inline
(base64) to the fake Anthropic API, which runs in a child process and records when each
request arrived (``started_at``, time.monotonic(): the same clock in every process).

(a) **Latency**: from posting the modal's submission to the fake model's receipt of the run's
request, per run, next to the bare download of the same three files from the fake Slack with
httpx (one client, one after another, the bot token). Target: pipebot's median ≤ 1.5× the
bare download's.

(b) **Memory**: the worker's peak RSS (the process and its children, psutil, sampled every
50 ms) with --in-flight runs of that message at once (the fake model streams each reply over
--model-s seconds, so all of them overlap), next to as many text-only runs of a message
without files on a fresh worker. Target: ≤ 2×.

The files need the fake Slack's file support (``FakeSlack.add_file`` / ``post_as_user(files=)``)
and the runs need the shortcut, the worker and the provider to take files; where the fake has
no files yet, the file figures say "needs the files support" and only the baselines run (the
bare download then reads the same bytes from a stand-in file host on the same machine).
Needs PostgreSQL (BENCH_DATABASE_URL, default the local test server) and Redis
(BENCH_REDIS_URL, default redis://127.0.0.1:6379/11).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from redis import Redis  # noqa: E402
from rq import Queue, Worker  # noqa: E402

from bench._common import PeakMemory, pct, scratch_database  # noqa: E402

REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
QUEUE = "pipebot-bench-files"
PIPELINE = "Look"
MB = 1_000_000


# ---- the files -----------------------------------------------------------------------------


def _pdf(size: int) -> bytes:
    """A valid one-page PDF with a line of text, padded to ``size`` bytes by an image-like
    stream (a scan's weight): pypdf reads it, as the worker and the fake model do."""
    content = b"BT /F1 24 Tf 72 720 Td (Launch plan v2: what changed?) Tj ET"
    pad = max(0, size - 1000)
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R"
        b"/Resources<</Font<</F1 5 0 R>>/XObject<</Im1 6 0 R>>>>>>",
        b"<</Length %d>>stream\n" % len(content) + content + b"\nendstream",
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
        b"<</Type/XObject/Subtype/Image/Width 1/Height 1/ColorSpace/DeviceGray/BitsPerComponent 8/Length %d>>stream\n"
        % pad
        + bytes(i % 251 for i in range(pad))
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _png(width: int, seed: int) -> bytes:
    """A real RGB PNG of noise (it does not compress: about width² × 3 bytes, a photo's size)."""
    import random
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    noise = random.Random(seed)
    rows = b"".join(b"\x00" + noise.randbytes(width * 3) for _ in range(width))
    ihdr = struct.pack(">IIBBBBB", width, width, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b"")


FILES = [
    ("plan.pdf", "application/pdf", "pdf", _pdf(5 * MB)),
    ("before.png", "image/png", "png", _png(400, 1)),
    ("after.png", "image/png", "png", _png(420, 2)),
]


# ---- the fake model, in a child process ------------------------------------------------------


def _serve_model(conn: Any, arrivals: Any) -> None:
    """The fake Anthropic API: reports (started_at, marker, size) of each request; ``("slow", s)``
    makes replies stream over s seconds from then on, ``("stop",)`` ends it."""
    import re

    from tests.fakes.fake_anthropic import FakeAnthropic

    fake = FakeAnthropic().start()
    marker = re.compile(rb"bench-run-[0-9a-z-]+")

    def arrived(req: Any) -> None:
        found = marker.search(req.body or b"")
        arrivals.put((req.started_at, found.group(0).decode() if found else None, len(req.body or b"")))
        fake.requests.clear()  # keep memory flat: the requests are megabytes each

    fake.on_request = arrived
    conn.send(fake.url)
    while True:
        cmd = conn.recv()
        if cmd[0] != "slow":
            break
        fake.slow_turns(cmd[1], chunks=16)
    fake.stop()


# ---- the worker and its memory ----------------------------------------------------------------


@contextmanager
def worker(env: dict[str, str], redis: Redis) -> Iterator[subprocess.Popen[bytes]]:
    """A fresh `pipebot worker` (threaded), ready on the bench's queue."""
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
                raise SystemExit("the worker did not start")
            time.sleep(0.1)
        time.sleep(1)  # warmed up (providers/warmup.py)
        yield proc
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(60)


# ---- Slack's side -------------------------------------------------------------------------------


#: Between two measured shortcuts: Slack's per-method budget is a window of a few seconds
#: (bot/slack/ratelimit/tiers.py), and back-to-back shortcuts would measure its pacing of
#: files.info and chat.postMessage rather than one person's shortcut.
GAP_S = 3.0
CHANNELS = 8  # runs rotate through these: each channel sees one run every 8, far apart


class Shortcut:
    """The message shortcut as a person uses it: post a message (with files), run the shortcut
    on it, submit the run modal. Needs the fake Slack and pipebot's server."""

    def __init__(self, fake: Any, server_url: str, pipeline_id: int) -> None:
        from tests.support.slack_signing import SlackRequests

        self.fake, self.url, self.pipeline_id = fake, server_url, pipeline_id
        self.signer = SlackRequests()
        self.http = httpx.Client(timeout=30)
        self.made, self.channel = 0, ""
        self.channels = [f"C0BENCH{i:02d}" for i in range(CHANNELS)]
        for i, channel in enumerate(self.channels):  # made before pipebot first asks who is where
            fake.add_channel(channel, f"bench-{i}", is_member=True)

    def post(self, signed: tuple[bytes, dict[str, str]]) -> httpx.Response:
        body, headers = signed
        r = self.http.post(self.url + "/slack/events", content=body, headers=headers)
        if r.status_code != 200:
            raise SystemExit(f"pipebot answered {r.status_code}: {r.text[:300]}")
        return r

    def message(self, text: str, files: list[dict[str, Any]] | None) -> dict[str, Any]:
        """A message in the next of CHANNELS channels: Slack lets an app post about once a
        second in one channel (bot/slack/ratelimit), and back-to-back runs in one channel
        would measure that pacing, not the run's start."""
        self.made += 1
        self.channel = self.channels[self.made % len(self.channels)]
        if files:
            return dict(self.fake.post_as_user(self.channel, text, files=files))
        return {"type": "message", "user": "U0USER", "ts": f"{time.time():.6f}", "text": text}

    def open(self, message: dict[str, Any]) -> dict[str, Any]:
        """The shortcut on ``message``: the run modal it opened."""
        count = len(self.fake.calls("views.open"))
        self.post(
            self.signer.message_action(
                "run_on_message",
                message,
                channel_id=self.channel,
                trigger_id=self.fake.new_trigger_id(),
                response_url=self.fake.new_response_url(self.channel),
            )
        )
        call = self.fake.wait_for("views.open", count=count + 1, timeout=10)
        if not call.ok:
            raise SystemExit(f"the run modal did not open: {call.error}")
        return dict(call.response["view"])

    def submit(self, view: dict[str, Any]) -> None:
        """Submit the modal as the person would: the pipeline chosen, every prefilled input
        (the message's text) as the modal showed it."""
        values: dict[str, Any] = {
            b["label"]["text"]: b["element"]["initial_value"]
            for b in view.get("blocks") or []
            if b.get("type") == "input" and "initial_value" in (b.get("element") or {})
        }
        values["Pipeline"] = str(self.pipeline_id)
        r = self.post(self.signer.view_submission(view, values))
        if "errors" in r.text:
            raise SystemExit(f"the run modal refused the submission: {r.text[:300]}")


def shared_files(fake: Any) -> list[dict[str, Any]] | None:
    """The three files shared in #general (Slack's file objects), or None without file support."""
    if not hasattr(fake, "add_file"):
        return None
    return [fake.add_file(data, name, mimetype=mime, filetype=ft) for name, mime, ft, data in FILES]


@contextmanager
def stand_in_host() -> Iterator[list[str]]:
    """The three files served over HTTP on this machine, for the bare download where the fake
    Slack has no files yet (the same bytes, a plain GET each)."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from tests.support.http_server import serve

    by_name = {name: (mime, data) for name, mime, _, data in FILES}

    async def one(request: Any) -> Response:
        mime, data = by_name[request.path_params["name"]]
        return Response(data, media_type=mime)

    with serve(Starlette(routes=[Route("/files-pri/{name}", one)])) as url:
        yield [f"{url}/files-pri/{name}" for name, _, _, _ in FILES]


def bare_download(urls: list[str], token: str, n: int) -> list[float]:
    """Seconds to download the three files one after another with one httpx client, n times."""
    out = []
    with httpx.Client(timeout=30) as client:
        for _ in range(n):
            t0 = time.monotonic()
            for url in urls:
                r = client.get(url, headers={"Authorization": f"Bearer {token}"})
                if r.status_code != 200 or r.headers.get("content-type", "").startswith("text/html"):
                    raise SystemExit(f"download of {url} failed: {r.status_code}")
            out.append(time.monotonic() - t0)
    return out


# ---- the measurements ---------------------------------------------------------------------------


def _arrivals(arrivals: Any, markers: list[str], timeout: float) -> dict[str, tuple[float, int]]:
    """When the model got each of ``markers``' requests, and its size (others are skipped)."""
    import queue

    wanted, got = set(markers), dict[str, tuple[float, int]]()
    deadline = time.monotonic() + timeout
    while wanted - set(got):
        left = deadline - time.monotonic()
        try:
            started, found, size = arrivals.get(timeout=max(0.01, left))
        except queue.Empty:
            missing = sorted(wanted - set(got))
            raise SystemExit(f"the model never got {missing[:3]}… (is the files support merged?)") from None
        if found in wanted:
            got[found] = (started, size)
    return got


def _settled(finished: Callable[[], int], total: int, timeout: float = 120) -> None:
    """Wait until ``total`` runs have their artifact: a worker is stopped only when idle, so
    no run is left for the next worker to take over."""
    deadline = time.monotonic() + timeout
    while finished() < total:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {finished()} of {total} runs finished")
        time.sleep(0.1)


def latency(
    shortcut: Shortcut, files: list[dict[str, Any]] | None, arrivals: Any, n: int, label: str
) -> tuple[list[float], int]:
    """Seconds from the modal's submission to the model's receipt, n runs one at a time."""
    out, size = [], 0
    for i in range(n):
        time.sleep(GAP_S)  # one shortcut on a quiet workspace, not a burst against Slack's budget
        marker = f"bench-run-{label}-{i}"
        view = shortcut.open(shortcut.message(f"What changed? {marker}", files))
        t0 = time.monotonic()
        shortcut.submit(view)
        started, size = _arrivals(arrivals, [marker], 60)[marker]
        out.append(started - t0)
    return out, size


def peak_memory(
    shortcut: Shortcut,
    files: list[dict[str, Any]] | None,
    arrivals: Any,
    n: int,
    proc: subprocess.Popen[bytes],
    label: str,
) -> tuple[int, int]:
    """(idle RSS, peak RSS) of the worker while n runs are in flight at once."""
    rss = PeakMemory(proc.pid)
    idle = rss.current()
    views = [shortcut.open(shortcut.message(f"What changed? bench-run-{label}-{i}", files)) for i in range(n)]
    rss.start()
    for view in views:
        shortcut.submit(view)
    _arrivals(arrivals, [f"bench-run-{label}-{i}" for i in range(n)], 120)
    time.sleep(0.5)  # every run is now inside its slow reply: the peak holds
    return idle, rss.stop()


def _ms(xs: list[float]) -> str:
    return f"p50 {statistics.median(xs) * 1000:8.1f} ms   p99 {pct(xs, 99) * 1000:8.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--in-flight", type=int, default=24)
    ap.add_argument("--model-s", type=float, default=8.0)
    args = ap.parse_args()

    from sqlalchemy import text

    from bot.web.server import build_app
    from core.context import AppContext
    from core.settings import load_settings
    from storage.db import transaction
    from storage.repos import agents as agent_repo
    from storage.repos import credentials as credential_repo
    from storage.repos import pipelines as pipeline_repo
    from storage.secrets import new_key
    from tests.fakes.slack import TEAM_ID, FakeSlack
    from tests.support.http_server import serve
    from tests.support.slack_app import slack_settings

    redis = Redis.from_url(REDIS)
    redis.flushdb()
    ctl, there = multiprocessing.Pipe()
    arrivals: Any = multiprocessing.Queue()
    model = multiprocessing.Process(target=_serve_model, args=(there, arrivals), daemon=True)
    model.start()
    model_url = ctl.recv()
    fake = FakeSlack().start()
    # Slack's 3 s for a trigger is not what is measured here, and the server's first request
    # (Bolt's start) may take longer on a loaded machine.
    fake.trigger_ttl = 30.0
    key = new_key()
    rows: list[str] = []
    try:
        with scratch_database() as (db_url, _engine):
            base = load_settings(
                _env_file=None, DATABASE_URL=db_url, REDIS_URL=REDIS, PIPEBOT_SECRET_KEY=key, PIPEBOT_QUEUE=QUEUE
            )
            settings = slack_settings(base, fake, ANTHROPIC_BASE_URL=model_url)
            ctx = AppContext.create(settings, db_url, REDIS, settings.secret_keys)
            with transaction(ctx.sessions) as s:
                credential_repo.set_credential(s, TEAM_ID, "anthropic", "sk-bench-key-0001", ctx.box)
                agent = agent_repo.create_agent(
                    s, TEAM_ID, name="Looker", model="anthropic:claude-haiku-4-5", system_prompt="Be brief."
                )
                pipeline_id = int(pipeline_repo.create_pipeline(s, TEAM_ID, PIPELINE, [agent.id]).id)
            env = dict(
                os.environ,
                DATABASE_URL=db_url,
                REDIS_URL=REDIS,
                PIPEBOT_SECRET_KEY=key,
                PIPEBOT_QUEUE=QUEUE,
                ANTHROPIC_BASE_URL=model_url,
                SLACK_API_URL=fake.url,
                SLACK_BOT_TOKEN=fake.token,
                PYTHONPATH=str(ROOT),
                PIPEBOT_WORKER_CONCURRENCY=str(args.in_flight),
                PIPEBOT_WORKSPACE_CONCURRENCY=str(args.in_flight),
            )
            files = shared_files(fake)
            with serve(build_app(ctx)) as url:
                shortcut = Shortcut(fake, url, pipeline_id)

                def finished() -> int:
                    with ctx.engine.connect() as conn:
                        return int(conn.execute(text("SELECT count(*) FROM artifacts")).scalar_one())

                try:
                    rows += _latency_rows(shortcut, files, arrivals, args, env, redis, fake, finished)
                    ctl.send(("slow", args.model_s))
                    rows += _memory_rows(shortcut, files, arrivals, args, env, redis, finished)
                except SystemExit:
                    with ctx.engine.connect() as conn:
                        for row in conn.execute(
                            text("SELECT status, error_kind, error_message FROM runs ORDER BY created_at LIMIT 3")
                        ):
                            print("run:", *row, file=sys.stderr)
                    raise
                shortcut.http.close()
            ctx.close()
    finally:
        ctl.send(("stop",))
        model.join(10)
        fake.stop()
    print("\n".join(rows))


def _latency_rows(
    shortcut: Shortcut,
    files: Any,
    arrivals: Any,
    args: Any,
    env: dict[str, str],
    redis: Redis,
    fake: Any,
    finished: Callable[[], int],
) -> list[str]:
    total = sum(len(d) for _, _, _, d in FILES)
    rows = [f"(a) shortcut on a message with {len(FILES)} files ({total / MB:.1f} MB) → the model has the request"]
    if files is None:
        with stand_in_host() as urls:
            bare = bare_download(urls, fake.token, args.runs)
        rows.append(f"  bare download (stand-in host)       {_ms(bare)}")
        rows.append("  pipebot                             needs the files support (fake Slack, shortcut, worker)")
        return rows
    bare = bare_download([f["url_private"] for f in files], fake.token, args.runs)
    before = finished()
    with worker(env, redis):
        plain, _ = latency(shortcut, None, arrivals, args.runs, "plain")
        ours, size = latency(shortcut, files, arrivals, args.runs, "lat")
        _settled(finished, before + 2 * args.runs)
    ratio = statistics.median(ours) / statistics.median(bare)
    rows.append(f"  bare download (httpx, fake Slack)   {_ms(bare)}")
    rows.append(f"  pipebot, the same message, no files {_ms(plain)}   (where the rest of the time goes)")
    rows.append(f"  pipebot submission → model         {_ms(ours)}   request {size / MB:.1f} MB")
    rows.append(f"  ratio at the median: {ratio:.2f}x (target ≤ 1.5x)")
    return rows


def _memory_rows(
    shortcut: Shortcut,
    files: Any,
    arrivals: Any,
    args: Any,
    env: dict[str, str],
    redis: Redis,
    finished: Callable[[], int],
) -> list[str]:
    n = args.in_flight
    rows = [f"(b) worker peak RSS, {n} runs in flight (model streams each reply over {args.model_s:g} s)"]

    def measure(with_files: Any, label: str) -> tuple[int, int]:
        before = finished()
        with worker(env, redis) as proc:
            got = peak_memory(shortcut, with_files, arrivals, n, proc, label)
            _settled(finished, before + n)
            return got

    idle, text_peak = measure(None, "text")
    rows.append(f"  text-only runs                  idle {idle / 2**20:7.0f} MiB   peak {text_peak / 2**20:7.0f} MiB")
    if files is None:
        rows.append("  runs with files                 needs the files support (fake Slack, shortcut, worker)")
        return rows
    idle_f, file_peak = measure(files, "files")
    rows.append(
        f"  runs with {len(FILES)} files ({n}×)       idle {idle_f / 2**20:7.0f} MiB   peak {file_peak / 2**20:7.0f} MiB"
    )
    rows.append(f"  ratio of the peaks: {file_peak / text_peak:.2f}x (target ≤ 2x)")
    return rows


if __name__ == "__main__":
    main()

"""`pipebot`: the process entry points. Configuration problems end in one line, not a traceback."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.services import Services
    from core.context import AppContext
    from storage.db import Engine

log = logging.getLogger("pipebot")

SLACK_SETUP = """\
Slack is not connected yet. To connect it: open https://api.slack.com/apps, choose
"Create New App" > "From a manifest", pick your workspace and paste manifest.yml from this
repository. Install the app, then set SLACK_BOT_TOKEN (OAuth & Permissions, xoxb-...),
SLACK_SIGNING_SECRET (Basic Information) and, for Socket Mode, SLACK_APP_TOKEN (Basic
Information > App-Level Tokens, scope connections:write, xapp-...) in .env or the
environment, and run `make run` again. Provider keys are added in Slack with
`/pipebot settings`, or deployment-wide with ANTHROPIC_API_KEY / OPENAI_API_KEY."""


def _fail(message: str, code: int = 2) -> int:
    print(f"pipebot: {message}", file=sys.stderr)
    return code


def _context(
    settings: Settings, *, create_key: bool = False, local_services: bool = False
) -> tuple[AppContext, Services]:
    """Resolve services (embedded when allowed) and build the process context."""
    from bot.services import resolve_services
    from core.context import AppContext, secret_keys

    data_dir = settings.PIPEBOT_DATA_DIR
    if not local_services:
        missing = [n for n in ("DATABASE_URL", "REDIS_URL") if not getattr(settings, n)]
        if missing and not (data_dir / "postgres").exists():
            raise ConfigError(f"{missing[0]} is not set; set it, or use `pipebot dev` for embedded services")
    services = resolve_services(settings.DATABASE_URL, settings.REDIS_URL, data_dir=data_dir)
    keys = secret_keys(settings, data_dir, create=create_key)
    ctx = AppContext.create(settings, services.database_url, services.redis_url, keys)
    return ctx, services


def cmd_keygen(args: argparse.Namespace) -> int:
    from storage.secrets import new_key

    print(new_key())
    return 0


def _revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def cmd_db(args: argparse.Namespace) -> int:
    """Migrations need the database only: no Redis, no PIPEBOT_SECRET_KEY."""
    from bot.services import ServiceError, _reachable_postgres, _redact, resolve_services
    from storage.db import make_engine, normalise_url
    from storage.migrate import downgrade, upgrade

    settings = load_settings()
    services = None
    if settings.DATABASE_URL:
        url = normalise_url(settings.DATABASE_URL)
        if not _reachable_postgres(url):
            raise ServiceError(
                f"DATABASE_URL: cannot connect to PostgreSQL at {_redact(settings.DATABASE_URL)}; "
                "check the host, port and credentials"
            )
    else:  # local development: the embedded database (and, as ever, its Redis)
        services = resolve_services(None, settings.REDIS_URL, data_dir=settings.PIPEBOT_DATA_DIR)
        url = services.database_url
    engine = make_engine(url, pool_size=1)
    try:
        before = _revision(engine)
        target = args.revision or ("head" if args.action == "upgrade" else "base")
        if args.action == "upgrade":
            upgrade(engine, target)
        else:
            downgrade(engine, target)
        after = _revision(engine)
        if before == after:
            print(f"database already at {after or 'base'}; nothing to do")
        else:
            print(f"database {args.action}d from {before or 'base'} to {after or 'base'}")
    finally:
        engine.dispose()
        if services is not None:
            services.close()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    settings = load_settings()  # before the heavy imports, so a bad value fails fast
    from bot.worker.main import run_worker

    ctx, services = _context(settings)
    try:
        return run_worker(
            ctx, burst=args.burst, name=args.name, mode="fork" if args.fork else "threads", concurrency=args.concurrency
        )
    finally:
        ctx.close()
        services.close()


def _serve_http(ctx: AppContext, port: int, host: str = "0.0.0.0") -> None:
    import uvicorn

    from bot.web.server import build_app

    app = build_app(ctx)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, timeout_graceful_shutdown=5)


def cmd_serve(args: argparse.Namespace) -> int:
    """The web server and Slack's HTTP endpoint, plus Socket Mode when SLACK_APP_TOKEN is set
    (a serve + worker deployment set up for Socket Mode has no other way to hear Slack)."""
    from bot.slack.token_check import check_bot_token
    from storage.migrate import upgrade

    settings = load_settings()
    check_bot_token(settings)
    ctx, services = _context(settings)
    socket_mode = None
    try:
        upgrade(ctx.engine)
        socket_mode = _connect_socket_mode(ctx)
        _serve_http(ctx, args.port or settings.PORT)
    finally:
        if socket_mode is not None:
            socket_mode.close()
        ctx.close()
        services.close()
    return 0


def _stop_process_group(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM asks RQ for a warm shutdown; a second one is its cold shutdown; then SIGKILL."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout / 2), (signal.SIGTERM, timeout / 2), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue


def _start_socket_mode(ctx: AppContext) -> SocketModeHandler:
    """Socket Mode beside the HTTP server (SLACK_APP_TOKEN set); a failure is one config line."""
    from slack_sdk.errors import SlackApiError

    from bot.slack.socket_mode import start_socket_mode

    try:
        return start_socket_mode(ctx)
    except RuntimeError as exc:  # a variable is missing
        raise ConfigError(f"{exc}: set it (see README, Connecting Slack) or unset SLACK_APP_TOKEN") from None
    except SlackApiError as exc:
        raise ConfigError(
            f"Slack refused SLACK_APP_TOKEN ({exc.response.get('error')}): create an app-level "
            "token with the connections:write scope (Basic Information > App-Level Tokens) "
            "and enable Socket Mode"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"could not reach Slack for Socket Mode ({type(exc).__name__}); check the network "
            "or unset SLACK_APP_TOKEN to use the HTTP endpoint only"
        ) from None


def _connect_socket_mode(ctx: AppContext) -> SocketModeHandler | None:
    """Socket Mode when SLACK_APP_TOKEN is set, said in one line; None otherwise."""
    if not ctx.settings.SLACK_APP_TOKEN:
        return None
    handler = _start_socket_mode(ctx)
    print("pipebot: connected to Slack over Socket Mode (SLACK_APP_TOKEN)", flush=True)
    return handler


def cmd_dev(args: argparse.Namespace) -> int:
    from bot.slack.token_check import check_bot_token
    from storage.migrate import upgrade

    settings = load_settings()
    check_bot_token(settings)
    ctx, services = _context(settings, create_key=True, local_services=True)
    worker: subprocess.Popen[bytes] | None = None
    socket_mode = None
    try:
        upgrade(ctx.engine)
        if services.embedded:
            print(f"pipebot: embedded {' and '.join(services.embedded)} running, data in {Path('.pipebot').resolve()}")
        env = dict(
            os.environ, DATABASE_URL=ctx.database_url, REDIS_URL=ctx.redis_url, PIPEBOT_SECRET_KEY=",".join(ctx.keys)
        )
        keeper = _WorkerKeeper([sys.executable, "-m", "bot.cli.main", "worker"], env)
        worker = keeper.start()
        if not (settings.SLACK_BOT_TOKEN or settings.slack_oauth_enabled):
            print("\n" + SLACK_SETUP + "\n")
        socket_mode = _connect_socket_mode(ctx)
        port = args.port or settings.PORT
        print(f"pipebot: serving on http://localhost:{port} (health: http://localhost:{port}/healthz)")
        _serve_http(ctx, port)
    finally:
        if socket_mode is not None:
            socket_mode.close()
        if worker is not None:
            keeper.stop()
        ctx.close()
        services.close()
    return 0


class _WorkerKeeper:
    """`pipebot dev`'s worker child, started again (after a pause that grows while it keeps
    dying) whenever it exits, so one bad moment never leaves the app without a worker."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self._cmd, self._env = cmd, env
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()

    def start(self) -> subprocess.Popen[bytes]:
        self._proc = subprocess.Popen(self._cmd, env=self._env, start_new_session=True)
        threading.Thread(target=self._watch, name="pipebot-worker-keeper", daemon=True).start()
        return self._proc

    def _watch(self) -> None:
        delay = 1.0
        while not self._stopping.is_set():
            assert self._proc is not None
            started = time.monotonic()
            code = self._proc.wait()
            if self._stopping.is_set():
                return
            delay = 1.0 if time.monotonic() - started > 60 else min(delay * 2, 30.0)
            print(f"pipebot: the worker exited (code {code}); starting it again in {delay:.0f} s", file=sys.stderr)
            if self._stopping.wait(delay):
                return
            self._proc = subprocess.Popen(self._cmd, env=self._env, start_new_session=True)

    def stop(self) -> None:
        self._stopping.set()
        if self._proc is not None:
            _stop_process_group(self._proc)


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    from bot.cli.run import run_from_cli

    ctx, services = _context(settings)
    try:
        return run_from_cli(
            ctx,
            args.pipeline,
            team_id=args.team,
            input_text=args.input,
            wait=not args.no_wait,
            timeout=args.timeout,
            queue_timeout=args.queue_timeout,
        )
    finally:
        ctx.close()
        services.close()


def cmd_cancel(args: argparse.Namespace) -> int:
    settings = load_settings()
    from bot.cli.cancel import cancel_from_cli

    ctx, services = _context(settings)
    try:
        return cancel_from_cli(ctx, args.run_id, team_id=args.team)
    finally:
        ctx.close()
        services.close()


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """Every stored secret re-encrypted under the newest PIPEBOT_SECRET_KEY (core/secret_rotation.py)."""
    settings = load_settings()
    if not settings.secret_keys:
        raise ConfigError(
            "PIPEBOT_SECRET_KEY is not set; put the new key first and the old ones after it, comma-separated"
        )
    from core.secret_rotation import rotate_all

    ctx, services = _context(settings)
    try:
        report = rotate_all(ctx)
    finally:
        ctx.close()
        services.close()
    for line in report.summary():
        print(f"pipebot: {line}", file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1 (got {value!r})")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The CLI's one table: a declaration per subcommand, in the order `--help` lists them
    (longer than 60 lines because splitting it would scatter that table)."""
    p = argparse.ArgumentParser(prog="pipebot", description="AI agents and pipelines in Slack")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("dev", help="everything in one process tree (embedded services when no URLs)")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_dev)

    s = sub.add_parser("serve", help="web server and the Slack HTTP endpoint")
    s.add_argument("--port", type=int)
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("worker", help="an RQ worker for pipeline runs")
    s.add_argument("--burst", action="store_true", help="drain the queue, then exit")
    s.add_argument("--name", help="worker name (default: generated)")
    s.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help="runs in flight at once in this process (default: PIPEBOT_WORKER_CONCURRENCY, 32)",
    )
    s.add_argument(
        "--in-process",
        action="store_true",
        help="run jobs in threads of the worker process (the default; kept for older scripts)",
    )
    s.add_argument(
        "--fork",
        action="store_true",
        help="RQ's classic worker instead: a forked work horse per job, one run at a time",
    )
    s.set_defaults(func=cmd_worker)

    s = sub.add_parser("db", help="database migrations")
    s.add_argument("action", choices=["upgrade", "downgrade"])
    s.add_argument("revision", nargs="?")
    s.set_defaults(func=cmd_db)

    s = sub.add_parser("run", help="run a pipeline without Slack and print its output")
    s.add_argument("pipeline", metavar="PIPELINE")
    s.add_argument("--team", required=True, help="Slack team id (workspace) that owns the pipeline")
    s.add_argument("--input", required=True, help="the run's input text ('-' reads standard input)")
    s.add_argument("--no-wait", action="store_true", help="enqueue and print the run id only")
    s.add_argument("--timeout", type=float, default=900, help="seconds to wait for the run")
    s.add_argument(
        "--queue-timeout",
        type=float,
        default=60,
        help="seconds to wait for a worker to pick the run up before giving up on following it",
    )
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("cancel", help="cancel a queued or running run")
    s.add_argument("run_id", metavar="RUN_ID")
    s.add_argument("--team", required=True, help="Slack team id (workspace) that owns the run")
    s.set_defaults(func=cmd_cancel)

    s = sub.add_parser("keygen", help="print a new PIPEBOT_SECRET_KEY")
    s.set_defaults(func=cmd_keygen)

    s = sub.add_parser("rotate-key", help="re-encrypt stored secrets under the newest PIPEBOT_SECRET_KEY")
    s.set_defaults(func=cmd_rotate_key)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "httpx2", "httpcore", "anthropic", "openai") + (() if args.verbose else ("alembic",)):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from bot.services import ServiceError

    try:
        return int(args.func(args) or 0)
    except (ConfigError, ServiceError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

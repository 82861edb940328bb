"""Serve an ASGI app with a real uvicorn on 127.0.0.1 from a background thread: the one way
tests put an app of ours on the network (pipebot for the Slack tests, the web pages, health checks)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    """A port nothing listens on right now (for a server a test starts itself, or one that must be down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Yield the base URL of ``app`` served by uvicorn until the block ends.

    The socket is bound here and handed to uvicorn, so the port is known before the server
    starts and no other process can take it in between."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="pipebot-test-uvicorn")
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


def first_healthz(proc: subprocess.Popen[str], port: int, timeout: float = 30) -> httpx.Response:
    """The first answer of a `pipebot serve`/`dev` process's `/healthz` on ``port``; fails with
    its output if the process exits first, or if it does not answer within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except httpx.TransportError:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)

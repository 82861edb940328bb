"""One TLS context per process for every SDK client.

Each provider object builds its own SDK client (keys differ per workspace), and by default
each SDK client builds its own TLS context: loading the CA bundle costs about 20 ms. In a
worker that forks a work horse per job that cost came back on every run; a context made
once (in the worker parent, before the fork) is inherited instead. An ``SSLContext`` holds
configuration only, no connection, so sharing it across clients, threads and forks is safe.
"""

from __future__ import annotations

import ssl
import threading

import httpx2

_lock = threading.Lock()
_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """httpx2's own default context (system CAs, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), made once."""
    global _context
    if _context is None:
        with _lock:
            if _context is None:
                _context = httpx2.create_ssl_context()
    return _context

"""The worker's warm-up: it must really exercise both providers, offline, or a forked work
horse silently goes back to paying for it on every run."""

from __future__ import annotations

import logging
import socket

from providers.http import shared_ssl_context
from providers.warmup import warm_providers


def test_warm_up_streams_both_providers_offline(caplog, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the warm-up opened a socket")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with caplog.at_level(logging.WARNING, logger="providers.warmup"):
        warm_providers()
    assert [r.getMessage() for r in caplog.records] == []  # a canned stream the SDK rejects would log here


def test_the_tls_context_is_made_once_per_process():
    ctx = shared_ssl_context()
    assert ctx is shared_ssl_context()
    assert ctx.verify_mode.name == "CERT_REQUIRED" and ctx.check_hostname

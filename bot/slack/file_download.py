"""Downloading a shared file from Slack for a run (NOTES §1), once, in the worker.

* Only from Slack's file hosts (``files.slack.com`` and its ``files-*.slack.com`` siblings,
  over https) or the host of ``SLACK_API_URL`` (a fake Slack in tests, a proxy in some
  deployments); any other URL is refused before a request is made, so a crafted payload
  cannot make pipebot send its bot token elsewhere. Redirects are followed by hand, and only
  to the same allowed hosts (httpx would follow them anywhere once asked to).
* With ``Authorization: Bearer`` and the workspace's bot token (bot/slack/client.client_for,
  OAuth installs included), streamed to core's writer chunk by chunk.
* Slack answers a token that may not see the file with **200 and an HTML login page**, not an
  error: ``text/html`` is a failed download ("invite @pipebot"), unless the file is HTML and
  the body is exactly its size; 404/410 means deleted.
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.parse
from collections.abc import Callable

import httpx

from bot.slack.client import client_for
from core.context import AppContext
from core.inputs.refs import FileRef
from core.inputs.source import InputUnavailable
from providers.http import shared_ssl_context

__all__ = ["allowed_url", "download_file"]

log = logging.getLogger(__name__)

DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_REDIRECTS = 3
SLACK_FILE_HOST = "files.slack.com"


def download_failed(name: str) -> str:
    return f"pipebot couldn't download {name}: invite @pipebot to the channel it was shared in, then try again."


def file_deleted(name: str) -> str:
    return f"{name} was deleted in Slack before the run could read it: share it again, then run again."


def _slack_file_host(host: str) -> bool:
    return host == SLACK_FILE_HOST or (host.endswith(".slack.com") and host.split(".", 1)[0].startswith("files-"))


def allowed_url(url: str, api_url: str) -> bool:
    """Whether pipebot may send its bot token to ``url``: Slack's file hosts over https, or
    exactly the scheme, host and port of ``SLACK_API_URL``."""
    try:
        target, api = urllib.parse.urlsplit(url), urllib.parse.urlsplit(api_url)
        target_port, api_port = target.port, api.port
    except ValueError:
        return False
    host = (target.hostname or "").lower()
    if target.scheme == "https" and _slack_file_host(host) and target_port in (None, 443):
        return True
    return (
        bool(host)
        and target.scheme == api.scheme
        and host == (api.hostname or "").lower()
        and target_port == api_port
        and not target.username
        and not target.password
    )


def _is_html(resp: httpx.Response) -> bool:
    return resp.headers.get("content-type", "").split(";", 1)[0].strip().lower() == "text/html"


def _html_file(ref: FileRef) -> bool:
    return ref.mimetype.split(";", 1)[0].strip().lower() == "text/html" or ref.filetype.lower() == "html"


def download_file(ctx: AppContext, team_id: str, ref: FileRef, write: Callable[[bytes], None]) -> None:
    """Stream ``ref``'s bytes to ``write`` as they arrive; InputUnavailable says what went wrong."""
    api_url = ctx.settings.SLACK_API_URL
    url = ref.url
    if not url or not allowed_url(url, api_url):
        log.warning("refused to download file %s from a host that is not Slack's: %r", ref.file_id, url[:200])
        raise InputUnavailable(f"{ref.name} is not on Slack's file server, so pipebot won't download it.")
    try:
        token = client_for(ctx, team_id).token
    except Exception as exc:  # noqa: BLE001 - SlackNotConfigured and the store's errors say the same
        raise InputUnavailable(f"pipebot couldn't download {ref.name}: {exc}") from None
    headers = {"Authorization": f"Bearer {token}"}
    try:
        http = _http()
        for _ in range(MAX_REDIRECTS + 1):
            with http.stream("GET", url, headers=headers) as resp:
                if resp.is_redirect:
                    url = urllib.parse.urljoin(url, resp.headers.get("location", ""))
                    if not allowed_url(url, api_url):
                        log.warning("file %s redirected off Slack's hosts: %r", ref.file_id, url[:200])
                        raise InputUnavailable(download_failed(ref.name))
                    continue
                _check(ref, resp)
                got = 0
                for chunk in resp.iter_bytes():
                    if chunk:
                        got += len(chunk)
                        write(chunk)
                if _is_html(resp) and ref.size is not None and got != ref.size:
                    raise InputUnavailable(download_failed(ref.name))  # a login page, not the file
                return
    except httpx.HTTPError as exc:
        log.info("download of file %s failed: %s", ref.file_id, type(exc).__name__)
        raise InputUnavailable(
            f"pipebot couldn't download {ref.name}: Slack's file server did not answer; try again."
        ) from None
    raise InputUnavailable(download_failed(ref.name))


_clients: dict[int, httpx.Client] = {}
_clients_lock = threading.Lock()


def _http() -> httpx.Client:
    """One client per process for every download: its TLS context (the CA bundle takes tens
    of milliseconds to load) and its kept-alive connections to Slack's file host are paid
    once, not per file. Keyed by process id: a forked work horse builds its own rather than
    share its parent's sockets."""
    pid = os.getpid()
    with _clients_lock:
        client = _clients.get(pid)
        if client is None:
            client = httpx.Client(timeout=DOWNLOAD_TIMEOUT, follow_redirects=False, verify=shared_ssl_context())
            _clients[pid] = client
        return client


def _check(ref: FileRef, resp: httpx.Response) -> None:
    if resp.status_code in (404, 410):
        raise InputUnavailable(file_deleted(ref.name))
    if resp.status_code != 200:
        log.info("download of file %s: HTTP %s", ref.file_id, resp.status_code)
        raise InputUnavailable(download_failed(ref.name))
    if _is_html(resp) and not _html_file(ref):
        # Slack's login page: the token may not see the file (NOTES §1). A shared HTML file
        # is text/html too: it is taken only when its size is the file object's (above).
        raise InputUnavailable(download_failed(ref.name))

"""The HTTP client one MCP operation uses: it connects only to the address the URL rule
approved, reads at most a set number of bytes of any answer, and notes what it saw.

- **Pinned address** (DNS rebinding, see core/mcp/urls.py): the connection pool's network
  backend opens a TCP connection to ``CheckedUrl.address`` whenever it is asked for the
  checked host, and refuses every other host; the HTTP Host header and TLS (SNI and the
  certificate check) still use the host name. ``trust_env`` is off, so an HTTP(S)_PROXY in
  the environment cannot route the request around the pinned address.
- **Answer ceiling**: every response body is counted as it streams in and reading stops past
  ``max_bytes``, so a server answering gigabytes costs at most that much memory. Below the
  ceiling the SDK parses the answer and core/mcp/client.py keeps only the result cap.
- **What it saw** (``Seen``): the first failing HTTP status, whether an answer was a web
  page, and whether the ceiling was hit, so the caller can say "wrong token" or "that is a web page" instead of the SDK's
  generic "Server returned an error response".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import httpcore2
import httpx2

from core.mcp.urls import CheckedUrl
from providers.http import shared_ssl_context


@dataclass
class Seen:
    """What the HTTP layer saw during one operation."""

    bad_status: int | None = None  # the first HTTP status of 400 or more
    html: bool = False  # an answer was a web page
    too_large: bool = False


class AnswerTooLarge(httpx2.ReadError):
    """A response body went past the ceiling; reading stopped there."""


class _PinnedBackend(httpcore2.AsyncNetworkBackend):
    def __init__(self, host: str, address: str) -> None:
        self._host, self._address = host, address
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        if host.lower().rstrip(".").strip("[]") != self._host:
            raise httpcore2.ConnectError(f"refusing to connect to {host!r}: not the checked host")
        return await self._inner.connect_tcp(self._address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError("unix sockets are not used for MCP servers")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _CappedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, max_bytes: int, seen: Seen) -> None:
        self._inner, self._max, self._seen = inner, max_bytes, seen

    async def __aiter__(self) -> AsyncIterator[bytes]:
        count = 0
        async for chunk in self._inner:
            count += len(chunk)
            if count > self._max:
                self._seen.too_large = True
                await self._inner.aclose()
                raise AnswerTooLarge(f"answer larger than {self._max} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class _PinnedTransport(httpx2.AsyncHTTPTransport):
    def __init__(self, checked: CheckedUrl, max_bytes: int, seen: Seen) -> None:
        # One TLS context per process, the providers' (building one reads the CA bundle, about
        # 20 ms; each operation would otherwise build two): it holds settings, not connections.
        super().__init__(verify=shared_ssl_context(), trust_env=False, retries=0)
        # The pool httpx2 builds cannot take a network backend; this one is the same pool
        # with the pinned backend (httpx2 only ever uses the pool through this attribute).
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=shared_ssl_context(),
            network_backend=_PinnedBackend(checked.host, checked.address),
        )
        self._max_bytes, self._seen = max_bytes, seen

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await super().handle_async_request(request)
        if response.status_code >= 400 and self._seen.bad_status is None:
            self._seen.bad_status = response.status_code
        if response.headers.get("content-type", "").lower().startswith("text/html"):
            self._seen.html = True
        stream = response.stream
        assert isinstance(stream, httpx2.AsyncByteStream)
        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CappedStream(stream, self._max_bytes, self._seen),
            extensions=response.extensions,
        )


def http_client(
    checked: CheckedUrl, token: str | None, *, timeout_s: float, max_bytes: int, seen: Seen
) -> httpx2.AsyncClient:
    """The client for one operation against ``checked``: bearer token, pinned address, capped
    answers, no redirects followed (the SDK follows same-origin ones itself, through this
    same transport, so they stay on the pinned address)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.AsyncClient(
        headers=headers,
        timeout=httpx2.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
        transport=_PinnedTransport(checked, max_bytes, seen),
    )

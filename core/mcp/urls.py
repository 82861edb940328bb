"""The URL rule for MCP servers (DESIGN §12), checked before any connection is made.

Why: the worker calls the URL an admin typed, from inside the deployment's network. Without
a rule, a server "at" http://169.254.169.254/ or http://10.0.0.5/ would let anyone with an
admin's form reach the cloud metadata service or internal systems and read the answers back
through a model. So: https only, and the host must resolve to public addresses only; a host
the operator lists in ``PIPEBOT_MCP_ALLOWED_HOSTS`` may be plain http and private.

DNS rebinding: a name that resolved to a public address when checked could resolve to
127.0.0.1 a moment later, when the HTTP client looks it up again. So the check returns the
address it approved (``CheckedUrl.address``) and core/mcp/transport.py connects to exactly
that address (TLS still verifies the certificate against the host name); the rule runs again
before every operation, not only when the server is saved, so a changed answer is refused
rather than trusted from an earlier check.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.mcp import texts

#: host, port -> the IP addresses the host resolves to (tests pass their own: no DNS traffic).
Resolver = Callable[[str, int], list[str]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Shared address space for carrier-grade NAT (RFC 6598): neither private nor global to Python,
# and reachable inside many cloud networks.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
MAX_URL_LENGTH = 2000


class UrlRefused(ValueError):
    """The URL breaks the rule; the message says why, for the person who typed it."""


@dataclass(frozen=True)
class CheckedUrl:
    """A URL that passed the rule, and the address to connect to for it."""

    url: str
    scheme: str
    host: str  # lower case, no brackets, no trailing dot
    port: int
    address: str  # the IP the host resolved to when checked: the one to connect to
    allowed_host: bool  # listed in PIPEBOT_MCP_ALLOWED_HOSTS


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver (getaddrinfo), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def check_url(url: str, allowed_hosts: Iterable[str], resolve: Resolver = system_resolver) -> CheckedUrl:
    """The URL checked against the rule, with the address to connect to; UrlRefused otherwise.

    Every address the host resolves to must be acceptable (a name answering one public and
    one private address is refused), and the first is the one pinned."""
    url = url.strip()
    if not url:
        raise UrlRefused(texts.URL_EMPTY)
    if len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        raise UrlRefused(texts.URL_MALFORMED)
    try:
        parts = urlsplit(url)
        port = parts.port
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        raise UrlRefused(texts.URL_MALFORMED) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise UrlRefused(texts.URL_MALFORMED)
    if parts.username is not None or parts.password is not None:
        raise UrlRefused(texts.URL_WITH_CREDENTIALS)
    allowed = host in {h.lower().rstrip(".").strip("[]") for h in allowed_hosts}
    if scheme == "http" and not allowed:
        raise UrlRefused(texts.url_not_https(host))
    port = port or (443 if scheme == "https" else 80)
    addresses = _addresses(host, port, resolve)
    if not allowed:
        for address in addresses:
            reason = refused_because(address)
            if reason:
                raise UrlRefused(texts.url_private(host, _written(address), reason))
    return CheckedUrl(url, scheme, host, port, str(addresses[0]), allowed)


def _addresses(host: str, port: int, resolve: Resolver) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolve(host, port)]
    except (OSError, UnicodeError, ValueError):
        found = []
    if not found:
        raise UrlRefused(texts.url_unresolved(host))
    return found


def _written(address: IPAddress) -> str:
    """An IPv4-mapped IPv6 address the way people write it (::ffff:127.0.0.1)."""
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return f"::ffff:{mapped}" if mapped is not None else str(address)


def refused_because(address: IPAddress) -> str | None:
    """Why a server may not be at ``address`` (words for people), or None for a public one.
    An IPv4 address written as IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address."""
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    if mapped is not None:
        return refused_because(mapped)
    if address.is_loopback:
        return texts.REASON_LOOPBACK
    if address.is_link_local:
        return texts.REASON_LINK_LOCAL
    if address.is_unspecified:
        return texts.REASON_UNSPECIFIED
    if address.is_multicast:
        return texts.REASON_MULTICAST
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return texts.REASON_CGNAT
    if address.is_reserved:
        return texts.REASON_RESERVED
    if address.is_private:
        return texts.REASON_PRIVATE
    if not address.is_global:
        return texts.REASON_RESERVED
    return None

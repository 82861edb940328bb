"""The URL rule for MCP servers (core/mcp/urls.py), on addresses only: literal IPs, or names
answered by a resolver the test passes, so no traffic leaves this computer (none is sent at
all: the rule never connects)."""

from __future__ import annotations

import pytest

from core.mcp.urls import UrlRefused, check_url


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"the rule looked up {host} although it is a literal address")


def answers(*addresses: str):
    asked: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append((host, port))
        return list(addresses)

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://10.0.0.5/mcp", "private network"),
        ("https://192.168.1.20/mcp", "private network"),
        ("https://172.16.0.1/mcp", "private network"),
        ("https://127.0.0.1/mcp", "loopback"),
        ("https://127.8.9.10:8443/mcp", "loopback"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("https://[::1]/mcp", "loopback"),
        ("https://[fd00::1]/mcp", "private network"),
        ("https://[fe80::1]/mcp", "link-local"),
        ("https://[::ffff:127.0.0.1]/mcp", "loopback"),
        ("https://[::ffff:10.1.2.3]/mcp", "private network"),
        ("https://0.0.0.0/mcp", "unspecified"),
        ("https://[::]/mcp", "unspecified"),
        ("https://224.0.0.1/mcp", "multicast"),
        ("https://100.64.3.4/mcp", "carrier-grade NAT"),
        ("https://240.0.0.1/mcp", "reserved"),
    ],
)
def test_literal_addresses_that_are_not_public_are_refused(url: str, words: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        check_url(url, frozenset(), no_dns)
    assert words in str(refused.value)
    assert "PIPEBOT_MCP_ALLOWED_HOSTS" in str(refused.value)


def test_a_public_address_passes_and_is_the_one_to_connect_to() -> None:
    checked = check_url("https://8.8.8.8/mcp", frozenset(), no_dns)
    assert (checked.scheme, checked.host, checked.port, checked.address) == ("https", "8.8.8.8", 443, "8.8.8.8")
    resolve = answers("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    checked = check_url("https://Tools.Example.com.:8443/mcp", frozenset(), resolve)
    assert (checked.host, checked.port, checked.address) == ("tools.example.com", 8443, "93.184.215.14")
    assert resolve.asked == [("tools.example.com", 8443)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::1", "fd00::1", "::ffff:127.0.0.1"])
def test_a_name_resolving_to_a_private_address_is_refused_naming_both(address: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        check_url("https://tools.example.com/mcp", frozenset(), answers(address))
    assert "tools.example.com" in str(refused.value) and address in str(refused.value)


def test_one_private_answer_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(UrlRefused, match="loopback"):
        check_url("https://tools.example.com/mcp", frozenset(), answers("93.184.215.14", "127.0.0.1"))


def test_plain_http_is_refused_unless_the_host_is_allowed() -> None:
    with pytest.raises(UrlRefused, match="https://"):
        check_url("http://93.184.215.14/mcp", frozenset(), no_dns)
    with pytest.raises(UrlRefused, match="https://"):
        check_url("http://tools.example.com/mcp", frozenset({"other.example.com"}), answers("93.184.215.14"))


def test_an_allowed_host_may_be_http_and_private() -> None:
    checked = check_url("http://tickets.internal:8080/mcp", frozenset({"tickets.internal"}), answers("10.0.0.5"))
    assert (checked.scheme, checked.address, checked.port, checked.allowed_host) == ("http", "10.0.0.5", 8080, True)
    checked = check_url("http://127.0.0.1:9000/mcp", frozenset({"127.0.0.1"}), no_dns)
    assert checked.address == "127.0.0.1" and checked.allowed_host
    checked = check_url("https://[::1]/mcp", frozenset({"::1"}), no_dns)
    assert checked.address == "::1"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("", "Enter the server's URL"),
        ("   ", "Enter the server's URL"),
        ("tools.example.com/mcp", "not a web address"),
        ("ftp://tools.example.com/mcp", "not a web address"),
        ("https://", "not a web address"),
        ("https://tools.example.com:99999/mcp", "not a web address"),
        ("https://tools .example.com/mcp", "not a web address"),
        ("https://user:pw@tools.example.com/mcp", "Token"),
        ("https://[zz::1]/mcp", "not a web address"),
    ],
)
def test_malformed_urls_are_refused_with_a_sentence(url: str, words: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        check_url(url, frozenset(), answers("93.184.215.14"))
    assert words in str(refused.value)


def test_a_name_that_does_not_resolve_is_refused() -> None:
    def fails(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(UrlRefused, match="could not be found"):
        check_url("https://nowhere.example.com/mcp", frozenset(), fails)
    with pytest.raises(UrlRefused, match="could not be found"):
        check_url("https://nowhere.example.com/mcp", frozenset(), answers())

"""The workspace's MCP server registry (core/mcp/servers.py over storage/repos/mcp_servers.py):
add, list, remove; the token encrypted at rest and never logged or shown back; the form's
checks, the URL rule included; the audit trail."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from core.audit import AuditAction
from core.errors import NotFound, ValidationFailed
from core.mcp import servers
from storage.db import transaction
from storage.repos import audit
from storage.repos import mcp_servers as repo
from storage.secrets import SecretBox, new_key

TOKEN = "mcp-secret-token-Zq81xW"


def _raw(ctx, name: str):
    with ctx.engine.connect() as conn:
        return conn.execute(
            text("SELECT token_ciphertext, url, ask FROM mcp_servers WHERE lower(name) = lower(:n)"), {"n": name}
        ).one()


def test_add_list_remove_with_the_token_encrypted_and_never_logged(mcp_ctx, caplog):
    caplog.set_level(logging.DEBUG)
    info = servers.add_server(
        mcp_ctx, "T1", name="Tickets", url="http://127.0.0.1:9/mcp", token=f"  {TOKEN} ", ask="every_call", user_id="U1"
    )
    assert (info.name, info.ask, info.has_token, info.created_by) == ("Tickets", "every_call", True, "U1")
    assert TOKEN not in repr(info)
    ciphertext, url, ask = _raw(mcp_ctx, "Tickets")
    assert TOKEN.encode() not in bytes(ciphertext)
    assert mcp_ctx.box.decrypt(ciphertext) == TOKEN  # stripped, and the app's key opens it
    assert (url, ask) == ("http://127.0.0.1:9/mcp", "every_call")
    with transaction(mcp_ctx.sessions) as s:
        assert repo.server_token(s, "T1", info.id, mcp_ctx.box) == TOKEN
        assert repo.server_token(s, "T2", info.id, mcp_ctx.box) is None  # another workspace's
    found = servers.endpoint(mcp_ctx, "T1", "tickets")
    assert found is not None and found[1].token == TOKEN and TOKEN not in repr(found[1])

    servers.add_server(mcp_ctx, "T1", name="Wiki", url="http://127.0.0.1:10/mcp", token=None, ask="never", user_id="U1")
    assert [(i.name, i.has_token) for i in servers.list_servers(mcp_ctx, "T1")] == [("Tickets", True), ("Wiki", False)]
    assert servers.list_servers(mcp_ctx, "T2") == []
    assert _raw(mcp_ctx, "Wiki")[0] is None

    removed = servers.remove_server(mcp_ctx, "T1", "TICKETS", "U2")
    assert removed.name == "Tickets"
    assert [i.name for i in servers.list_servers(mcp_ctx, "T1")] == ["Wiki"]
    assert servers.endpoint(mcp_ctx, "T1", "Tickets") is None
    with pytest.raises(NotFound, match="no MCP server called “Tickets”"):
        servers.remove_server(mcp_ctx, "T1", "Tickets", "U2")

    with transaction(mcp_ctx.sessions) as s:
        events = [(e.actor, e.action, e.subject) for e in audit.latest(s, "T1")]
        details = [e.detail for e in audit.latest(s, "T1")]
    assert events == [
        ("U2", AuditAction.MCP_SERVER_REMOVED, "Tickets"),
        ("U1", AuditAction.MCP_SERVER_ADDED, "Wiki"),
        ("U1", AuditAction.MCP_SERVER_ADDED, "Tickets"),
    ]
    assert TOKEN not in str(details)
    assert TOKEN not in caplog.text


def test_names_are_unique_per_workspace_whatever_the_case(mcp_ctx):
    add = dict(url="http://127.0.0.1:9/mcp", token=None, ask="never", user_id="U1")
    servers.add_server(mcp_ctx, "T1", name="Tickets", **add)
    with pytest.raises(ValidationFailed) as failed:
        servers.add_server(mcp_ctx, "T1", name="  tickets ", **add)
    assert failed.value.errors == {
        "name": "This workspace already has an MCP server called “tickets”. Pick another name."
    }
    servers.add_server(mcp_ctx, "T2", name="tickets", **add)  # another workspace may


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"name": ""}, {"name": "Give the server a short name"}),
        ({"name": "x" * 41}, {"name": "40 characters"}),
        ({"name": "Tick/ets"}, {"name": "letters, digits"}),
        ({"token": "two words"}, {"token": "no spaces"}),
        ({"token": "t" * 4001}, {"token": "4,000"}),
        ({"ask": "sometimes"}, {"ask": "never, or every call"}),
        ({"url": "https://10.0.0.5/mcp"}, {"url": "private network"}),
        ({"url": "http://93.184.215.14/mcp"}, {"url": "https://"}),
        ({"url": "https://169.254.169.254/"}, {"url": "link-local"}),
        ({"url": "not a url", "name": ""}, {"url": "not a web address", "name": "short name"}),
    ],
)
def test_the_form_is_checked_field_by_field_before_anything_is_saved(mcp_ctx, fields, errors):
    values = dict(name="Tickets", url="http://127.0.0.1:9/mcp", token="tok-123456", ask="never", user_id="U1")
    with pytest.raises(ValidationFailed) as failed:
        servers.add_server(mcp_ctx, "T1", **{**values, **fields})
    assert set(failed.value.errors) == set(errors)
    for field, words in errors.items():
        assert words in failed.value.errors[field]
    assert servers.list_servers(mcp_ctx, "T1") == []


def test_loopback_is_refused_where_the_deployment_does_not_allow_it(ctx):
    with pytest.raises(ValidationFailed) as failed:
        servers.add_server(ctx, "T1", name="Local", url="https://127.0.0.1/mcp", token=None, ask="never", user_id="U1")
    assert "loopback" in failed.value.errors["url"]


def test_the_url_is_checked_with_the_resolver_given(mcp_ctx):
    def to_metadata(host: str, port: int) -> list[str]:
        return ["169.254.169.254"]

    with pytest.raises(ValidationFailed) as failed:
        servers.add_server(
            mcp_ctx,
            "T1",
            name="Sneaky",
            url="https://sneaky.example.com/mcp",
            token=None,
            ask="never",
            user_id="U1",
            resolve=to_metadata,
        )
    assert "sneaky.example.com (169.254.169.254)" in failed.value.errors["url"]


def test_tokens_are_found_and_resealed_for_key_rotation(mcp_ctx):
    newer = new_key()
    servers.add_server(
        mcp_ctx, "T1", name="Tickets", url="http://127.0.0.1:9/mcp", token=TOKEN, ask="never", user_id="U1"
    )
    servers.add_server(mcp_ctx, "T1", name="Open", url="http://127.0.0.1:9/mcp", token=None, ask="never", user_id="U1")
    rotated = SecretBox([newer, *mcp_ctx.keys])
    with transaction(mcp_ctx.sessions) as s:
        found = repo.token_secrets(s)
        assert [(x.table, x.team_id, x.what) for x in found] == [
            ("mcp_servers", "T1", "the token of MCP server Tickets")
        ]
        repo.replace_token_ciphertext(s, found[0].id, rotated.rotate(found[0].token))
    with transaction(mcp_ctx.sessions) as s:
        assert repo.server_token(s, "T1", found[0].id, SecretBox([newer])) == TOKEN

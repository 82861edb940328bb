"""Text from Slack made storable before any listener sees it.

Why at the edge, once: every slash-command argument, modal value, button value and
``private_metadata`` field can end up in PostgreSQL (a name looked up, an agent saved,
a run's thread id), and PostgreSQL refuses NUL bytes (``psycopg.DataError``) and cannot
encode lone surrogates. A Bolt global middleware applies ``core.text.clean_text`` (the one
rule for such text) to every string of the parsed request body, so no handler has to
remember it and none can forget it.

JSON that Slack echoes back to us (``private_metadata``, button and menu ``value``) is
cleaned inside as well: an escaped ``\\u0000`` there would become a NUL only when the
listener decodes it. Text people typed is left as it is apart from those characters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltRequest, BoltResponse

from core.text import clean_text

# Fields that hold JSON we wrote ourselves and Slack sends back as a string.
_ECHOED_JSON = frozenset({"private_metadata", "value"})


def _clean_echoed_json(text: str) -> str:
    if not text.startswith(("{", "[")) or "\\u" not in text:
        return text
    try:
        data = json.loads(text)
    except ValueError:
        return text
    cleaned = clean_payload(data)
    if cleaned == data:
        return text
    return json.dumps(cleaned, separators=(",", ":"), ensure_ascii=False)


def clean_payload(value: Any, key: str | None = None) -> Any:
    """``value`` with every string (dict keys included) passed through ``clean_text``."""
    if isinstance(value, str):
        text = clean_text(value)
        return _clean_echoed_json(text) if key in _ECHOED_JSON else text
    if isinstance(value, dict):
        return {clean_text(k) if isinstance(k, str) else k: clean_payload(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_payload(v, key) for v in value]
    return value


def clean_request_body(req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse | None:  # noqa: A002
    """Global middleware: the request's parsed body, cleaned; the signature was checked on
    the raw bytes before this runs, so nothing here weakens it."""
    if req.body:
        req.body = clean_payload(req.body)
    for name, value in list(req.context.items()):  # team/user/channel ids Bolt read from the body
        if isinstance(value, str):
            req.context[name] = clean_text(value)
    return next()

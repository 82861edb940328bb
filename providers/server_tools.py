"""The providers' own server tools, by neutral name: which exist, which model has which,
and the words a person reads about one use.

A server tool runs on the provider's side within one model call (Anthropic's
``web_search`` / ``web_fetch``, OpenAI's ``web_search``); we only ask for it and read back
what it did. The names here are what an agent's settings store and what
``ChatRequest.server_tools`` carries; each provider maps them to its own tool definition
(providers/anthropic_wire.py, providers/openai_wire.py). Asking for a tool the model lacks
is refused here, before any HTTP, because the API's own answer (a 400 naming a tool type)
would mean nothing to the person who picked the model.
"""

from __future__ import annotations

from collections.abc import Iterable

from .catalog import ModelInfo
from .errors import ErrorKind, ProviderError

WEB_SEARCH = "web_search"
WEB_FETCH = "web_fetch"
#: Every server tool name, in the order menus show them.
SERVER_TOOL_NAMES: tuple[str, ...] = (WEB_SEARCH, WEB_FETCH)
#: What a person reads for each tool ("Web search: <query>").
LABELS: dict[str, str] = {WEB_SEARCH: "Web search", WEB_FETCH: "Fetch a web page"}
#: How many times the model may use each tool in one call (the APIs' ``max_uses``), so one
#: step cannot run up fees without end.
MAX_USES = 5
#: The longest result excerpt kept per use (a record, not the pages themselves).
EXCERPT_CHARS = 500


def supports(info: ModelInfo, name: str) -> bool:
    """Whether the model has this server tool (the catalog's flags; unknown models: none)."""
    if name == WEB_SEARCH:
        return info.supports_web_search
    if name == WEB_FETCH:
        return info.supports_web_fetch
    return False


def check(names: Iterable[str], info: ModelInfo) -> tuple[str, ...]:
    """The requested server tools, each once, in the given order; a ProviderError (bad
    request, not retried) naming the tool and the model for one it does not have."""
    wanted: list[str] = []
    for name in names:
        if name not in SERVER_TOOL_NAMES:
            known = ", ".join(SERVER_TOOL_NAMES)
            raise ProviderError(
                ErrorKind.BAD_REQUEST,
                f"unknown server tool {name!r} (known: {known})",
                provider=info.provider,
                retryable=False,
            )
        if not supports(info, name):
            raise ProviderError(
                ErrorKind.BAD_REQUEST,
                f"{info.display_name} has no {LABELS[name].lower()} tool; pick another model or remove the tool",
                provider=info.provider,
                retryable=False,
            )
        if name not in wanted:
            wanted.append(name)
    return tuple(wanted)


def label(name: str, subject: str) -> str:
    """One use as a person reads it: "Web search: pipebot releases"."""
    title = LABELS.get(name, name)
    return f"{title}: {subject}" if subject else title


def excerpt(lines: Iterable[str]) -> str:
    """Result lines joined and cut to EXCERPT_CHARS (an ellipsis marks the cut)."""
    text = "\n".join(line for line in lines if line)
    if len(text) <= EXCERPT_CHARS:
        return text
    return text[: EXCERPT_CHARS - 1] + "…"

"""Names of MCP tools as a model sees them and as people read them (DESIGN §12).

A model gets one flat list of function tools, so two servers' ``search`` must not clash and
a name must fit both providers' rule (``^[a-zA-Z0-9_-]{1,64}$``): the model's name is the
server's name and the tool's, slugged and joined by ``__`` (``tickets__lookup_ticket``).
Slugging can make two names equal, and a long pair is cut, so the model's name is never
parsed back: the toolset keeps a map from each name it offered to its (server, tool)."""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 64
SEPARATOR = "__"
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")  # in a server's slug (lower case)
_NOT_ALLOWED_IN_TOOL = re.compile(r"[^a-zA-Z0-9_-]+")


def slug(text: str) -> str:
    """Lower case, runs of anything outside ``[a-z0-9_-]`` as one ``_``, never empty."""
    return _NOT_ALLOWED.sub("_", text.lower()).strip("_") or "x"


def model_tool_name(server: str, tool: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """The name a model calls ``tool`` of ``server`` by: within 64 characters, and different
    from every name in ``taken`` (a short hash of the exact pair is added when needed)."""
    name = f"{slug(server)}{SEPARATOR}{_NOT_ALLOWED_IN_TOOL.sub('_', tool) or 'x'}"
    if len(name) <= MAX_NAME and name not in taken:
        return name
    digest = hashlib.sha256(f"{server}\0{tool}".encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9]}-{digest}"


def display_name(server: str, tool: str) -> str:
    """How people see a tool: "Tickets · lookup_ticket"."""
    return f"{server} · {tool}"

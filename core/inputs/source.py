"""Where a run's inputs come from, as core sees it: an :class:`InputSource` that downloads a
file's bytes and reads a thread's earlier messages. Core knows no Slack; the surface that
does installs its source under the ``pipebot.input_sources`` entry point (Slack's is
``bot.slack.input_source``), loaded once per worker process like the reporters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Protocol

from core.context import AppContext
from core.inputs.refs import FileRef, ThreadMessage, ThreadRef

__all__ = ["INPUT_SOURCE_GROUP", "InputSource", "InputUnavailable", "input_source_for"]

INPUT_SOURCE_GROUP = "pipebot.input_sources"


class InputUnavailable(Exception):
    """A file or thread could not be fetched. The message is for the people in the run's
    thread and says what to do ("invite @pipebot to the channel", "the file was deleted")."""


class InputSource(Protocol):
    def download(self, team_id: str, ref: FileRef, write: Callable[[bytes], None]) -> None:
        """Stream the file's bytes to ``write`` in chunks (never the whole file at once);
        raise InputUnavailable when it cannot be had."""
        ...

    def thread(self, team_id: str, ref: ThreadRef) -> list[ThreadMessage]:
        """The thread's messages before ``ref.before_ts``, oldest first, with pipebot's own
        progress and status messages left out (its results kept); raise InputUnavailable."""
        ...


InputSourceFactory = Callable[[AppContext], InputSource]


@functools.cache
def _factories() -> tuple[InputSourceFactory, ...]:
    return tuple(ep.load() for ep in entry_points(group=INPUT_SOURCE_GROUP))


def input_source_for(ctx: AppContext) -> InputSource | None:
    """The installed source (the first, if several); None when no surface installed one."""
    factories = _factories()
    return factories[0](ctx) if factories else None

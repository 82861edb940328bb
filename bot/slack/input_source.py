"""Slack as a run's :class:`~core.inputs.source.InputSource` (the ``pipebot.input_sources``
entry point): a shared file's bytes (bot/slack/file_download.py) and a thread's earlier
messages (bot/slack/thread_reader.py), fetched once by the worker, which keeps them with the run.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.slack.file_download import download_file
from bot.slack.thread_reader import ThreadReader
from core.context import AppContext
from core.inputs.refs import FileRef, ThreadMessage, ThreadRef
from core.inputs.source import InputSource

__all__ = ["SlackInputSource", "slack_input_source"]


class SlackInputSource:
    """Files and threads of any workspace pipebot is installed in."""

    def __init__(self, ctx: AppContext) -> None:
        self._ctx = ctx
        self._threads = ThreadReader(ctx)

    def download(self, team_id: str, ref: FileRef, write: Callable[[bytes], None]) -> None:
        download_file(self._ctx, team_id, ref, write)

    def thread(self, team_id: str, ref: ThreadRef) -> list[ThreadMessage]:
        return self._threads.read(team_id, ref)


def slack_input_source(ctx: AppContext) -> InputSource:
    """The ``pipebot.input_sources`` entry point (pyproject.toml)."""
    return SlackInputSource(ctx)

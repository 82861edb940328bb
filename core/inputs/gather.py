"""The worker's gathering of a run's inputs before step 1 (DESIGN §11): each file downloaded
once and stored with the run, a PDF's text read, the thread's earlier messages fetched.

Why in the worker, once: the request only described the files (checked before anything was
fetched); the bytes are fetched where the run executes and kept in PostgreSQL, so a resumed
run, a re-run from a step and a compare never go back to Slack. Each file is stored in its
own transaction: a worker that dies after the second of three files resumes with the third.
Anything that goes wrong raises :class:`InputProblem`, which fails the run before a model
is called.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core import messages
from core.context import AppContext
from core.inputs.pdf import PdfProblem, read_pdf
from core.inputs.refs import FileRef, ThreadRef
from core.inputs.rules import MB, FileKind
from core.inputs.source import InputSource, InputUnavailable
from core.inputs.stored import StoredFile
from core.inputs.thread import fetched, keep_newest, thread_json
from core.text import clean_text
from storage.db import transaction
from storage.repos import run_files as file_repo
from storage.repos import runs as run_repo
from storage.states import FailureKind

__all__ = ["InputProblem", "gather", "needs_gathering"]

log = logging.getLogger(__name__)


class InputProblem(Exception):
    """The run cannot have its inputs: ``kind`` (a FailureKind) and a message naming the
    file or the thread and what to do."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


class _TooLarge(Exception):
    def __init__(self, seen: int, *, whole_run: bool) -> None:
        super().__init__(seen)
        self.seen, self.whole_run = seen, whole_run


def needs_gathering(files: Sequence[StoredFile], thread: dict[str, Any] | None) -> bool:
    """False for a run with nothing to fetch (none, or all stored by an earlier attempt)."""
    return any(not f.stored for f in files) or not fetched(thread)


def gather(
    ctx: AppContext,
    team_id: str,
    rid: uuid.UUID,
    files: list[StoredFile],
    thread: dict[str, Any] | None,
    source: InputSource | None,
) -> dict[str, Any] | None:
    """Fetch and store what is missing; ``files`` are updated in place; the run's thread as
    now stored is returned. Raises InputProblem.

    The files and the thread are fetched at once (up to DOWNLOADS_AT_ONCE at a time): a run
    with a PDF and two images waits for the slowest of them, not for their sum."""
    missing = [f for f in files if not f.stored]
    wants_thread = not fetched(thread)
    if not missing and not wants_thread:
        return thread
    got = _needed(source)
    budget = _Budget(ctx.settings.PIPEBOT_MAX_RUN_FILES_MB * MB, sum(f.size or 0 for f in files if f.stored))
    with ThreadPoolExecutor(max_workers=min(DOWNLOADS_AT_ONCE, len(missing) + wants_thread)) as pool:
        stored = [pool.submit(_store, ctx, team_id, f, got, budget) for f in missing]
        fetching = pool.submit(_fetch_thread, ctx, team_id, rid, thread or {}, got) if wants_thread else None
        try:
            for done in stored:
                done.result()
            return fetching.result() if fetching is not None else thread
        except BaseException:
            budget.stop()  # the others stop at their next piece: the run fails anyway
            raise


DOWNLOADS_AT_ONCE = 4  # one run's files and thread fetched at once
#: Downloads in flight in one worker process, all runs together: each holds a database
#: connection while it streams, and the worker's pool keeps 10 beyond one per run slot
#: (bot/worker/main.py), so 8 never starve a run of its own connection.
_PROCESS_DOWNLOADS = threading.BoundedSemaphore(8)


def _needed(source: InputSource | None) -> InputSource:
    if source is None:  # a deployment without a surface that can fetch (no Slack installed)
        raise InputProblem(FailureKind.INPUT_UNAVAILABLE, messages.NO_INPUT_SOURCE)
    return source


class _Budget:
    """The run's total of file bytes, shared by its parallel downloads (Slack's sizes were
    checked before; a file that grew since must not fill the database)."""

    def __init__(self, limit: float, already: int) -> None:
        self.limit, self.total, self._stopped = limit, already, False
        self._lock = threading.Lock()

    def take(self, n: int) -> None:
        with self._lock:
            if self._stopped:
                raise _Stopped
            self.total += n
            if self.total > self.limit:
                raise _TooLarge(self.total, whole_run=True)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True


class _Stopped(Exception):
    """Another input of the run failed: this download stops where it is."""


def _limited(write: Callable[[bytes], None], limit: float, budget: _Budget) -> Callable[[bytes], None]:
    """``write``, stopping the download once the file passes ``limit`` bytes or the run's
    files together pass theirs."""
    seen = 0

    def guarded(data: bytes) -> None:
        nonlocal seen
        seen += len(data)
        if seen > limit:
            raise _TooLarge(seen, whole_run=False)
        budget.take(len(data))
        write(data)

    return guarded


def _store(ctx: AppContext, team_id: str, f: StoredFile, source: InputSource, budget: _Budget) -> None:
    """Download one file into its chunks, read what a model may read instead, mark it
    stored: one transaction."""
    ref = FileRef(f.slack_file_id or "", f.name, f.mimetype, "", f.size, f.url)
    file_mb, run_mb = ctx.settings.PIPEBOT_MAX_FILE_MB, ctx.settings.PIPEBOT_MAX_RUN_FILES_MB
    with _PROCESS_DOWNLOADS, transaction(ctx.sessions) as s:
        writer = file_repo.ChunkWriter(s, f.id)
        writer.reset()  # an earlier attempt's pieces, if it died mid-way
        try:
            source.download(team_id, ref, _limited(writer.write, file_mb * MB, budget))
        except _TooLarge as over:
            said = (
                messages.files_too_large_together(over.seen, run_mb)
                if over.whole_run
                else messages.file_grew_past_limit(f.name, file_mb)
            )
            raise InputProblem(FailureKind.BAD_FILE, said) from None
        except InputUnavailable as exc:
            raise InputProblem(FailureKind.INPUT_UNAVAILABLE, messages.file_unavailable(f.name, str(exc))) from None
        sha256 = writer.close()
        text, pages = _read(s, f, ctx.settings.PIPEBOT_MAX_PDF_PAGES)
        file_repo.mark_stored(s, f.id, size=writer.size, sha256=sha256, extracted_text=text, pages=pages)
    f.size, f.sha256, f.stored, f.extracted_text, f.pages = writer.size, sha256, True, text, pages
    log.info("stored file %s (%d bytes) of run file %d", f.name, f.size, f.id)


def _read(s: Any, f: StoredFile, max_pages: int) -> tuple[str | None, int | None]:
    """What the model may read instead of the bytes: a PDF's text and pages (read from the
    stored bytes), a text file's text; nothing for an image."""
    if f.kind == FileKind.PDF:
        try:
            found = read_pdf(file_repo.read_bytes(s, f.id), f.name, max_pages)
        except PdfProblem as exc:
            raise InputProblem(FailureKind.BAD_FILE, str(exc)) from None
        return found.text, found.pages
    if f.kind == FileKind.TEXT:
        return clean_text(file_repo.read_bytes(s, f.id).decode("utf-8", errors="replace")), None
    return None, None


def _fetch_thread(
    ctx: AppContext, team_id: str, rid: uuid.UUID, thread: dict[str, Any], source: InputSource
) -> dict[str, Any] | None:
    ref = ThreadRef.from_json(thread.get("ref"))
    if ref is None:
        return None
    try:
        found = source.thread(team_id, ref)
    except InputUnavailable as exc:
        raise InputProblem(FailureKind.INPUT_UNAVAILABLE, messages.thread_unavailable(str(exc))) from None
    kept, left_out = keep_newest([type(m)(clean_text(m.author), clean_text(m.text), m.ts, m.file_names) for m in found])
    stored = thread_json(ref, kept, left_out)
    with transaction(ctx.sessions) as s:
        run_repo.set_thread(s, rid, stored)
    return stored

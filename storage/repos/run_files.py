"""A run's files (DESIGN §11): their rows, and their bytes in pieces.

Bytes are written a chunk at a time as they arrive (``ChunkWriter``) and read back the same
way (``iter_chunks``), so neither a download nor a model request holds a file's bytes more
than once. A re-run from a step copies the source run's files inside PostgreSQL
(``copy_files``): nothing goes back to Slack, nothing passes through Python.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from storage.models import RunFile, RunFileChunk

__all__ = [
    "CHUNK_BYTES",
    "ChunkWriter",
    "add_file",
    "copy_files",
    "file_at",
    "files_of",
    "iter_chunks",
    "mark_stored",
    "read_bytes",
]

CHUNK_BYTES = 1024 * 1024  # one run_file_chunks row


def add_file(s: Session, run_id: uuid.UUID, position: int, **values: Any) -> RunFile:
    """Record a file as described (``slack_file_id``, ``name``, ``mimetype``, ``kind``,
    ``size``, ``url``); its bytes come later."""
    row = RunFile(run_id=run_id, position=position, **values)
    s.add(row)
    s.flush()
    return row


def files_of(s: Session, run_id: uuid.UUID) -> Sequence[RunFile]:
    """The run's files in the order they were shared."""
    return s.scalars(select(RunFile).where(RunFile.run_id == run_id).order_by(RunFile.position)).all()


def file_at(s: Session, run_id: uuid.UUID, position: int) -> RunFile | None:
    """One of the run's files by its position (the artifact page's download link names it so)."""
    return s.scalar(select(RunFile).where(RunFile.run_id == run_id, RunFile.position == position))


class ChunkWriter:
    """Append a file's bytes as they arrive: each full chunk is one INSERT, the sha256 and
    size are counted on the way. Start over (``reset``) before a second download attempt.
    Call ``close`` for the last partial chunk; ``mark_stored`` then records the file."""

    def __init__(self, s: Session, file_id: int) -> None:
        self.s, self.file_id = s, file_id
        self.size, self._seq, self._held = 0, 0, bytearray()
        self._hash = hashlib.sha256()

    def reset(self) -> None:
        self.s.execute(delete(RunFileChunk).where(RunFileChunk.file_id == self.file_id))
        self.size, self._seq, self._held = 0, 0, bytearray()
        self._hash = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)
        self._held += data
        while len(self._held) >= CHUNK_BYTES:
            self._flush(bytes(self._held[:CHUNK_BYTES]))
            del self._held[:CHUNK_BYTES]

    def close(self) -> str:
        """Write what is held; the file's sha256 (hex)."""
        if self._held:
            self._flush(bytes(self._held))
            self._held = bytearray()
        return self._hash.hexdigest()

    def _flush(self, data: bytes) -> None:
        # A Core INSERT: the session's identity map would otherwise keep every chunk alive.
        self.s.execute(insert(RunFileChunk).values(file_id=self.file_id, seq=self._seq, data=data))
        self._seq += 1


def mark_stored(
    s: Session,
    file_id: int,
    *,
    size: int,
    sha256: str,
    extracted_text: str | None = None,
    pages: int | None = None,
    when: datetime | None = None,
) -> None:
    s.execute(
        update(RunFile)
        .where(RunFile.id == file_id)
        .values(
            size=size,
            sha256=sha256,
            extracted_text=extracted_text,
            pages=pages,
            stored_at=when if when is not None else func.now(),
        )
    )


def iter_chunks(s: Session, file_id: int) -> Iterator[bytes]:
    """The file's bytes, a chunk at a time (one row per fetch)."""
    rows = s.execute(
        select(RunFileChunk.data).where(RunFileChunk.file_id == file_id).order_by(RunFileChunk.seq),
        execution_options={"yield_per": 1},
    )
    for (data,) in rows:
        yield bytes(data)


def read_bytes(s: Session, file_id: int) -> bytes:
    """The whole file (a page serving it, a PDF being read): one copy."""
    return b"".join(iter_chunks(s, file_id))


def copy_files(s: Session, source_run_id: uuid.UUID, target_run_id: uuid.UUID) -> int:
    """Give ``target_run_id`` (a re-run from a step) the source run's files, bytes included,
    copied inside PostgreSQL. Returns how many files were copied."""
    copied = s.execute(
        text(
            """
            WITH src AS (
                SELECT id, position, slack_file_id, name, mimetype, kind, size, url, sha256,
                       stored_at, extracted_text, pages
                FROM run_files WHERE run_id = :source
            ), ins AS (
                INSERT INTO run_files (run_id, position, slack_file_id, name, mimetype, kind, size, url,
                                       sha256, stored_at, extracted_text, pages)
                SELECT :target, position, slack_file_id, name, mimetype, kind, size, url, sha256,
                       stored_at, extracted_text, pages
                FROM src ORDER BY position
                RETURNING id, position
            ), chunks AS (
                INSERT INTO run_file_chunks (file_id, seq, data)
                SELECT ins.id, c.seq, c.data
                FROM ins JOIN src ON src.position = ins.position
                JOIN run_file_chunks c ON c.file_id = src.id
                RETURNING 1
            )
            SELECT count(*) FROM ins
            """
        ),
        {"source": source_run_id, "target": target_run_id},
    ).scalar_one()
    return int(copied)

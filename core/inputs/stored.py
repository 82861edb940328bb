"""A run's files as the worker knows them once the run is recorded: the ``run_files`` row
without its bytes. Read once when the run is claimed (core/runs/claim.py) and kept up to date
by the gathering (core/inputs/gather.py), so the steps and the artifact need no re-read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storage.models import RunFile

__all__ = ["StoredFile", "stored_files"]


@dataclass
class StoredFile:
    id: int
    position: int
    name: str
    mimetype: str
    kind: str  # core.inputs.rules.FileKind
    size: int | None
    url: str
    slack_file_id: str | None
    sha256: str | None = None
    stored: bool = False
    extracted_text: str | None = None
    pages: int | None = None

    @classmethod
    def of(cls, row: RunFile) -> StoredFile:
        return cls(
            id=row.id,
            position=row.position,
            name=row.name,
            mimetype=row.mimetype or "",
            kind=row.kind,
            size=row.size,
            url=row.url or "",
            slack_file_id=row.slack_file_id,
            sha256=row.sha256,
            stored=row.stored_at is not None,
            extracted_text=row.extracted_text,
            pages=row.pages,
        )


def stored_files(rows: Sequence[RunFile]) -> list[StoredFile]:
    return [StoredFile.of(r) for r in rows]

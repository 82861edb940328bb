"""Runs that take files and threads, executed in this process so a test can hand the
executor its input source: the network-edge double for core (Slack's own source is tested
against the fake Slack). Also PDFs made with pypdf, so tests read real PDF bytes."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from core.context import AppContext
from core.inputs.refs import FileRef, ThreadMessage, ThreadRef
from core.inputs.source import InputUnavailable
from core.settings import load_settings

__all__ = ["ServedInputs", "WorkerDied", "file_ref", "pdf_bytes", "runner"]

# Minimal valid images (a 1x1 PNG; the bytes do not matter to core, only that they round-trip).
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


class WorkerDied(BaseException):
    """Raised by a source to stand for the worker process dying mid-download (no handler
    of ours catches a BaseException, as none survives SIGKILL)."""


class ServedInputs:
    """An InputSource serving the bytes and thread messages a test gives it, counting each
    download. ``unavailable``: file id -> what the source says when it cannot have it;
    ``die_on``: a file id whose download kills "the worker"."""

    def __init__(
        self,
        files: dict[str, bytes] | None = None,
        thread: list[ThreadMessage] | None = None,
        *,
        unavailable: dict[str, str] | None = None,
        thread_unavailable: str | None = None,
        die_on: str | None = None,
        piece: int = 100_000,
    ) -> None:
        self.files = files or {}
        self.messages = thread or []
        self.unavailable = unavailable or {}
        self.thread_unavailable = thread_unavailable
        self.die_on = die_on
        self.piece = piece
        self.downloads: list[str] = []
        self.thread_reads: list[ThreadRef] = []

    def download(self, team_id: str, ref: FileRef, write: Callable[[bytes], None]) -> None:
        self.downloads.append(ref.file_id)
        if ref.file_id == self.die_on:
            raise WorkerDied(ref.file_id)
        if ref.file_id in self.unavailable:
            raise InputUnavailable(self.unavailable[ref.file_id])
        data = self.files[ref.file_id]
        for at in range(0, len(data), self.piece):
            write(data[at : at + self.piece])

    def thread(self, team_id: str, ref: ThreadRef) -> list[ThreadMessage]:
        self.thread_reads.append(ref)
        if self.thread_unavailable:
            raise InputUnavailable(self.thread_unavailable)
        return list(self.messages)


def file_ref(file_id: str, name: str, data: bytes | None = None, mimetype: str = "", **kw: Any) -> FileRef:
    """A file as Slack's file object would describe it (size from ``data`` unless given)."""
    size = kw.pop("size", len(data) if data is not None else None)
    return FileRef(file_id, name, mimetype, kw.pop("filetype", ""), size, f"https://files.slack.com/{file_id}/{name}")


def pdf_bytes(*lines: str, password: str | None = None) -> bytes:
    """A one-page PDF whose content stream writes ``lines`` in Helvetica (no lines: a page
    with no text layer, as a scan has); ``password``: a user password (AES-128)."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    if lines:
        ops = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 720 Td {ops} ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    if password is not None:
        writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@contextmanager
def runner(ctx: AppContext, fake_anthropic: Any, fake_openai: Any, **env: str) -> Iterator[AppContext]:
    """A context for executing runs in this process against the fake providers."""
    settings = load_settings(
        _env_file=None,
        **{
            **ctx.settings.model_dump(
                include={"DATABASE_URL", "REDIS_URL", "PIPEBOT_SECRET_KEY", "PIPEBOT_PUBLIC_URL", "PIPEBOT_QUEUE"}
            ),
            "ANTHROPIC_BASE_URL": fake_anthropic.url,
            "OPENAI_BASE_URL": fake_openai.url,
            "PIPEBOT_HEARTBEAT_SECONDS": "3600",
            **env,
        },
    )
    app = AppContext.create(settings, ctx.database_url, ctx.redis_url, ctx.keys)
    try:
        yield app
    finally:
        app.close()

"""What a step's model gets besides its input (DESIGN §11): step 1 the thread's earlier
messages, marked as context; step 1, and a later step whose agent has "Sees the run's files"
on, the run's files in the order they were shared.

How each file goes: an image as an image; a PDF as a document when the model reads PDFs,
else as its extracted text (the step records that it did); a text file as text. Which files
a step got, and which as text, is decided by :func:`plan_files` alone, so the artifact
(core/runs/outcome.py) says exactly what the request carried without storing it twice.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from core import messages
from core.inputs.rules import FileKind, image_media_type
from core.inputs.stored import StoredFile
from core.inputs.thread import context_text
from core.preflight import model_reads_images
from providers import catalog
from providers.types import DocumentPart, ImagePart, Part, TextPart
from storage.db import SessionFactory, transaction
from storage.repos import run_files as file_repo

__all__ = [
    "FIRST_STEP",
    "FilePlan",
    "StepInputs",
    "base64_of",
    "plan_files",
    "step_inputs",
    "stored_base64",
    "unreadable_file",
]

#: The step that always gets the run's files and its thread (positions are 1-based).
FIRST_STEP = 1


@dataclass(frozen=True)
class FilePlan:
    """How one file reaches one model: ``as_text`` for a PDF read as its extracted text."""

    file: StoredFile
    as_text: bool


@dataclass(frozen=True)
class StepInputs:
    """A step's context and attachments, and the names its artifact records."""

    context: str | None = None
    attachments: tuple[Part, ...] = ()
    files: list[str] = field(default_factory=list)
    text_extracted_from: list[str] = field(default_factory=list)


def _reads_pdf(model_ref: str) -> bool:
    try:
        return catalog.resolve(model_ref).supports_pdf
    except ValueError:
        return False


def plan_files(files: Sequence[StoredFile], model_ref: str, sees: bool) -> list[FilePlan]:
    """The files a step gets (none unless it ``sees`` them) and how each goes."""
    if not sees:
        return []
    reads_pdf = _reads_pdf(model_ref)
    return [FilePlan(f, f.kind == FileKind.PDF and not reads_pdf) for f in sorted(files, key=lambda f: f.position)]


def unreadable_file(
    files: Sequence[StoredFile], model_ref: str, sees: bool, *, position: int, agent_name: str
) -> str | None:
    """Why a step cannot take the run's stored files (None: it can): a PDF without a text
    layer for a model that does not read PDFs, or an image for one that does not look at
    images (the agent may have changed since the run was requested)."""
    shown = catalog.display_name(model_ref)
    for plan in plan_files(files, model_ref, sees):
        if plan.as_text and not (plan.file.extracted_text or "").strip():
            return messages.pdf_no_text(plan.file.name, shown)
        if plan.file.kind == FileKind.IMAGE and not model_reads_images(model_ref):
            return messages.image_not_supported(position, agent_name, shown, plan.file.name)
    return None


def base64_of(chunks: Iterable[bytes]) -> str:
    """The base64 of the chunks' concatenation, encoding each as it comes (a multiple of
    three bytes at a time, the rest carried over), so the bytes are never held twice."""
    out: list[str] = []
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        cut = len(data) - len(data) % 3
        out.append(base64.b64encode(data[:cut]).decode("ascii"))
        carry = data[cut:]
    out.append(base64.b64encode(carry).decode("ascii"))
    return "".join(out)


def stored_base64(sessions: SessionFactory, file_id: int) -> str:
    """A stored file's base64, read when a request is being built (see providers.types.Base64:
    the step does not hold it while the model answers)."""
    with transaction(sessions) as s:
        return base64_of(file_repo.iter_chunks(s, file_id))


def _part(sessions: SessionFactory, plan: FilePlan) -> Part:
    f = plan.file
    load = functools.partial(stored_base64, sessions, f.id)
    if f.kind == FileKind.IMAGE:
        return ImagePart(image_media_type(f.mimetype, f.name), load, f.name)
    if f.kind == FileKind.PDF and not plan.as_text:
        return DocumentPart("application/pdf", load, f.name)
    if f.kind == FileKind.PDF:
        return TextPart(f"{messages.extracted_text_of(f.name)}\n{f.extracted_text or ''}")
    return TextPart(f"{messages.text_file(f.name)}\n{f.extracted_text or ''}")


def step_inputs(
    sessions: SessionFactory,
    files: Sequence[StoredFile],
    model_ref: str,
    *,
    first: bool,
    sees: bool,
    thread: dict[str, Any] | None,
) -> StepInputs:
    """Step's context (step 1: the thread) and attachments; a file's bytes are read from the
    run's stored files each time a request carrying them is built."""
    plans = plan_files(files, model_ref, sees)
    return StepInputs(
        context=context_text(thread) if first else None,
        attachments=tuple(_part(sessions, p) for p in plans),
        files=[p.file.name for p in plans],
        text_extracted_from=[p.file.name for p in plans if p.as_text],
    )

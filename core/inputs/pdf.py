"""Reading a PDF's text with pypdf, for a model that does not take PDFs (and for the
artifact's "text extracted?"), from the bytes stored with the run.

Why here and not at the step: a PDF pipebot cannot read (a password, damage, too many
pages) must fail the run before any model is called, so it is read once, when the run's
inputs are gathered, and its text kept with the file (``run_files.extracted_text``).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PyPdfError

from core import messages
from core.text import clean_text

__all__ = ["PdfProblem", "PdfText", "read_pdf"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PdfText:
    """The PDF's text (empty: no text layer, a scan) and its page count."""

    text: str
    pages: int


class PdfProblem(Exception):
    """A PDF pipebot cannot read; the message names it and says what to do."""


def read_pdf(data: bytes, name: str, max_pages: int) -> PdfText:
    """The text of every page, or PdfProblem: protected by a (non-empty) user password,
    damaged, or longer than ``max_pages``. pypdf tries the empty user password by itself,
    so a PDF that is merely "encrypted" with no password reads as any other."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        pages = len(reader.pages)
        if pages > max_pages:
            raise PdfProblem(messages.pdf_too_many_pages(name, pages, max_pages))
        text = "\n".join((page.extract_text() or "").strip() for page in reader.pages)
    except PdfProblem:
        raise
    except (FileNotDecryptedError, DependencyError):
        raise PdfProblem(messages.pdf_encrypted(name)) from None
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError):
        log.info("could not read PDF %s", name, exc_info=True)
        raise PdfProblem(messages.pdf_unreadable(name)) from None
    return PdfText(clean_text(text).strip(), pages)

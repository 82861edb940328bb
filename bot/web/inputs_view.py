"""What a run took in, as the viewer shows it: its files and the thread context (DESIGN §11).

Shared by the artifact page, its Markdown export and the compare page, so a file's size, its
shortened digest and the words "text extracted" are decided once. Every string here is plain
text (file names and thread messages are other people's words): the templates escape them.

Only the four raster types Slack previews and browsers decode safely are shown inline
(:data:`INLINE_IMAGE_TYPES`); an SVG is a document that can carry script, so it is a download
like any other file. The file route (bot/web/file_routes.py) applies the same rule to the bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.runs.artifact import Artifact, FileRecord, ThreadContext

__all__ = [
    "INLINE_IMAGE_TYPES",
    "FileView",
    "ThreadLineView",
    "ThreadView",
    "byte_size",
    "file_views",
    "files_line",
    "inline_image_type",
    "thread_line",
    "thread_view",
]

#: Media types served inline and shown as ``<img>``: everything else is an attachment.
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
#: Characters of the sha256 shown (the full digest is in the element's title).
SHORT_SHA = 12

UNNAMED_FILE = "unnamed file"
UNKNOWN_AUTHOR = "someone"
TEXT_EXTRACTED = "text extracted"


def inline_image_type(mimetype: str | None) -> str | None:
    """The media type to serve a file inline with, or None (then it is a download only).
    Parameters (``; charset=…``) and case are ignored; anything outside the four is None."""
    base = (mimetype or "").split(";", 1)[0].strip().lower()
    return base if base in INLINE_IMAGE_TYPES else None


def byte_size(size: int | None) -> str:
    """A file's size for people: ``"812 bytes"``, ``"48 KB"``, ``"5.2 MB"`` (decimal units, as
    Slack shows them); ``"size unknown"`` when not recorded."""
    if size is None or size < 0:
        return "size unknown"
    if size < 1000:
        return "1 byte" if size == 1 else f"{size} bytes"
    if size < 1_000_000:
        return f"{round(size / 1000)} KB"
    if size < 1_000_000_000:
        return f"{size / 1_000_000:.1f} MB"
    return f"{size / 1_000_000_000:.1f} GB"


@dataclass(frozen=True)
class FileView:
    """One of the run's files: what it was, and where its bytes are (``href``: None when it
    has no stored position to fetch)."""

    position: int | None
    name: str
    kind: str
    mimetype: str
    size: str
    sha256: str  # the full digest ("" when unknown)
    sha_short: str
    text_extracted: bool
    pages: int | None
    href: str | None
    image: bool  # shown inline as <img>

    @property
    def facts(self) -> str:
        """The line under a file's name: type, size, pages, "text extracted"."""
        parts = [self.mimetype or self.kind or "unknown type", self.size]
        if self.pages is not None:
            parts.append("1 page" if self.pages == 1 else f"{self.pages} pages")
        if self.text_extracted:
            parts.append(TEXT_EXTRACTED)
        return " · ".join(parts)


def _file(f: FileRecord, href: Callable[[int], str] | None) -> FileView:
    sha = (f.sha256 or "").strip().lower()
    link = href(f.position) if href is not None and f.position is not None and f.position > 0 else None
    return FileView(
        position=f.position,
        name=(f.name or "").strip() or UNNAMED_FILE,
        kind=(f.kind or "").strip(),
        mimetype=(f.mimetype or "").strip(),
        size=byte_size(f.size),
        sha256=sha,
        sha_short=sha[:SHORT_SHA],
        text_extracted=bool(f.text_extracted),
        pages=f.pages,
        href=link,
        image=link is not None and inline_image_type(f.mimetype) is not None,
    )


def file_views(a: Artifact, href: Callable[[int], str] | None) -> list[FileView]:
    """The artifact's files in the order they were shared; ``href(position)`` is a file's
    download link (None: no links, as in an export read elsewhere)."""
    return [_file(f, href) for f in a.files]


@dataclass(frozen=True)
class ThreadLineView:
    author: str
    text: str
    file_names: list[str]


@dataclass(frozen=True)
class ThreadView:
    """The thread's earlier messages step 1 read, oldest first, and what was left out."""

    lines: list[ThreadLineView] = field(default_factory=list)
    left_out: int = 0

    @property
    def summary(self) -> str:
        n = len(self.lines)
        said = "1 earlier message" if n == 1 else f"{n} earlier messages"
        return said + (f" · {self.left_out_text}" if self.left_out else "")

    @property
    def left_out_text(self) -> str:
        return "1 older message left out" if self.left_out == 1 else f"{self.left_out} older messages left out"


def thread_view(a: Artifact) -> ThreadView | None:
    """The thread context, or None when the run read none."""
    t = a.thread
    if t is None or (not t.messages and not t.left_out):
        return None
    lines = [
        ThreadLineView((m.author or "").strip() or UNKNOWN_AUTHOR, m.text or "", list(m.file_names)) for m in t.messages
    ]
    return ThreadView(lines, max(0, t.left_out or 0))


# ---- compare ---------------------------------------------------------------------------------


def _identity(f: FileRecord) -> tuple[str, str]:
    return ((f.name or "").strip() or UNNAMED_FILE, (f.sha256 or "").strip().lower())


def files_line(left: Artifact, right: Artifact) -> str:
    """Whether two runs had the same files, by name and sha256: ``"Same files (3)"``, or
    ``"Different files: a.pdf only in the left run, b.png changed"``."""
    a = [_identity(f) for f in left.files]
    b = [_identity(f) for f in right.files]
    if not a and not b:
        return "No files in either run"
    if sorted(a) == sorted(b):
        return f"Same files ({len(a)})"
    a_names = {name: sha for name, sha in a}
    b_names = {name: sha for name, sha in b}
    notes: list[str] = []
    for name in dict.fromkeys([n for n, _ in a] + [n for n, _ in b]):
        if name not in b_names:
            notes.append(f"{name} only in the left run")
        elif name not in a_names:
            notes.append(f"{name} only in the right run")
        elif a_names[name] != b_names[name]:
            notes.append(f"{name} changed")
    if not notes:  # the same names and digests, in other numbers (a file shared twice)
        notes.append(f"{len(a)} files on the left, {len(b)} on the right")
    return "Different files: " + ", ".join(notes)


def _thread_key(t: ThreadContext | None) -> list[tuple[str, str, tuple[str, ...]]]:
    if t is None:
        return []
    return [((m.author or "").strip(), m.text or "", tuple(m.file_names)) for m in t.messages]


def thread_line(left: Artifact, right: Artifact) -> str:
    """Whether two runs read the same thread context (the same messages, in order)."""
    a, b = _thread_key(left.thread), _thread_key(right.thread)
    if not a and not b:
        return "No thread context in either run"
    if a == b:
        return f"Same thread context ({_messages(len(a))})"
    if not b:
        return "Thread context only in the left run"
    if not a:
        return "Thread context only in the right run"
    return f"Different thread context: {_messages(len(a))} on the left, {_messages(len(b))} on the right"


def _messages(n: int) -> str:
    return "1 message" if n == 1 else f"{n} messages"

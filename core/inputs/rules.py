"""Which files a run takes, decided from Slack's description alone (DESIGN §11).

Why from the description: a refused file refuses the run before a byte is downloaded, so
the checks here read only a :class:`FileRef` (name, mimetype, Slack's filetype, size) and
the limits in Settings. Slack's ``filetype`` is not 1:1 with the mimetype, and a file shared
from some systems arrives as ``application/octet-stream``, so the kind is read from the
mimetype first, then Slack's filetype, then the name's extension.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from core import messages
from core.inputs.refs import FileRef
from core.settings import Settings

__all__ = ["MB", "FileKind", "files_problem", "image_media_type", "kind_of"]

MB = 1024 * 1024


class FileKind(StrEnum):
    """How a file reaches a model: an image, a PDF (a document, or its extracted text), text."""

    IMAGE = "image"
    PDF = "pdf"
    TEXT = "text"


#: The image types both providers take inline, by extension/filetype.
_IMAGE_MEDIA = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
_IMAGE_MIMES = frozenset(_IMAGE_MEDIA.values())

_TEXT_EXTENSIONS = frozenset(
    {
        *("txt", "text", "md", "markdown", "csv", "tsv", "json", "jsonl", "yaml", "yml", "xml", "html", "htm"),
        *("log", "ini", "toml", "cfg", "conf", "env", "rst", "tex", "diff", "patch", "properties"),
        *("py", "js", "mjs", "cjs", "jsx", "ts", "tsx", "java", "kt", "kts", "scala", "go", "rb", "rs", "c"),
        *("cc", "cpp", "cxx", "h", "hpp", "hh", "cs", "m", "mm", "swift", "php", "pl", "pm", "lua", "r"),
        *("sh", "bash", "zsh", "fish", "ps1", "bat", "sql", "css", "scss", "sass", "less", "vue", "svelte"),
        *("dart", "ex", "exs", "erl", "hs", "clj", "elm", "groovy", "gradle", "tf", "hcl", "proto"),
        *("graphql", "gql", "dockerfile", "makefile", "cmake", "vb", "fs", "jl", "nim", "zig", "sol"),
    }
)

#: Slack's ``filetype`` values for text (https://api.slack.com/types/file#types), beyond the
#: extensions above: snippets ("text", "post" is a Slack post), language names.
_TEXT_FILETYPES = _TEXT_EXTENSIONS | frozenset(
    {
        *("plain", "snippet", "post", "space", "javascript", "typescript", "python", "ruby", "rust", "golang"),
        *("kotlin", "csharp", "objc", "perl", "powershell", "shell", "markdown", "yaml", "applescript", "boxnote"),
        *("coffeescript", "d", "dart", "diff", "docker", "erlang", "fortran", "haskell", "matlab", "ocaml"),
        *("pascal", "puppet", "scheme", "smalltalk", "velocity", "verilog", "vhdl", "vbscript", "xml", "c"),
    }
)

_TEXT_MIMES = frozenset(
    {
        *("application/json", "application/ld+json", "application/xml", "application/x-yaml", "application/yaml"),
        *("application/javascript", "application/x-javascript", "application/typescript", "application/x-sh"),
        *("application/x-shellscript", "application/sql", "application/x-sql", "application/toml"),
        *("application/x-python", "application/x-python-code", "application/x-httpd-php", "application/xhtml+xml"),
        *("application/x-ndjson", "application/csv"),
    }
)

#: Mimetypes that say nothing about the content: the filetype and the extension decide.
_GENERIC_MIMES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/binary"})


def _extension(name: str) -> str:
    base = name.rsplit("/", 1)[-1].lower()
    if base in ("dockerfile", "makefile"):
        return base
    return base.rsplit(".", 1)[-1] if "." in base else ""


def _by_mimetype(mimetype: str) -> FileKind | None:
    if mimetype in _IMAGE_MIMES:
        return FileKind.IMAGE
    if mimetype == "application/pdf":
        return FileKind.PDF
    if mimetype.startswith("text/") or mimetype in _TEXT_MIMES:
        return FileKind.TEXT
    return None


def _by_name(word: str, *, text_words: frozenset[str]) -> FileKind | None:
    if word in _IMAGE_MEDIA:
        return FileKind.IMAGE
    if word == "pdf":
        return FileKind.PDF
    if word in text_words:
        return FileKind.TEXT
    return None


def kind_of(ref: FileRef) -> FileKind | None:
    """The file's kind, or None for a type pipebot does not read.

    A recognised mimetype decides. An image mimetype pipebot does not take (SVG, HEIC) or
    another specific one decides against, except that Slack's filetype may still say text (a
    CSV that Windows labels ``application/vnd.ms-excel``). The extension is read only when
    the mimetype says nothing (empty, ``application/octet-stream``)."""
    mimetype = (ref.mimetype or "").split(";", 1)[0].strip().lower()
    if (kind := _by_mimetype(mimetype)) is not None:
        return kind
    if mimetype.startswith(("image/", "audio/", "video/")):
        return None
    filetype = (ref.filetype or "").strip().lower()
    if mimetype not in _GENERIC_MIMES:
        return FileKind.TEXT if filetype in _TEXT_FILETYPES else None
    if (kind := _by_name(filetype, text_words=_TEXT_FILETYPES)) is not None:
        return kind
    return _by_name(_extension(ref.name or ""), text_words=_TEXT_EXTENSIONS)


def image_media_type(mimetype: str, name: str, filetype: str = "") -> str:
    """The media type an image is sent as: its mimetype when one of the four, else by name."""
    mimetype = (mimetype or "").split(";", 1)[0].strip().lower()
    if mimetype in _IMAGE_MIMES:
        return mimetype
    return _IMAGE_MEDIA.get((filetype or "").lower()) or _IMAGE_MEDIA.get(_extension(name), "image/png")


def _type_words(ref: FileRef) -> str:
    return ref.mimetype or ref.filetype or (f".{_extension(ref.name)} file" if _extension(ref.name) else "unknown type")


def display_name(ref: FileRef) -> str:
    """How a file is named to people: its name, else Slack's id (a Slack Connect stub)."""
    return ref.name or ref.file_id or "a file"


def files_problem(refs: Sequence[FileRef], settings: Settings) -> str | None:
    """The first reason the run can't take these files, in words naming the file and the
    limit; None when they are fine. In order: how many, each one's size (an unknown size is
    refused: the limit could not be checked), the total, each one's type."""
    if len(refs) > settings.PIPEBOT_MAX_FILES:
        return messages.too_many_files(
            len(refs), settings.PIPEBOT_MAX_FILES, display_name(refs[settings.PIPEBOT_MAX_FILES])
        )
    file_limit = settings.PIPEBOT_MAX_FILE_MB * MB
    for ref in refs:
        if ref.size is None or ref.size < 0:
            return messages.file_size_unknown(display_name(ref))
        if ref.size > file_limit:
            return messages.file_too_large(display_name(ref), ref.size, settings.PIPEBOT_MAX_FILE_MB)
    total = sum(ref.size or 0 for ref in refs)
    if total > settings.PIPEBOT_MAX_RUN_FILES_MB * MB:
        return messages.files_too_large_together(total, settings.PIPEBOT_MAX_RUN_FILES_MB)
    for ref in refs:
        if kind_of(ref) is None:
            return messages.file_type_refused(display_name(ref), _type_words(ref))
    return None

"""The pure pieces behind a run's files on the viewer: how a file is served (media type,
disposition, name in the header) and how sizes and compare lines are worded."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from bot.web.file_headers import ascii_filename, content_disposition, file_headers
from bot.web.inputs_view import byte_size, files_line, inline_image_type, thread_line
from core.runs.artifact import Artifact


@pytest.mark.parametrize(
    ("mimetype", "inline"),
    [
        ("image/png", "image/png"),
        ("IMAGE/JPEG; charset=binary", "image/jpeg"),
        ("image/gif", "image/gif"),
        ("image/webp", "image/webp"),
        ("image/svg+xml", None),
        ("text/html", None),
        ("application/pdf", None),
        ("", None),
        (None, None),
    ],
    ids=["png", "jpeg-params", "gif", "webp", "svg", "html", "pdf", "empty", "none"],
)
def test_only_the_four_raster_types_are_served_inline(mimetype: str | None, inline: str | None) -> None:
    assert inline_image_type(mimetype) == inline
    media, headers = file_headers("x", mimetype, 10)
    assert media == (inline or "application/octet-stream")
    assert headers["Content-Disposition"].startswith("inline; " if inline else "attachment; ")
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Content-Length"] == "10"


@pytest.mark.parametrize(
    ("name", "plain", "exact"),
    [
        ("report.pdf", "report.pdf", "report.pdf"),
        ("Überblick 2026.pdf", "_berblick 2026.pdf", "Überblick 2026.pdf"),
        ('a"b\\c.txt', "c.txt", "c.txt"),  # a backslash is a path separator on some systems
        ("../../etc/passwd", "passwd", "passwd"),
        ("line\r\nbreak.txt", "linebreak.txt", "linebreak.txt"),
        ("..", "unnamed file", "unnamed file"),
        (None, "unnamed file", "unnamed file"),
        ("日本語.png", "___.png", "日本語.png"),
    ],
    ids=["plain", "umlaut", "quote-backslash", "path", "crlf", "dots", "none", "cjk"],
)
def test_the_name_in_the_header_is_safe_and_exact(name: str | None, plain: str, exact: str) -> None:
    value = content_disposition(name, inline=False)
    assert value.isascii() and "\r" not in value and "\n" not in value
    assert f'filename="{plain}"' in value
    assert unquote(value.split("filename*=UTF-8''")[1]) == exact
    assert ascii_filename(name) == plain


def test_sizes_read_as_people_say_them() -> None:
    assert [byte_size(n) for n in (None, 0, 1, 999, 1000, 48_400, 5_242_880, 2_000_000_000)] == [
        "size unknown",
        "0 bytes",
        "1 byte",
        "999 bytes",
        "1 KB",
        "48 KB",
        "5.2 MB",
        "2.0 GB",
    ]


def _run(*files: tuple[str, str], thread: list[str] | None = None) -> Artifact:
    content: dict = {"files": [{"position": i, "name": n, "sha256": sha} for i, (n, sha) in enumerate(files, 1)]}
    if thread is not None:
        content["thread"] = {"messages": [{"author": "Ana", "text": t} for t in thread]}
    return Artifact.from_content(content)


def test_compare_lines_name_what_differs() -> None:
    a = _run(("a.pdf", "11"), ("b.png", "22"))
    assert files_line(a, _run(("b.png", "22"), ("a.pdf", "11"))) == "Same files (2)"
    assert files_line(a, _run(("a.pdf", "11"))) == "Different files: b.png only in the left run"
    assert files_line(a, _run(("a.pdf", "99"), ("b.png", "22"), ("c.md", "33"))) == (
        "Different files: a.pdf changed, c.md only in the right run"
    )
    assert files_line(_run(), _run()) == "No files in either run"
    assert thread_line(_run(thread=["hi"]), _run(thread=["hi"])) == "Same thread context (1 message)"
    assert thread_line(_run(thread=["hi"]), _run(thread=["hi", "more"])) == (
        "Different thread context: 1 message on the left, 2 messages on the right"
    )
    assert thread_line(_run(), _run(thread=["hi"])) == "Thread context only in the right run"

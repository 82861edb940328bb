"""Small real files for tests that send images and PDFs: a PNG that image libraries
open, a JPEG/GIF/WebP header the APIs' type sniffing recognises, and a PDF with a chosen
number of pages (written by pypdf, so pypdf and the fakes read it back alike)."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pypdf

__all__ = ["b64", "gif_bytes", "jpeg_bytes", "pdf_bytes", "png_bytes", "webp_bytes"]


def b64(raw: bytes) -> str:
    """Base64 text, as ImagePart/DocumentPart carry it."""
    return base64.b64encode(raw).decode("ascii")


def png_bytes(width: int = 1, height: int = 1) -> bytes:
    """A valid RGB PNG of one grey colour."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def jpeg_bytes() -> bytes:
    """A JPEG's start (SOI + JFIF APP0): enough for media-type sniffing."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def gif_bytes() -> bytes:
    return b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


def webp_bytes() -> bytes:
    return b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"


def pdf_bytes(pages: int = 1) -> bytes:
    """A PDF of ``pages`` blank pages."""
    writer = pypdf.PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()

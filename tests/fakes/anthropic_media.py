"""The Messages API's rules for ``image`` and ``document`` blocks, for the fake
Anthropic server: source kinds, media types, base64 that decodes to what the media type
says, PDFs that are PDFs, how many images and pages a request may hold. Refusals are worded
as the API words them (``messages.N.content.M.<path>: <what is wrong>``)."""

from __future__ import annotations

from typing import Any

from .llm_media import IMAGE_MEDIA_TYPES, Refused, decode_base64, pdf_pages, sniff_image

__all__ = ["check_counts", "check_document", "check_image"]


def check_image(block: dict[str, Any], where: str) -> None:
    """An image block as the API checks it (source kind, media type, base64, and
    bytes that are what the media type says)."""
    source = _source(block, where, "image", ("base64", "url", "file"))
    if source["type"] == "base64":
        media_type = source.get("media_type")
        if media_type not in IMAGE_MEDIA_TYPES:
            raise Refused(
                f"{where}.image.source.base64.media_type: Input should be "
                "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
            )
        raw = decode_base64(source.get("data"))
        if raw is None:
            raise Refused(f"{where}.image.source.base64.data: The image data is not valid base64.")
        if sniff_image(raw) != media_type:
            raise Refused(
                f"{where}.image.source.base64.data: Image does not match the provided media type {media_type}"
            )


def check_document(block: dict[str, Any], where: str) -> tuple[int, str]:
    """A document block as the API checks it (a base64 source must be a real PDF);
    its PDF pages, and its text when it is a plain-text document."""
    source = _source(block, where, "document", ("base64", "text", "content", "url", "file"))
    title = block.get("title")
    if title is not None and not isinstance(title, str):
        raise Refused(f"{where}.document.title: Input should be a valid string")
    if isinstance(title, str) and not 1 <= len(title) <= 500:
        raise Refused(f"{where}.document.title: String should have between 1 and 500 characters")
    if source["type"] == "text":
        data = source.get("data")
        if not isinstance(data, str):
            raise Refused(f"{where}.document.source.text.data: Field required")
        return 0, data
    if source["type"] != "base64":
        return 1, ""
    if source.get("media_type") != "application/pdf":
        raise Refused(f"{where}.document.source.base64.media_type: Input should be 'application/pdf'")
    raw = decode_base64(source.get("data"))
    if raw is None or not raw.startswith(b"%PDF"):
        raise Refused(f"{where}.document.source.base64.data: The PDF specified was not valid.")
    return pdf_pages(raw), ""


def check_counts(images: int, pages: int, context_window: int) -> None:
    """The per-request limits: 100 images on models with a context of 200k or less (600
    on others); 100 PDF pages under a 1M context (600 from 1M up)."""
    image_limit = 100 if context_window <= 200_000 else 600
    if images > image_limit:
        raise Refused(f"messages: Too many images: {images} provided, a maximum of {image_limit} may be provided.")
    page_limit = 100 if context_window < 1_000_000 else 600
    if pages > page_limit:
        raise Refused(f"A maximum of {page_limit} PDF pages may be provided.")


def _source(block: dict[str, Any], where: str, kind: str, tags: tuple[str, ...]) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise Refused(f"{where}.{kind}.source: Field required")
    tag = source.get("type")
    if tag not in tags:
        expected = ", ".join(f"'{t}'" for t in tags)
        raise Refused(
            f"{where}.{kind}.source: Input tag '{tag}' found using 'type' does not match any of the "
            f"expected tags: {expected}"
        )
    need = {"url": "url", "file": "file_id"}.get(tag)
    if need is not None and not isinstance(source.get(need), str):
        raise Refused(f"{where}.{kind}.source.{tag}.{need}: Field required")
    return source

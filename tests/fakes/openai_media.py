"""The Responses API's rules for ``input_image`` and ``input_file`` content, for the
fake OpenAI server: ``detail`` required and known, data URLs with an image type and
base64 that decodes to an image, files named and carrying data, file id or URL, PDFs
that are PDFs; and the tokens each adds to usage (OpenAI counts them inside
``input_tokens``). Refusals carry the API's ``param`` and ``code``."""

from __future__ import annotations

from typing import Any

from .llm_base import estimate_tokens
from .llm_media import IMAGE_MEDIA_TYPES, Refused, decode_base64, parse_data_url, pdf_pages, sniff_image

__all__ = ["IMAGE_DETAILS", "check_content"]

#: ``input_image.detail``: required, one of these (SDK 3.x ImageDetail).
IMAGE_DETAILS = ("low", "high", "auto", "original")


def check_content(i: int, role: str, content: list[Any], image_tokens: int, page_tokens: int) -> int:
    """A message's content list: images and files only in input roles, each checked
    as the API does; their tokens (OpenAI reports them inside input_tokens)."""
    tokens = 0
    for j, part in enumerate(content):
        ptype = part.get("type") if isinstance(part, dict) else None
        if ptype not in ("input_image", "input_file"):
            continue
        where = f"input[{i}].content[{j}]"
        if role == "assistant":
            raise Refused(
                f"Invalid value: '{ptype}'. Supported values are: 'output_text' and 'refusal'.",
                param=f"{where}.type",
                code="invalid_value",
            )
        assert isinstance(part, dict)
        tokens += (
            _check_image(part, where, image_tokens) if ptype == "input_image" else _check_file(part, where, page_tokens)
        )
    return tokens


def _check_image(part: dict[str, Any], where: str, tokens: int) -> int:
    detail = part.get("detail")
    if detail is None:
        raise Refused(
            f"Missing required parameter: '{where}.detail'.",
            param=f"{where}.detail",
            code="missing_required_parameter",
        )
    if detail not in IMAGE_DETAILS:
        raise Refused(
            f"Invalid value: '{detail}'. Supported values are: 'low', 'high', 'auto', and 'original'.",
            param=f"{where}.detail",
            code="invalid_value",
        )
    url = part.get("image_url")
    if url is None and part.get("file_id") is None:
        raise Refused(
            f"Missing required parameter: '{where}.image_url'. Provide one of 'image_url' or 'file_id'.",
            param=f"{where}.image_url",
            code="missing_required_parameter",
        )
    if isinstance(url, str) and url.startswith("data:"):
        param = f"{where}.image_url"
        parsed = parse_data_url(url)
        if parsed is None or parsed[0] not in IMAGE_MEDIA_TYPES:
            got = f"unsupported MIME type '{parsed[0]}'" if parsed else "a data URL that is not base64"
            raise Refused(
                f"Invalid '{param}'. Expected a base64-encoded data URL with an image MIME type "
                f"(e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got {got}.",
                param=param,
                code="invalid_value",
            )
        raw = decode_base64(parsed[1])
        if raw is None:
            raise Refused(
                f"Invalid '{param}'. Expected a base64-encoded data URL with an image MIME type, "
                "but got a value with invalid base64 data.",
                param=param,
                code="invalid_value",
            )
        if sniff_image(raw) is None:
            raise Refused(
                "You uploaded an unsupported image. Please make sure your image has of one the following "
                "formats: ['png', 'jpeg', 'gif', 'webp'].",
                param=param,
                code="invalid_image_format",
            )
    elif url is not None and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        raise Refused(
            f"Invalid '{where}.image_url'. Expected a valid URL, but got a value with an invalid format.",
            param=f"{where}.image_url",
            code="invalid_value",
        )
    return tokens


def _check_file(part: dict[str, Any], where: str, page_tokens: int) -> int:
    detail = part.get("detail")
    if detail is not None and detail not in ("low", "high", "auto"):
        raise Refused(
            f"Invalid value: '{detail}'. Supported values are: 'low', 'high', and 'auto'.",
            param=f"{where}.detail",
            code="invalid_value",
        )
    data = part.get("file_data")
    if data is None:
        if part.get("file_id") is None and part.get("file_url") is None:
            raise Refused(
                f"Missing required parameter: '{where}.file_data'. Provide one of 'file_data', 'file_id' or 'file_url'.",
                param=f"{where}.file_data",
                code="missing_required_parameter",
            )
        return page_tokens
    if not isinstance(part.get("filename"), str) or not part["filename"]:
        raise Refused(
            f"Missing required parameter: '{where}.filename'.",
            param=f"{where}.filename",
            code="missing_required_parameter",
        )
    param = f"{where}.file_data"
    parsed = parse_data_url(data)
    raw = decode_base64(parsed[1]) if parsed is not None else None
    if parsed is None or raw is None:
        raise Refused(
            f"Invalid '{param}'. Expected a base64-encoded data URL (e.g. 'data:application/pdf;base64,...').",
            param=param,
            code="invalid_value",
        )
    if parsed[0] == "application/pdf":
        if not raw.startswith(b"%PDF"):
            raise Refused(f"Invalid '{param}'. The file is not a valid PDF.", param=param, code="invalid_file_format")
        return pdf_pages(raw) * page_tokens
    return estimate_tokens(raw.decode("utf-8", "replace"))

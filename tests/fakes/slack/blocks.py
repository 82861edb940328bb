"""Block Kit validation as Slack does it: returns Slack-style ``[ERROR] ... [json-pointer:/...]``
messages, which the API methods answer as ``invalid_blocks`` / ``invalid_arguments``.

Used wherever the app sends blocks: messages, updates, ephemerals, ``response_url`` posts,
``chat.stopStream``, unfurls and views.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from tests.fakes.slack.limits import (
    ACTION_ID_LIMIT,
    BLOCK_ID_LIMIT,
    BUTTON_TEXT_LIMIT,
    BUTTON_VALUE_LIMIT,
    CALLBACK_ID_LIMIT,
    CONTEXT_ACTIONS_MAX,
    HEADER_TEXT_LIMIT,
    INPUT_LABEL_LIMIT,
    MARKDOWN_BLOCK_LIMIT,
    OPTION_TEXT_LIMIT,
    OPTION_VALUE_LIMIT,
    OPTIONS_LIMIT,
    PLACEHOLDER_LIMIT,
    PLAIN_TEXT_INPUT_MAX,
    PRIVATE_METADATA_LIMIT,
    SECTION_FIELD_LIMIT,
    SECTION_FIELDS_MAX,
    SECTION_TEXT_LIMIT,
    VIEW_BLOCKS_LIMIT,
    VIEW_TITLE_LIMIT,
)


def _too_long(ptr: str, limit: int) -> str:
    return f"[ERROR] must be less than {limit + 1} characters [json-pointer:{ptr}]"


def _too_many(ptr: str, limit: int) -> str:
    return f"[ERROR] no more than {limit} items allowed [json-pointer:{ptr}]"


def _missing(ptr: str) -> str:
    return f"[ERROR] missing required field: {ptr.rsplit('/', 1)[-1]} [json-pointer:{ptr}]"


def _text_obj(
    obj: Any, ptr: str, limit: int, errs: list[str], *, plain_only: bool = False, required: bool = True
) -> None:
    if obj is None:
        if required:
            errs.append(_missing(ptr))
        return
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        errs.append(f"[ERROR] must be a text object [json-pointer:{ptr}]")
        return
    if plain_only and obj.get("type") != "plain_text":
        errs.append(f"[ERROR] must be a plain_text object [json-pointer:{ptr}/type]")
    text = obj.get("text")
    if not isinstance(text, str) or text == "":
        errs.append(f"[ERROR] must be more than 0 characters [json-pointer:{ptr}/text]")
    elif len(text) > limit:
        errs.append(_too_long(f"{ptr}/text", limit))


def _options(opts: Any, ptr: str, errs: list[str], limit: int = OPTIONS_LIMIT) -> int:
    if not isinstance(opts, list):
        errs.append(f"[ERROR] must be an array [json-pointer:{ptr}]")
        return 0
    if len(opts) > limit:
        errs.append(_too_many(ptr, limit))
    for i, opt in enumerate(opts):
        optr = f"{ptr}/{i}"
        if not isinstance(opt, dict):
            errs.append(f"[ERROR] must be an option object [json-pointer:{optr}]")
            continue
        _text_obj(opt.get("text"), f"{optr}/text", OPTION_TEXT_LIMIT, errs)
        value = opt.get("value")
        if value is not None and len(str(value)) > OPTION_VALUE_LIMIT:
            errs.append(_too_long(f"{optr}/value", OPTION_VALUE_LIMIT))
        if opt.get("description") is not None:
            _text_obj(opt.get("description"), f"{optr}/description", OPTION_TEXT_LIMIT, errs)
    return len(opts)


def _element(el: Any, ptr: str, errs: list[str], max_total_options: int | None) -> None:
    if not isinstance(el, dict) or "type" not in el:
        errs.append(f"[ERROR] must be a block element [json-pointer:{ptr}]")
        return
    kind = el["type"]
    if el.get("action_id") is not None and len(str(el["action_id"])) > ACTION_ID_LIMIT:
        errs.append(_too_long(f"{ptr}/action_id", ACTION_ID_LIMIT))
    if el.get("placeholder") is not None:
        _text_obj(el["placeholder"], f"{ptr}/placeholder", PLACEHOLDER_LIMIT, errs, plain_only=True)
    if kind == "button":
        _text_obj(el.get("text"), f"{ptr}/text", BUTTON_TEXT_LIMIT, errs, plain_only=True)
        if el.get("value") is not None and len(str(el["value"])) > BUTTON_VALUE_LIMIT:
            errs.append(_too_long(f"{ptr}/value", BUTTON_VALUE_LIMIT))
    elif kind in ("static_select", "multi_static_select"):
        has_opts, has_groups = "options" in el, "option_groups" in el
        if has_opts and has_groups:
            errs.append(f"[ERROR] must provide exactly one of options or option_groups [json-pointer:{ptr}]")
        elif not has_opts and not has_groups:
            errs.append(f"[ERROR] must provide exactly one of options or option_groups [json-pointer:{ptr}]")
        if has_opts:
            _options(el["options"], f"{ptr}/options", errs)
        if has_groups:
            groups = el["option_groups"]
            gptr = f"{ptr}/option_groups"
            if not isinstance(groups, list):
                errs.append(f"[ERROR] must be an array [json-pointer:{gptr}]")
                return
            if len(groups) > OPTIONS_LIMIT:
                errs.append(_too_many(gptr, OPTIONS_LIMIT))
            total = 0
            for gi, group in enumerate(groups):
                if not isinstance(group, dict):
                    errs.append(f"[ERROR] must be an option group [json-pointer:{gptr}/{gi}]")
                    continue
                _text_obj(group.get("label"), f"{gptr}/{gi}/label", OPTION_TEXT_LIMIT, errs, plain_only=True)
                total += _options(group.get("options"), f"{gptr}/{gi}/options", errs)
            if max_total_options is not None and total > max_total_options:
                errs.append(_too_many(gptr, max_total_options))
    elif kind == "feedback_buttons":
        for side in ("positive_button", "negative_button"):
            obj = el.get(side)
            if not isinstance(obj, dict):
                errs.append(_missing(f"{ptr}/{side}"))
                continue
            _text_obj(obj.get("text"), f"{ptr}/{side}/text", BUTTON_TEXT_LIMIT, errs, plain_only=True)
            value = obj.get("value")
            if not isinstance(value, str) or not value:
                errs.append(_missing(f"{ptr}/{side}/value"))
            elif len(value) > BUTTON_VALUE_LIMIT:
                errs.append(_too_long(f"{ptr}/{side}/value", BUTTON_VALUE_LIMIT))
    elif kind == "overflow":
        _options(el.get("options"), f"{ptr}/options", errs, limit=5)
    elif kind in ("radio_buttons", "checkboxes"):
        _options(el.get("options"), f"{ptr}/options", errs, limit=10)
    elif kind == "plain_text_input":
        for key in ("max_length", "min_length"):
            val = el.get(key)
            if val is not None and (not isinstance(val, int) or val > PLAIN_TEXT_INPUT_MAX or val < 0):
                errs.append(f"[ERROR] must be at most {PLAIN_TEXT_INPUT_MAX} [json-pointer:{ptr}/{key}]")
        init = el.get("initial_value")
        if isinstance(init, str) and isinstance(el.get("max_length"), int) and len(init) > el["max_length"]:
            errs.append(_too_long(f"{ptr}/initial_value", el["max_length"]))


def _unique_action_ids(elements: list[Any], ptr: str, errs: list[str]) -> None:
    """Slack: an action_id "should be unique among all other action_ids in the containing
    block"; a block with two equal ones is refused (``invalid_blocks``). Across blocks they
    may repeat."""
    seen: set[str] = set()
    for ei, el in enumerate(elements):
        aid = el.get("action_id") if isinstance(el, dict) else None
        if aid is None:
            continue
        if aid in seen:
            errs.append(f"[ERROR] duplicate action_id {aid!r} in this block [json-pointer:{ptr}/{ei}/action_id]")
        seen.add(aid)


def validate_blocks(blocks: Any, ptr: str, limit: int, errs: list[str], max_total_options: int | None) -> None:
    if not isinstance(blocks, list):
        errs.append(f"[ERROR] must be an array [json-pointer:{ptr}]")
        return
    if len(blocks) > limit:
        errs.append(_too_many(ptr, limit))
    seen_ids: set[str] = set()
    for i, block in enumerate(blocks):
        bptr = f"{ptr}/{i}"
        if not isinstance(block, dict) or "type" not in block:
            errs.append(f"[ERROR] must be a block [json-pointer:{bptr}]")
            continue
        bid = block.get("block_id")
        if bid is not None:
            if len(str(bid)) > BLOCK_ID_LIMIT:
                errs.append(_too_long(f"{bptr}/block_id", BLOCK_ID_LIMIT))
            if bid in seen_ids:
                errs.append(f"[ERROR] duplicate block_id {bid!r} [json-pointer:{bptr}/block_id]")
            seen_ids.add(bid)
        kind = block["type"]
        if kind == "section":
            if block.get("text") is None and not block.get("fields"):
                errs.append(f"[ERROR] must provide text or fields [json-pointer:{bptr}]")
            if block.get("text") is not None:
                _text_obj(block["text"], f"{bptr}/text", SECTION_TEXT_LIMIT, errs)
            fields = block.get("fields")
            if fields is not None:
                if not isinstance(fields, list):
                    errs.append(f"[ERROR] must be an array [json-pointer:{bptr}/fields]")
                else:
                    if len(fields) > SECTION_FIELDS_MAX:
                        errs.append(_too_many(f"{bptr}/fields", SECTION_FIELDS_MAX))
                    for fi, fobj in enumerate(fields):
                        _text_obj(fobj, f"{bptr}/fields/{fi}", SECTION_FIELD_LIMIT, errs)
            if block.get("accessory") is not None:
                _element(block["accessory"], f"{bptr}/accessory", errs, max_total_options)
        elif kind == "header":
            _text_obj(block.get("text"), f"{bptr}/text", HEADER_TEXT_LIMIT, errs, plain_only=True)
        elif kind == "markdown":
            text = block.get("text")
            if not isinstance(text, str):
                errs.append(_missing(f"{bptr}/text"))
            elif len(text) > MARKDOWN_BLOCK_LIMIT:
                errs.append(_too_long(f"{bptr}/text", MARKDOWN_BLOCK_LIMIT))
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                errs.append(_missing(f"{bptr}/elements"))
            elif len(elements) > 10:
                errs.append(_too_many(f"{bptr}/elements", 10))
            else:
                for ei, el in enumerate(elements):
                    if isinstance(el, dict) and el.get("type") in ("plain_text", "mrkdwn"):
                        _text_obj(el, f"{bptr}/elements/{ei}", SECTION_TEXT_LIMIT, errs)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                errs.append(_missing(f"{bptr}/elements"))
            else:
                if len(elements) > 25:
                    errs.append(_too_many(f"{bptr}/elements", 25))
                for ei, el in enumerate(elements):
                    if isinstance(el, dict) and el.get("type") in ("feedback_buttons", "icon_button"):
                        errs.append(
                            f"[ERROR] {el['type']} is only allowed in context_actions "
                            f"[json-pointer:{bptr}/elements/{ei}/type]"
                        )
                    _element(el, f"{bptr}/elements/{ei}", errs, max_total_options)
                _unique_action_ids(elements, f"{bptr}/elements", errs)
        elif kind == "context_actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                errs.append(_missing(f"{bptr}/elements"))
            else:
                if len(elements) > CONTEXT_ACTIONS_MAX:
                    errs.append(_too_many(f"{bptr}/elements", CONTEXT_ACTIONS_MAX))
                for ei, el in enumerate(elements):
                    if not isinstance(el, dict) or el.get("type") not in ("feedback_buttons", "icon_button"):
                        errs.append(
                            f"[ERROR] must be feedback_buttons or icon_button [json-pointer:{bptr}/elements/{ei}]"
                        )
                        continue
                    _element(el, f"{bptr}/elements/{ei}", errs, max_total_options)
                _unique_action_ids(elements, f"{bptr}/elements", errs)
        elif kind == "input":
            _text_obj(block.get("label"), f"{bptr}/label", INPUT_LABEL_LIMIT, errs, plain_only=True)
            if block.get("hint") is not None:
                _text_obj(block["hint"], f"{bptr}/hint", INPUT_LABEL_LIMIT, errs, plain_only=True)
            if block.get("element") is None:
                errs.append(_missing(f"{bptr}/element"))
            else:
                _element(block["element"], f"{bptr}/element", errs, max_total_options)


def validate_view(view: Any, max_total_options: int | None) -> list[str]:
    errs: list[str] = []
    if not isinstance(view, dict):
        return ["[ERROR] must be a view object [json-pointer:/view]"]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        errs.append("[ERROR] must be one of modal, home [json-pointer:/view/type]")
    if kind == "modal":
        _text_obj(view.get("title"), "/view/title", VIEW_TITLE_LIMIT, errs, plain_only=True)
    elif view.get("title") is not None:
        _text_obj(view.get("title"), "/view/title", VIEW_TITLE_LIMIT, errs, plain_only=True)
    for key in ("submit", "close"):
        if view.get(key) is not None:
            _text_obj(view[key], f"/view/{key}", VIEW_TITLE_LIMIT, errs, plain_only=True)
    meta = view.get("private_metadata")
    if meta is not None and len(str(meta)) > PRIVATE_METADATA_LIMIT:
        errs.append(_too_long("/view/private_metadata", PRIVATE_METADATA_LIMIT))
    cb = view.get("callback_id")
    if cb is not None and len(str(cb)) > CALLBACK_ID_LIMIT:
        errs.append(_too_long("/view/callback_id", CALLBACK_ID_LIMIT))
    blocks = view.get("blocks")
    if blocks is None:
        errs.append(_missing("/view/blocks"))
    else:
        validate_blocks(blocks, "/view/blocks", VIEW_BLOCKS_LIMIT, errs, max_total_options)
        if (
            kind == "modal"
            and isinstance(blocks, list)
            and view.get("submit") is None
            and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        ):
            errs.append("[ERROR] submit is required when an input block is present [json-pointer:/view/submit]")
    return errs


def fill_ids(blocks: Any) -> Any:
    """Give blocks and interactive elements the random ids Slack assigns when the app
    sends none, so submissions can be keyed by them (Slack does the same)."""
    if not isinstance(blocks, list):
        return blocks
    out = json.loads(json.dumps(blocks))
    for block in out:
        if not isinstance(block, dict):
            continue
        block.setdefault("block_id", secrets.token_urlsafe(3))
        elements = [block.get("element"), block.get("accessory"), *(block.get("elements") or [])]
        for el in elements:
            if (
                isinstance(el, dict)
                and el.get("type") not in (None, "plain_text", "mrkdwn", "image")
                and "action_id" not in el
            ):
                el["action_id"] = secrets.token_urlsafe(3)
    return out

"""The model catalog: each provider's current chat models and what they accept.

Menus are built from ``models_for``; the provider layer reads ``resolve`` to decide
which parameters to send (a parameter a model rejects is dropped with a note, never
sent). Facts come from the providers' model pages and the installed SDKs:

* Anthropic: the Messages API version the SDK sends (2026-10-21) has no
  ``temperature`` at all (the SDK has no such parameter), so no Claude model
  accepts one here. Every current Claude model supports tools, streaming and
  prompt caching.
* OpenAI: the GPT-5 and GPT-6 families are reasoning models and reject
  ``temperature`` (it only applies with ``reasoning.effort="none"``, which we do not
  send); GPT-4.1 and GPT-4o accept 0-2.

Dated ids (``claude-haiku-4-5-20251001``, ``gpt-5.4-mini-2026-03-17``) are aliases of
the same entry: one display name, one price. A dated id we do not list explicitly
still resolves when its undated base is known. Unknown ids get conservative
defaults (``resolve``) so a model new to the provider's list is usable at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelInfo:
    provider: str
    id: str
    display_name: str
    aliases: tuple[str, ...] = ()
    context_window: int = 128_000
    max_output_tokens: int = 4_096
    supports_tools: bool = True
    supports_temperature: bool = False
    temperature_range: tuple[float, float] | None = None
    supports_streaming: bool = True
    supports_prompt_cache: bool = False
    # What a model reads besides text (DESIGN §11): images (png, jpeg, gif, webp) and PDFs as
    # documents. False for an unknown model: a file is then refused or sent as text.
    supports_images: bool = False
    supports_pdf: bool = False
    # The provider's own server tools (DESIGN §12): Claude models have web search and web
    # fetch; OpenAI's have web search only (the Responses API has no fetch tool). False for
    # an unknown model: asking for one is then refused before any request.
    supports_web_search: bool = False
    supports_web_fetch: bool = False
    deprecated: bool = False  # still callable, headed for retirement: menus may hide it
    known: bool = True  # False when these are conservative defaults for an unknown id

    @property
    def ref(self) -> str:
        return f"{self.provider}:{self.id}"


def _claude(
    model_id: str,
    name: str,
    *,
    aliases: tuple[str, ...] = (),
    context: int = 1_000_000,
    output: int = 128_000,
    deprecated: bool = False,
) -> ModelInfo:
    return ModelInfo(
        provider="anthropic",
        id=model_id,
        display_name=name,
        aliases=aliases,
        context_window=context,
        max_output_tokens=output,
        supports_tools=True,
        supports_temperature=False,  # API version 2026-10-21 has no temperature
        temperature_range=None,
        supports_streaming=True,
        supports_prompt_cache=True,
        supports_images=True,
        supports_pdf=True,
        supports_web_search=True,
        supports_web_fetch=True,
        deprecated=deprecated,
    )


def _gpt(
    model_id: str,
    name: str,
    *,
    aliases: tuple[str, ...] = (),
    context: int = 1_050_000,
    output: int = 128_000,
    temperature: bool = False,
    deprecated: bool = False,
) -> ModelInfo:
    return ModelInfo(
        provider="openai",
        id=model_id,
        display_name=name,
        aliases=aliases,
        context_window=context,
        max_output_tokens=output,
        supports_tools=True,
        supports_temperature=temperature,
        temperature_range=(0.0, 2.0) if temperature else None,
        supports_streaming=True,
        supports_prompt_cache=True,  # OpenAI caches long prefixes automatically
        supports_images=True,
        supports_pdf=True,
        supports_web_search=True,
        supports_web_fetch=False,  # OpenAI has no fetch tool
        deprecated=deprecated,
    )


#: The most one request may carry, by provider, where the provider documents it: files go
#: inline as base64, so this bounds a step's images and PDFs. Anthropic: 32 MB on the
#: Messages API (its vision page; the PDF page says more, the lower figure is the safe one).
REQUEST_BYTES_LIMIT: dict[str, int] = {"anthropic": 32_000_000}
#: What a request carries besides its files (prompt, input, thread, JSON): kept free.
REQUEST_HEADROOM_BYTES = 1_000_000

# Ordered for display: newest/best first within each provider.
_CATALOG: tuple[ModelInfo, ...] = (
    # ---- Anthropic -----------------------------------------------------------
    _claude("claude-fable-5-2", "Claude Fable 5.2"),
    _claude("claude-opus-5-5", "Claude Opus 5.5"),
    _claude("claude-sonnet-5-5", "Claude Sonnet 5.5"),
    _claude("claude-haiku-5-5", "Claude Haiku 5.5"),
    _claude("claude-mythos-5-2", "Claude Mythos 5.2"),
    _claude("claude-fable-5-1", "Claude Fable 5.1"),
    _claude("claude-mythos-5-1", "Claude Mythos 5.1"),
    _claude("claude-fable-5", "Claude Fable 5"),
    _claude("claude-mythos-5", "Claude Mythos 5"),
    _claude("claude-opus-5", "Claude Opus 5"),
    _claude("claude-sonnet-5", "Claude Sonnet 5"),
    _claude("claude-opus-4-8", "Claude Opus 4.8"),
    _claude("claude-opus-4-7", "Claude Opus 4.7"),
    _claude("claude-opus-4-6", "Claude Opus 4.6"),
    _claude("claude-sonnet-4-6", "Claude Sonnet 4.6", output=64_000),
    _claude(
        "claude-haiku-4-5", "Claude Haiku 4.5", aliases=("claude-haiku-4-5-20251001",), context=200_000, output=64_000
    ),
    _claude(
        "claude-opus-4-5",
        "Claude Opus 4.5",
        aliases=("claude-opus-4-5-20251101",),
        context=200_000,
        output=64_000,
        deprecated=True,
    ),
    _claude(
        "claude-sonnet-4-5",
        "Claude Sonnet 4.5",
        aliases=("claude-sonnet-4-5-20250929",),
        context=200_000,
        output=64_000,
        deprecated=True,
    ),
    # ---- OpenAI --------------------------------------------------------------
    _gpt("gpt-6.2-astra", "GPT-6.2 Astra"),
    _gpt("gpt-6-astra", "GPT-6 Astra"),
    _gpt("gpt-6.2-sol", "GPT-6.2 Sol"),
    _gpt("gpt-6.1-sol", "GPT-6.1 Sol"),
    _gpt("gpt-6.1-terra", "GPT-6.1 Terra"),
    _gpt("gpt-6-sol", "GPT-6 Sol"),
    _gpt("gpt-6-luna", "GPT-6 Luna"),
    _gpt("gpt-5.6-sol", "GPT-5.6 Sol"),
    _gpt("gpt-5.6-terra", "GPT-5.6 Terra"),
    _gpt("gpt-5.6-luna", "GPT-5.6 Luna"),
    _gpt("gpt-5.5", "GPT-5.5", aliases=("gpt-5.5-2026-04-23",), context=1_000_000),
    _gpt("gpt-5.4", "GPT-5.4", aliases=("gpt-5.4-2026-03-05",)),
    _gpt("gpt-5.4-mini", "GPT-5.4 mini", aliases=("gpt-5.4-mini-2026-03-17",), context=400_000),
    _gpt("gpt-5.4-nano", "GPT-5.4 nano", aliases=("gpt-5.4-nano-2026-03-17",), context=400_000, deprecated=True),
    _gpt("gpt-5.2", "GPT-5.2", aliases=("gpt-5.2-2025-12-11",), context=400_000),
    _gpt(
        "gpt-4.1",
        "GPT-4.1",
        aliases=("gpt-4.1-2025-04-14",),
        context=1_047_576,
        output=32_768,
        temperature=True,
        deprecated=True,
    ),
    _gpt(
        "gpt-4.1-mini",
        "GPT-4.1 mini",
        aliases=("gpt-4.1-mini-2025-04-14",),
        context=1_047_576,
        output=32_768,
        temperature=True,
        deprecated=True,
    ),
    _gpt(
        "gpt-4o",
        "GPT-4o",
        aliases=("gpt-4o-2024-11-20", "gpt-4o-2024-08-06"),
        context=128_000,
        output=16_384,
        temperature=True,
        deprecated=True,
    ),
    _gpt(
        "gpt-4o-mini",
        "GPT-4o mini",
        aliases=("gpt-4o-mini-2024-07-18",),
        context=128_000,
        output=16_384,
        temperature=True,
        deprecated=True,
    ),
)

_INDEX: dict[tuple[str, str], ModelInfo] = {}
for _info in _CATALOG:
    for _name in (_info.id, *_info.aliases):
        _INDEX[(_info.provider, _name)] = _info

# Date suffixes providers append to snapshot ids.
_DATED = {
    "anthropic": re.compile(r"^(?P<base>.+)-\d{8}$"),
    "openai": re.compile(r"^(?P<base>.+)-\d{4}-\d{2}-\d{2}$"),
}

# Conservative defaults for a model we know nothing about: small output budget, no
# temperature (never an API error), tools and streaming assumed (every current chat
# model has them; a provider that refuses says so in a clear 400).
_DEFAULT_CONTEXT = {"anthropic": 200_000, "openai": 128_000}


def split_ref(ref: str) -> tuple[str, str]:
    provider, sep, model_id = ref.partition(":")
    if not sep or not provider or not model_id:
        raise ValueError(
            f"model reference {ref!r} must look like 'provider:model_id', e.g. 'anthropic:claude-sonnet-5-5'"
        )
    return provider, model_id


def find(provider: str, model_id: str) -> ModelInfo | None:
    """The catalog entry for a provider's model id, dated or not; None if unknown."""
    info = _INDEX.get((provider, model_id))
    if info is not None:
        return info
    pattern = _DATED.get(provider)
    if pattern is not None:
        m = pattern.match(model_id)
        if m is not None:
            return _INDEX.get((provider, m.group("base")))
    return None


def lookup(ref: str) -> ModelInfo | None:
    """``lookup("anthropic:claude-haiku-4-5-20251001")`` → the Claude Haiku 4.5 entry."""
    provider, model_id = split_ref(ref)
    return find(provider, model_id)


def display_name(ref: str) -> str:
    """The catalog's name for a model reference; the reference itself when the catalog does
    not know it or it is not a ``provider:model_id`` at all (what people read must not fail)."""
    try:
        info = lookup(ref) if ref else None
    except ValueError:
        info = None
    return info.display_name if info is not None else ref


def models_for(provider_id: str, *, include_deprecated: bool = True) -> list[ModelInfo]:
    """A provider's catalog models, newest/best first."""
    return [m for m in _CATALOG if m.provider == provider_id and (include_deprecated or not m.deprecated)]


def defaults_for(
    provider: str,
    model_id: str,
    *,
    display_name: str | None = None,
    context_window: int | None = None,
    max_output_tokens: int | None = None,
) -> ModelInfo:
    """Conservative capabilities for an id the catalog does not know."""
    return ModelInfo(
        provider=provider,
        id=model_id,
        display_name=display_name or model_id,
        context_window=context_window or _DEFAULT_CONTEXT.get(provider, 128_000),
        max_output_tokens=max_output_tokens or 4_096,
        supports_tools=True,
        supports_temperature=False,
        temperature_range=None,
        supports_streaming=True,
        supports_prompt_cache=False,
        known=False,
    )


def resolve(ref: str) -> ModelInfo:
    """Like ``lookup`` but never None: unknown ids get conservative defaults."""
    provider, model_id = split_ref(ref)
    return find(provider, model_id) or defaults_for(provider, model_id)


def from_listing(
    provider: str,
    model_id: str,
    *,
    display_name: str | None = None,
    context_window: int | None = None,
    max_output_tokens: int | None = None,
) -> ModelInfo:
    """A model the provider's live list reports: the catalog entry if known (the
    listed id may be dated: it is then the entry whose alias it is), else defaults
    enriched with whatever the provider reported."""
    info = find(provider, model_id)
    if info is not None:
        return info
    return defaults_for(
        provider,
        model_id,
        display_name=display_name,
        context_window=context_window,
        max_output_tokens=max_output_tokens,
    )


def dedupe(models: Iterable[ModelInfo]) -> list[ModelInfo]:
    """Drop repeats (an alias and its dated id listed side by side), keep order."""
    seen: set[tuple[str, str]] = set()
    out: list[ModelInfo] = []
    for m in models:
        key = (m.provider, m.id)
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out

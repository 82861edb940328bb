"""Provider ids, ``provider:model_id`` references, and the provider factory.

Building an SDK client costs about 30 ms (HTTP pool, TLS context), which would be
most of the time our layer adds to a call, so providers are cached per process and
per (provider, key, base_url, options). The process id is part of the key: a client
and its pooled connections must never be shared across a fork (RQ forks a work
horse per job).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .anthropic_provider import AnthropicProvider
from .base import Provider
from .openai_provider import OpenAIProvider

PROVIDER_IDS: tuple[str, ...] = ("anthropic", "openai")
PROVIDER_NAMES: dict[str, str] = {"anthropic": "Anthropic", "openai": "OpenAI"}

# Each class takes (api_key, *, base_url, timeout, max_attempts, **options).
_CLASSES: dict[str, Callable[..., Provider]] = {"anthropic": AnthropicProvider, "openai": OpenAIProvider}

_CACHE_SIZE = 64
_cache: OrderedDict[tuple[Any, ...], Provider] = OrderedDict()
_cache_lock = threading.Lock()


def parse_model_ref(ref: str) -> tuple[str, str]:
    """``"anthropic:claude-sonnet-5-5"`` → ``("anthropic", "claude-sonnet-5-5")``."""
    if not isinstance(ref, str) or ":" not in ref:
        raise ValueError(
            f"model reference {ref!r} must look like 'provider:model_id', "
            f"e.g. 'anthropic:claude-sonnet-5-5' (providers: {', '.join(PROVIDER_IDS)})"
        )
    provider_id, _, model_id = ref.partition(":")
    provider_id = provider_id.strip().lower()
    model_id = model_id.strip()
    if provider_id not in PROVIDER_IDS:
        raise ValueError(
            f"unknown provider {provider_id!r} in model reference {ref!r}; expected one of: {', '.join(PROVIDER_IDS)}"
        )
    if not model_id or any(ch.isspace() for ch in model_id):
        raise ValueError(f"model reference {ref!r} has no valid model id after '{provider_id}:'")
    return provider_id, model_id


def model_ref(provider_id: str, model_id: str) -> str:
    return f"{provider_id}:{model_id}"


def get_provider(
    provider_id: str,
    api_key: str,
    *,
    base_url: str | None = None,
    timeout: float = 60,
    max_attempts: int = 4,
    cache: bool = True,
    **options: Any,
) -> Provider:
    """A ready provider. ``base_url=None`` lets the SDK read ANTHROPIC_BASE_URL /
    OPENAI_BASE_URL itself. Extra ``options`` go to the provider class (e.g.
    ``sleep=`` for tests, ``max_retry_after=``, ``connect_timeout=``)."""
    cls = _CLASSES.get(provider_id)
    if cls is None:
        raise ValueError(f"unknown provider {provider_id!r}; expected one of: {', '.join(PROVIDER_IDS)}")
    if not api_key:
        raise ValueError(f"no API key given for {PROVIDER_NAMES[provider_id]}")
    if not cache or any(callable(v) for v in options.values()):
        # a callable option (e.g. an injected sleep) has no stable identity to cache on
        return cls(api_key, base_url=base_url, timeout=timeout, max_attempts=max_attempts, **options)
    env_url = os.environ.get("ANTHROPIC_BASE_URL" if provider_id == "anthropic" else "OPENAI_BASE_URL")
    key = (
        os.getpid(),
        provider_id,
        hashlib.sha256(api_key.encode()).hexdigest(),  # the key itself is not kept as a dict key
        base_url,
        env_url,
        timeout,
        max_attempts,
        tuple(sorted(options.items())),
    )
    with _cache_lock:
        provider = _cache.get(key)
        if provider is not None:
            _cache.move_to_end(key)
            return provider
    provider = cls(api_key, base_url=base_url, timeout=timeout, max_attempts=max_attempts, **options)
    with _cache_lock:
        _cache[key] = provider
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return provider

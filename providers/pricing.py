"""Cost of a call in USD, from genai-prices' bundled snapshot (never the network).

genai-prices' Usage convention matches ours: ``input_tokens`` includes cache reads
and writes, which it prices at their own rates. The price-data version returned
beside each cost lets a cost be recomputed or audited later; genai-prices exposes
no data version of its own, so it is the package version (plus the snapshot time
if someone switched on its auto-updater).

Server tool fees: web search is billed per request ($10 per 1,000 on both providers in the
snapshot, ``web_searches_kcount``), so ``Usage.web_searches`` goes into the calculation and
the cost includes it. Web fetch has no fee of its own (its pages are input tokens).
"""

from __future__ import annotations

import functools
import logging
import threading
from decimal import Decimal

import genai_prices
import genai_prices.data  # noqa: F401  - load the 1.6 MB snapshot at import, not on the first call
from genai_prices import data_snapshot

from .types import Usage

log = logging.getLogger("providers.pricing")

#: A fee that is known to be nothing (a fetch, a failed search).
ZERO = Decimal(0)

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def price_version() -> str:
    snapshot = data_snapshot.get_snapshot()
    version = f"genai-prices=={genai_prices.__version__}"
    if snapshot.from_auto_update:
        version += f"+snapshot@{snapshot.timestamp.isoformat(timespec='seconds')}"
    return version


def price(
    provider_id: str, model_id: str, usage: Usage, *, fallback_model_id: str | None = None
) -> tuple[Decimal | None, str | None]:
    """``(cost_usd, price_version)``; ``(None, version)`` with a warning when unpriced.

    ``fallback_model_id`` is tried when ``model_id`` is unknown to the price data
    (e.g. the provider answered with a snapshot id newer than the data).
    """
    gp_usage = genai_prices.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        web_searches=usage.web_searches,
    )
    version = price_version()
    for candidate in (model_id, fallback_model_id):
        if not candidate:
            continue
        try:
            calc = genai_prices.calc_price(gp_usage, candidate, provider_id=provider_id)
        except LookupError:
            continue
        except Exception as exc:  # price data quirks must never fail a model call
            log.warning("could not price %s:%s: %s", provider_id, candidate, exc)
            return None, version
        return calc.total_price, version
    key = (provider_id, model_id)
    with _warned_lock:
        first = key not in _warned
        _warned.add(key)
    if first:
        log.warning("no price data for %s:%s in %s; cost left unknown", provider_id, model_id, version)
    return None, version


@functools.lru_cache(maxsize=256)
def web_search_fee(provider_id: str, model_id: str) -> Decimal | None:
    """What one web search costs on this model beyond its tokens, from the same price data
    as the cost (so a call's fees add up to what ``price`` counted); None when unpriced."""
    cost, _ = price(provider_id, model_id, Usage(web_searches=1))
    return cost


def is_priced(provider_id: str, model_id: str) -> bool:
    try:
        data_snapshot.get_snapshot().find_provider_model(model_id, None, provider_id, None)
    except LookupError:
        return False
    return True


def warm(pairs: list[tuple[str, str]]) -> None:
    """Fill genai-prices' lookup cache (worth doing before forking workers)."""
    for provider_id, model_id in pairs:
        is_priced(provider_id, model_id)

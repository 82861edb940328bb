"""A pipeline's budget can only be kept for models whose price is known.

The executor adds each step's cost to what the run has spent and stops the run once the
budget is used up (core.preflight.budget_problem); a model with no price in the price data
(providers.pricing) has no cost to add, so a budget over it would never stop anything
while the pipeline modal promises it does. The rule is asked in two places: when a
pipeline with a budget is saved (core.pipelines.validate, shown on the modal's budget
field) and before a run starts (core.preflight.check, which the executor asks again when
it claims the run: an agent's model may have changed since the budget was set).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from core import messages
from providers.pricing import is_priced
from providers.registry import parse_model_ref


def unpriced_models(model_refs: Iterable[str]) -> list[str]:
    """The model references among ``model_refs`` with no known price, each once, in order.
    A reference that does not parse is left to the checks that name bad models."""
    missing: list[str] = []
    for ref in model_refs:
        try:
            provider_id, model_id = parse_model_ref(ref)
        except ValueError:
            continue
        if ref not in missing and not is_priced(provider_id, model_id):
            missing.append(ref)
    return missing


def unpriced_budget_problem(budget: Decimal | None, model_refs: Iterable[str]) -> str | None:
    """Why ``budget`` cannot be kept over these models (naming those without a price), or None."""
    if budget is None:
        return None
    missing = unpriced_models(model_refs)
    return messages.unpriced_budget(missing) if missing else None

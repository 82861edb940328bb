"""Provider keys: one per provider per workspace, checked with the provider before saving,
falling back to the deployment-wide key from the environment.

Why the fallback is limited: with ``SLACK_BOT_TOKEN`` the deployment serves one workspace,
whose operator pays for those keys. In multi-workspace OAuth mode anyone could install the
app, so the deployment's keys serve only the teams in ``PIPEBOT_FALLBACK_KEY_TEAMS``
(core.settings.Settings.fallback_keys_serve); every other workspace brings its own."""

from __future__ import annotations

from core.context import AppContext
from core.errors import ValidationFailed
from core.timings import KEY_CHECK_TIMEOUT_S
from providers.errors import ErrorKind, ProviderError
from providers.registry import PROVIDER_IDS, PROVIDER_NAMES, get_provider
from storage.db import Session
from storage.repos import credentials as credential_repo


def deployment_key(ctx: AppContext, provider: str, team_id: str) -> str | None:
    """The deployment's key for ``provider`` if it serves ``team_id``, else None."""
    return _raw_deployment_key(ctx, provider) if ctx.settings.fallback_keys_serve(team_id) else None


def _raw_deployment_key(ctx: AppContext, provider: str) -> str | None:
    return {"anthropic": ctx.settings.ANTHROPIC_API_KEY, "openai": ctx.settings.OPENAI_API_KEY}.get(provider)


def base_url(ctx: AppContext, provider: str) -> str | None:
    return {"anthropic": ctx.settings.ANTHROPIC_BASE_URL, "openai": ctx.settings.OPENAI_BASE_URL}.get(provider)


def effective_key(s: Session, ctx: AppContext, team_id: str, provider: str) -> str | None:
    return credential_repo.get_credential(s, team_id, provider, ctx.box) or deployment_key(ctx, provider, team_id)


def available_providers(s: Session, ctx: AppContext, team_id: str) -> list[str]:
    stored = credential_repo.credential_hints(s, team_id)
    return [p for p in PROVIDER_IDS if p in stored or deployment_key(ctx, p, team_id)]


def describe(s: Session, ctx: AppContext, team_id: str) -> dict[str, str]:
    """What the settings modal may show: never the key, only whether and how it is set."""
    hints = credential_repo.credential_hints(s, team_id)
    out = {}
    for p in PROVIDER_IDS:
        if p in hints:
            out[p] = f"configured, ends in …{hints[p]}" if hints[p] else "configured"
        elif deployment_key(ctx, p, team_id):
            out[p] = "using the deployment-wide key"
        elif _raw_deployment_key(ctx, p):
            out[p] = "not configured (the deployment-wide key does not serve this workspace)"
        else:
            out[p] = "not configured"
    return out


def check_key(ctx: AppContext, provider: str, key: str, *, field: str) -> None:
    """Ask the provider whether the key works; raise ValidationFailed keyed by the modal field."""
    name = PROVIDER_NAMES[provider]
    key = key.strip()
    if any(c.isspace() for c in key) or len(key) < 8:
        raise ValidationFailed({field: f"That does not look like an {name} API key. Paste the whole key."})
    try:
        get_provider(
            provider, key, base_url=base_url(ctx, provider), timeout=KEY_CHECK_TIMEOUT_S, max_attempts=2
        ).validate_key()
    except ProviderError as exc:
        if exc.kind in (ErrorKind.AUTH, ErrorKind.PERMISSION):
            raise ValidationFailed(
                {field: f"{name} rejected this key ({exc.kind.value}). Check it and paste it again."}
            ) from None
        raise ValidationFailed(
            {field: f"Could not check the key with {name} right now ({exc.kind.value}). Try again in a minute."}
        ) from None


def save_key(s: Session, ctx: AppContext, team_id: str, provider: str, key: str, user_id: str | None) -> None:
    credential_repo.set_credential(s, team_id, provider, key.strip(), ctx.box, user_id)


def run_keys(s: Session, ctx: AppContext, team_id: str) -> dict[str, str | None]:
    """provider -> the key a run of this workspace uses (its own, else the deployment's), for
    every provider, in one statement."""
    stored = credential_repo.stored_keys(s, team_id, ctx.box)
    return {p: stored.get(p) or deployment_key(ctx, p, team_id) for p in PROVIDER_NAMES}

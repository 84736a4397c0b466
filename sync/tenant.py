"""The tenant the catalogue acts for must be the repo config's.

An embedded catalogue acts for the configured tenant by construction.  A remote one acts
for its API key's tenant, which the ScaiPersona API names only in what it publishes: a
published persona's model is ``tenant/{tenant_slug}/{persona_slug}``.  A key of another
tenant would otherwise never converge: every plan wants the models under the configured
tenant, every apply republishes them under the key's.
"""

from __future__ import annotations

from collections.abc import Iterable

from personas_as_code.schemas.errors import TenantMismatch

_PREFIX = "tenant/"


def tenant_of_model(model_slug: str) -> str | None:
    """The tenant slug of a published persona's model slug, or None for other models."""
    parts = model_slug.split("/")
    return parts[1] if len(parts) == 3 and model_slug.startswith(_PREFIX) and parts[1] else None


def check_tenant(configured: str, published_model_slugs: Iterable[str]) -> None:
    """``TenantMismatch`` when a model the catalogue published for this caller belongs to
    a tenant other than ``configured`` (the key's tenant is then that one)."""
    for slug in published_model_slugs:
        actual = tenant_of_model(slug)
        if actual is not None and actual != configured:
            raise TenantMismatch(
                f"the catalogue's API key acts for tenant '{actual}' but personas.toml says "
                f"tenant = '{configured}'; use a key of tenant '{configured}' or set "
                f"tenant = '{actual}'",
                details={"configured_tenant": configured, "key_tenant": actual},
            )

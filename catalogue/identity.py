"""Who is calling the catalogue: a tenant's caller, from a tenant slug (the embedded
catalogue) or a bearer API key (the REST app).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

from personas_as_code.catalogue.db import ApiKey, Tenant
from personas_as_code.schemas.errors import Unauthorized
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

Role = Literal["tenant_admin", "partner_admin", "super_admin"]


@dataclass(frozen=True)
class Caller:
    """Who is calling: their tenant (personas live there), partner and role."""

    tenant_id: str
    tenant_slug: str
    role: Role = "tenant_admin"
    partner_id: str | None = None


def hash_key(api_key: str) -> str:
    """The stored form of an API key (sha256 hex; keys are high-entropy)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def caller_for_tenant(session: Session, tenant_slug: str, role: Role = "tenant_admin") -> Caller:
    """The caller acting for ``tenant_slug`` (the embedded catalogue's identity)."""
    tenant = (
        session.execute(select(Tenant).where(col(Tenant.slug) == tenant_slug)).scalars().first()
    )
    if tenant is None:
        raise Unauthorized(f"unknown tenant {tenant_slug!r}")
    return Caller(tenant.id, tenant.slug, role, tenant.partner_id)


def authenticate(session: Session, api_key: str | None) -> Caller:
    """Resolve a bearer API key to its caller; ``Unauthorized`` when unknown."""
    if not api_key:
        raise Unauthorized("missing bearer token")
    row = session.execute(
        select(ApiKey, Tenant)
        .join(Tenant, col(Tenant.id) == col(ApiKey.tenant_id))
        .where(col(ApiKey.key_hash) == hash_key(api_key))
    ).first()
    if row is None:
        raise Unauthorized("invalid API key")
    key, tenant = row
    return Caller(tenant.id, tenant.slug, key.role, tenant.partner_id)  # type: ignore[arg-type]

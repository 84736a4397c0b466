"""The starter set: a tenant, its partner, API keys, models and groups.

Everything here is idempotent, so ``personas catalogue init`` can run any
number of times.  Opening a catalogue (``open_for_tenant``) seeds only a
brand-new local SQLite file; it never writes a tenant or groups into an
existing catalogue.

Group ids: ``mg_global_public`` (global) exists once per database;
``mg_partner_shared`` (partner scope) belongs to the first partner seeded,
later partners get ``mg_partner_shared_<partner>``; the tenant groups
``mg_internal_chat``, ``mg_qa`` and ``mg_support`` belong to the first tenant
seeded in a database, later tenants get ``<id>_<tenant_slug>`` (hyphens
become underscores), e.g. ``mg_qa_other_team``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Literal

from personas_as_code.catalogue.db import (
    ROLES,
    ApiKey,
    BackendModelRow,
    FrontendModelRow,
    ModelBackendLink,
    ModelGroupMember,
    ModelGroupRow,
    Partner,
    Tenant,
    create_schema,
    new_id,
    sqlite_path,
)
from personas_as_code.catalogue.identity import hash_key
from personas_as_code.catalogue.locks import bootstrap_lock
from personas_as_code.schemas.errors import CatalogueNotInitialised, UnknownTenant
from personas_as_code.schemas.fields import SLUG_RE
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

DEFAULT_PARTNER = "default"


@dataclass(frozen=True)
class StarterModel:
    """One starter frontend model and the backend it dispatches to."""

    slug: str
    display_name: str
    context_window: int
    provider: str
    capabilities: dict[str, Any]
    pricing: dict[str, Any]


_CHAT = {"streaming": True, "tool_use": True, "vision": False}
STARTER_MODELS: tuple[StarterModel, ...] = (
    StarterModel(
        "scaigrid/gpt-4o",
        "GPT-4o",
        128000,
        "openai",
        {**_CHAT, "vision": True},
        {"input_per_mtok": 2.5, "output_per_mtok": 10.0, "currency": "USD"},
    ),
    StarterModel(
        "scaigrid/gpt-4o-mini",
        "GPT-4o mini",
        128000,
        "openai",
        {**_CHAT, "vision": True},
        {"input_per_mtok": 0.15, "output_per_mtok": 0.6, "currency": "USD"},
    ),
    StarterModel(
        "scaigrid/claude-sonnet-4",
        "Claude Sonnet 4",
        200000,
        "anthropic",
        {**_CHAT, "vision": True},
        {"input_per_mtok": 3.0, "output_per_mtok": 15.0, "currency": "USD"},
    ),
    StarterModel(
        "scaigrid/llama-3.1-8b",
        "Llama 3.1 8B",
        8192,
        "vllm",
        dict(_CHAT),
        {"input_per_mtok": 0.05, "output_per_mtok": 0.08, "currency": "USD"},
    ),
    StarterModel(
        "scaigrid/mistral-large",
        "Mistral Large",
        32000,
        "mistral",
        dict(_CHAT),
        {"input_per_mtok": 2.0, "output_per_mtok": 6.0, "currency": "USD"},
    ),
)
TENANT_GROUPS: tuple[tuple[str, str], ...] = (
    ("mg_internal_chat", "Internal chat"),
    ("mg_qa", "QA"),
    ("mg_support", "Support"),
)
PARTNER_GROUP = ("mg_partner_shared", "Partner shared")
GLOBAL_GROUP = ("mg_global_public", "Global public")


def _suffix(slug: str) -> str:
    return slug.replace("-", "_")


def ensure_partner(session: Session, slug: str = DEFAULT_PARTNER) -> Partner:
    """The partner with ``slug``, created when missing."""
    partner = session.execute(select(Partner).where(col(Partner.slug) == slug)).scalars().first()
    if partner is None:
        partner = Partner(id=f"ptn_{_suffix(slug)}", slug=slug)
        session.add(partner)
        session.flush()
    return partner


def ensure_tenant(session: Session, slug: str, partner_slug: str = DEFAULT_PARTNER) -> Tenant:
    """The tenant with ``slug`` (under ``partner_slug``), created when missing."""
    if not SLUG_RE.match(slug):
        raise ValueError(f"tenant slug {slug!r} is not a valid slug (a-z, 0-9, hyphens)")
    tenant = session.execute(select(Tenant).where(col(Tenant.slug) == slug)).scalars().first()
    if tenant is None:
        partner = ensure_partner(session, partner_slug)
        tenant = Tenant(id=new_id("ten"), slug=slug, partner_id=partner.id)
        session.add(tenant)
        session.flush()
    return tenant


def ensure_models(session: Session) -> None:
    """The starter frontend models, each with a backend model and link (global)."""
    for m in STARTER_MODELS:
        if session.execute(
            select(col(FrontendModelRow.id)).where(col(FrontendModelRow.slug) == m.slug)
        ).first():
            continue
        name = m.slug.split("/", 1)[1]
        backend = BackendModelRow(
            id=new_id("bm"),
            slug=f"{m.provider}/{name}",
            provider_type=m.provider,
            # offline until personas.toml [backends] points it at a provider (catalogue.backends)
            connection_config={"provider": "mirror", "model": name},
        )
        front = FrontendModelRow(
            id=f"fm_{_suffix(name).replace('.', '_')}",
            slug=m.slug,
            display_name=m.display_name,
            modality="text",
            capabilities=dict(m.capabilities),
            context_window=m.context_window,
            pricing=dict(m.pricing),
            default_params={},
            metadata_={"starter": True},
        )
        session.add_all([backend, front])
        session.flush()
        session.add(ModelBackendLink(frontend_model_id=front.id, backend_model_id=backend.id))
    session.flush()


def _ensure_group(session: Session, base_id: str, name: str, **owner: Any) -> ModelGroupRow:
    """A group owned as ``owner`` says; ``base_id`` when free, else a suffixed id."""
    q = select(ModelGroupRow).where(ModelGroupRow.scope == owner["scope"])
    for key in ("partner_id", "tenant_id"):
        q = q.where(getattr(ModelGroupRow, key) == owner.get(key))
    for group in session.execute(q).scalars():
        if group.id == base_id or group.id.startswith(base_id + "_"):
            return group
    gid = base_id
    if session.get(ModelGroupRow, gid) is not None:
        gid = f"{base_id}_{owner.get('suffix')}"
    group = ModelGroupRow(
        id=gid,
        name=name,
        scope=owner["scope"],
        partner_id=owner.get("partner_id"),
        tenant_id=owner.get("tenant_id"),
    )
    session.add(group)
    session.flush()
    return group


def ensure_groups(session: Session, tenant: Tenant) -> None:
    """The starter groups of the tenant, its partner and the global one."""
    public = _ensure_group(session, *GLOBAL_GROUP, scope="global")
    partner = session.get(Partner, tenant.partner_id) if tenant.partner_id else None
    if partner is not None:
        _ensure_group(
            session, *PARTNER_GROUP, scope="partner", partner_id=partner.id, suffix=partner.slug
        )
    for gid, name in TENANT_GROUPS:
        _ensure_group(
            session, gid, name, scope="tenant", tenant_id=tenant.id, suffix=_suffix(tenant.slug)
        )
    members = {
        mid
        for (mid,) in session.execute(
            select(col(ModelGroupMember.frontend_model_id)).where(
                col(ModelGroupMember.group_id) == public.id
            )
        ).all()
    }
    for m in STARTER_MODELS:
        fid = session.execute(
            select(col(FrontendModelRow.id)).where(col(FrontendModelRow.slug) == m.slug)
        ).scalar()
        if fid and fid not in members:
            session.add(ModelGroupMember(group_id=public.id, frontend_model_id=fid))
    session.flush()


def seed_starter(session: Session, tenant_slug: str, partner_slug: str = DEFAULT_PARTNER) -> Tenant:
    """Tenant, starter models and groups (idempotent); commits."""
    tenant = ensure_tenant(session, tenant_slug, partner_slug)
    ensure_models(session)
    ensure_groups(session, tenant)
    session.commit()
    return tenant


def new_api_key() -> str:
    """A fresh high-entropy API key value."""
    return "sk_per_" + secrets.token_urlsafe(32)


def add_api_key(
    session: Session, tenant: Tenant, role: str = "tenant_admin", api_key: str | None = None
) -> str:
    """Register an API key for ``tenant`` with ``role``; return its value.

    Stores only the sha256.  Registering a given ``api_key`` that exists is a
    no-op (its role is not changed).
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    value = api_key or new_api_key()
    digest = hash_key(value)
    if session.execute(select(col(ApiKey.id)).where(col(ApiKey.key_hash) == digest)).first():
        return value
    session.add(ApiKey(id=new_id("key"), key_hash=digest, tenant_id=tenant.id, role=role))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
    return value


def init_tenant(
    engine: Engine, tenant_slug: str, role: str = "tenant_admin", api_key: str | None = None
) -> str:
    """``personas catalogue init``: ``bootstrap`` with ``tenant_slug``, then an API key
    for it (``add_api_key``); return the key's value."""
    tenant = bootstrap(engine, tenant_slug)
    assert tenant is not None
    with Session(engine, expire_on_commit=False) as session:
        return add_api_key(session, tenant, role, api_key)


def _bootstrap_locked(engine: Engine, tenant_slug: str | None) -> Tenant | None:
    create_schema(engine)
    if tenant_slug is None:
        return None
    with Session(engine, expire_on_commit=False) as session:
        return seed_starter(session, tenant_slug)


def bootstrap(engine: Engine, tenant_slug: str | None = None) -> Tenant | None:
    """Create the schema and, given a tenant, seed the starter set.

    Idempotent and safe when several processes do it at once (serialised by
    ``catalogue.locks.bootstrap_lock``).  This is ``personas catalogue init``;
    opening a catalogue goes through ``open_for_tenant``, which never seeds an
    existing one.
    """
    with bootstrap_lock(engine):
        return _bootstrap_locked(engine, tenant_slug)


CatalogueShape = Literal["blank", "foreign", "no_tenants", "other_tenants", "has_tenant"]


def catalogue_shape(engine: Engine, tenant_slug: str) -> CatalogueShape:
    """What the database holds: no tables at all, tables that are not a catalogue's, a
    catalogue without tenants, one with other tenants only, or one with ``tenant_slug``."""
    tables = set(inspect(engine).get_table_names())
    if not tables:
        return "blank"
    if Tenant.__tablename__ not in tables:
        return "foreign"
    with Session(engine) as session:
        if session.execute(select(col(Tenant.id)).where(col(Tenant.slug) == tenant_slug)).first():
            return "has_tenant"
        if session.execute(select(col(Tenant.id)).limit(1)).first() is None:
            return "no_tenants"
    return "other_tenants"


def _init_command(engine: Engine, tenant_slug: str) -> str:
    url = engine.url.render_as_string(hide_password=True)
    return f"`personas catalogue init --database '{url}' --tenant {tenant_slug}`"


def _tenants(engine: Engine, limit: int = 5) -> list[str]:
    with Session(engine) as session:
        return list(
            session.execute(
                select(col(Tenant.slug)).order_by(col(Tenant.slug)).limit(limit)
            ).scalars()
        )


def open_for_tenant(engine: Engine, tenant_slug: str) -> None:
    """Get the catalogue at ``engine`` ready for ``tenant_slug`` without writing to an
    existing catalogue.

    Only a brand-new local SQLite catalogue -- a file with no tables yet, or with the
    catalogue's tables but no tenant at all -- is created and seeded on first use (what
    the first ``personas plan`` on a fresh clone needs).  Anywhere else a missing tenant
    is ``UnknownTenant`` and a database without the catalogue's tables is
    ``CatalogueNotInitialised``, both naming the ``personas catalogue init`` command.
    An existing catalogue that has the tenant gets only its missing tables or columns.
    Serialised by ``bootstrap_lock``, so processes opening a new file at once agree.
    """
    with bootstrap_lock(engine):
        shape = catalogue_shape(engine, tenant_slug)
        if shape == "has_tenant":
            create_schema(engine)  # an older version's catalogue gains new tables/columns
            return
        brand_new = shape in ("blank", "no_tenants") and sqlite_path(str(engine.url)) is not None
        if brand_new:
            _bootstrap_locked(engine, tenant_slug)
            return
        if shape in ("blank", "foreign"):
            raise CatalogueNotInitialised(
                f"the database {engine.url.render_as_string(hide_password=True)} holds no "
                "personas catalogue, and only a new local SQLite catalogue is created on first "
                f"use; create this one with {_init_command(engine, tenant_slug)}",
                details={"tenant": tenant_slug},
            )
        others = _tenants(engine)
        holds = f"it holds {', '.join(others)}" if others else "it holds no tenant"
        raise UnknownTenant(
            f"tenant '{tenant_slug}' is not in the catalogue at "
            f"{engine.url.render_as_string(hide_password=True)} ({holds}); reading never "
            "creates one: check [repo] tenant in personas.toml, or create it with "
            f"{_init_command(engine, tenant_slug)}",
            details={"tenant": tenant_slug, "tenants": others},
        )

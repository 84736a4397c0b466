"""Tables and engine of the embedded catalogue (SQLModel; SQLite or PostgreSQL).

Personas and sources carry an integer ``pk`` (autoincrement) besides their
public string id: it gives creation order and the key of the cursor
pagination, which stays stable under concurrent inserts.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_type_hints

import personas_as_code.catalogue.simulated_user_tables  # noqa: F401  (registers the test-persona tables)
from personas_as_code.catalogue.api import PersonaBase, Stored
from personas_as_code.catalogue.defaults import DEFAULT_DATABASE_URL, ROLES  # noqa: F401  (re-exported)
from pydantic import BaseModel
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    LargeBinary,
    UniqueConstraint,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import make_url
from sqlmodel import AutoString, Field, SQLModel, create_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000

SCOPES = ("global", "partner", "tenant")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A random public id such as ``per_3f9a...``."""
    return f"{prefix}_{secrets.token_hex(8)}"


def _json(**kw: Any) -> Any:
    return Field(default=None, sa_column=Column(JSON, **kw))


def _ts() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class Partner(SQLModel, table=True):
    """A partner (reseller) owning tenants."""

    __tablename__ = "partners"
    id: str = Field(primary_key=True)
    slug: str = Field(unique=True, index=True)


class Tenant(SQLModel, table=True):
    """A tenant; personas and tenant-scoped groups belong to one."""

    __tablename__ = "tenants"
    id: str = Field(primary_key=True)
    slug: str = Field(unique=True, index=True)
    partner_id: str | None = Field(default=None, foreign_key="partners.id")


class ApiKey(SQLModel, table=True):
    """A bearer API key, stored as the sha256 of its value, with a role."""

    __tablename__ = "api_keys"
    id: str = Field(primary_key=True)
    key_hash: str = Field(unique=True, index=True)
    tenant_id: str = Field(foreign_key="tenants.id", index=True)
    role: str = "tenant_admin"
    created_at: datetime = _ts()


class FrontendModelRow(SQLModel, table=True):
    """A model callers address by slug; publish creates one per persona."""

    __tablename__ = "frontend_models"
    id: str = Field(primary_key=True)
    slug: str = Field(unique=True, index=True)
    display_name: str
    modality: str = "text"
    capabilities: dict[str, Any] | None = _json()
    context_window: int | None = None
    pricing: dict[str, Any] | None = _json()
    system_prompt_template: str | None = None
    avatar_url: str | None = None
    default_params: dict[str, Any] | None = _json()
    metadata_: dict[str, Any] | None = Field(default=None, sa_column=Column("metadata", JSON))
    tenant_id: str | None = Field(default=None, foreign_key="tenants.id", index=True)
    created_at: datetime = _ts()
    # published personas: the frontend model they wrap (capabilities and backend links
    # were copied from it); None for the catalogue's own models
    base_model_slug: str | None = None


class BackendModelRow(SQLModel, table=True):
    """A concrete provider model that frontend models dispatch to."""

    __tablename__ = "backend_models"
    id: str = Field(primary_key=True)
    slug: str = Field(unique=True, index=True)
    provider_type: str
    connection_config: dict[str, Any] | None = _json()


class ModelBackendLink(SQLModel, table=True):
    """Frontend model → backend model, with a dispatch priority."""

    __tablename__ = "model_backends"
    frontend_model_id: str = Field(
        primary_key=True, foreign_key="frontend_models.id", ondelete="CASCADE"
    )
    backend_model_id: str = Field(primary_key=True, foreign_key="backend_models.id")
    priority: int = 0


class ModelGroupRow(SQLModel, table=True):
    """A model group with a scope: ``global``, ``partner`` or ``tenant``."""

    __tablename__ = "model_groups"
    id: str = Field(primary_key=True)
    name: str
    scope: str
    partner_id: str | None = Field(default=None, foreign_key="partners.id")
    tenant_id: str | None = Field(default=None, foreign_key="tenants.id")


class ModelGroupMember(SQLModel, table=True):
    """Membership of a frontend model in a group."""

    __tablename__ = "model_group_members"
    group_id: str = Field(primary_key=True, foreign_key="model_groups.id", ondelete="CASCADE")
    frontend_model_id: str = Field(
        primary_key=True, foreign_key="frontend_models.id", ondelete="CASCADE"
    )


class _PersonaKeys(SQLModel):
    """The keys a persona row leads with (a base listed last, so they come first)."""

    pk: int | None = Field(default=None, primary_key=True)
    id: str = Field(unique=True, index=True)
    tenant_id: str = Field(foreign_key="tenants.id", index=True)


_COLUMN_TYPES = {"text": AutoString, "json": JSON}


def _columns_of(model: type[BaseModel]) -> type[SQLModel]:
    """A SQLModel base with a column of each of ``model``'s fields: its type, its default,
    and the column type and nullability its ``api.Stored`` marker names."""
    hints = get_type_hints(model, include_extras=True)
    namespace: dict[str, Any] = {"__annotations__": {}}
    for name, info in model.model_fields.items():
        column: dict[str, Any] = {}
        stored = next((m for m in info.metadata if isinstance(m, Stored)), None)
        if stored is not None:
            column["sa_type"] = _COLUMN_TYPES[stored.kind]
            if stored.nullable is not None:
                column["nullable"] = stored.nullable
        if info.default_factory is not None:
            column["default_factory"] = info.default_factory
        elif not info.is_required():
            column["default"] = info.default
        namespace["__annotations__"][name] = hints[name]
        namespace[name] = Field(**column)
    return type(f"{model.__name__}Columns", (SQLModel,), namespace)


if TYPE_CHECKING:  # a type checker sees the fields as PersonaBase declares them
    _PersonaColumns = PersonaBase
else:
    _PersonaColumns = _columns_of(PersonaBase)


class PersonaRow(_PersonaColumns, _PersonaKeys, table=True):
    """A persona of one tenant; ``(tenant_id, slug)`` is unique.  Its persona columns are
    ``api.PersonaBase``'s fields."""

    __tablename__ = "personas"
    __table_args__ = (UniqueConstraint("tenant_id", "slug", name="uq_persona_tenant_slug"),)
    metadata_: dict[str, Any] | None = Field(default=None, sa_column=Column("metadata", JSON))
    published: bool = False
    published_model_id: str | None = None
    avatar_url: str | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class SourceRow(SQLModel, table=True):
    """A knowledge source of a persona; ``(persona, source_type, source_id)`` is unique."""

    __tablename__ = "persona_sources"
    __table_args__ = (
        UniqueConstraint("persona_pk", "source_type", "source_id", name="uq_source_identity"),
    )
    pk: int | None = Field(default=None, primary_key=True)
    id: str = Field(unique=True, index=True)
    persona_pk: int = Field(foreign_key="personas.pk", index=True, ondelete="CASCADE")
    source_type: str
    source_id: str
    source_name: str | None = None
    weight: float = 1.0
    search_config: dict[str, Any] | None = _json()
    status: str = "active"
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class AvatarRow(SQLModel, table=True):
    """The avatar bytes of a persona (one per persona)."""

    __tablename__ = "avatars"
    persona_pk: int = Field(primary_key=True, foreign_key="personas.pk", ondelete="CASCADE")
    content_type: str
    sha256: str
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: datetime = _ts()


class LockRow(SQLModel, table=True):
    """A named lock held by one owner until it expires (used on SQLite)."""

    __tablename__ = "catalogue_locks"
    name: str = Field(primary_key=True)
    owner: str
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


def normalise_url(url: str) -> str:
    """Select the psycopg 3 driver for ``postgresql://`` / ``postgres://`` URLs."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def is_postgres(engine_or_url: Engine | str) -> bool:
    """Whether an engine or URL points at PostgreSQL."""
    name = (
        engine_or_url.dialect.name
        if isinstance(engine_or_url, Engine)
        else make_url(normalise_url(engine_or_url)).get_backend_name()
    )
    return name == "postgresql"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None for in-memory / non-SQLite URLs."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def make_engine(url: str | None = None) -> Engine:
    """An engine for ``url`` (default: ``.personas/catalogue.db`` under the cwd).

    SQLite gets WAL, a busy timeout and foreign keys; its directory is created.
    """
    url = normalise_url(url or DEFAULT_DATABASE_URL)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=16,
            max_overflow=16,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if make_url(url).get_backend_name() == "sqlite":
        raise ValueError("in-memory SQLite is not supported; use a file URL")
    return create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    """Create every table that does not exist yet, and add nullable columns that a
    catalogue made by an earlier version lacks (the only schema change so far)."""
    from personas_as_code.knowledge_index.store import create_knowledge_tables  # numpy: lazily

    SQLModel.metadata.create_all(engine)
    _add_missing_columns(engine)
    create_knowledge_tables(engine)


def _add_missing_columns(engine: Engine) -> None:
    inspector = inspect(engine)
    for table in SQLModel.metadata.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in have or not column.nullable:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            with engine.begin() as conn:
                conn.execute(text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'))

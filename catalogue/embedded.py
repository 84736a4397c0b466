"""``EmbeddedCatalogue``: the ``Catalogue`` protocol in-process, on SQLModel.

It calls the same ``catalogue.service`` functions as the REST app, with one
database session per call, so it is safe to share across threads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Literal, TypeVar

from personas_as_code.catalogue import service
from personas_as_code.catalogue.api import (
    FrontendModel,
    ModelGroup,
    Page,
    Persona,
    PersonaCreate,
    PersonaUpdate,
    Source,
    SourceCreate,
    SourceUpdate,
)
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.locks import named_lock
from personas_as_code.catalogue.protocol import MODEL_PAGE_SIZE, iter_all_personas, models_matching
from personas_as_code.catalogue.seed import open_for_tenant
from personas_as_code.catalogue.service import Caller, Role
from sqlalchemy import Engine
from sqlalchemy.orm import Session

R = TypeVar("R")


class EmbeddedCatalogue:
    """A tenant's view of an embedded catalogue database (no HTTP)."""

    def __init__(
        self,
        engine: Engine,
        tenant: str,
        *,
        role: Role = "tenant_admin",
        owns_engine: bool = False,
    ) -> None:
        self.engine = engine
        self.tenant = tenant
        self._owns_engine = owns_engine
        with Session(engine) as session:
            self.caller: Caller = service.caller_for_tenant(session, tenant, role)

    @classmethod
    def open(
        cls, database_url: str | None, tenant: str, *, role: Role = "tenant_admin"
    ) -> EmbeddedCatalogue:
        """Open the catalogue at ``database_url`` as ``tenant``.

        A brand-new local SQLite file is created and seeded (schema, tenant, starter
        set); an existing catalogue is only read: ``UnknownTenant`` when it lacks
        ``tenant`` (see ``catalogue.seed.open_for_tenant``).
        """
        engine = make_engine(database_url)
        try:
            open_for_tenant(engine, tenant)
            return cls(engine, tenant, role=role, owns_engine=True)
        except BaseException:
            engine.dispose()
            raise

    def _run(self, fn: Callable[..., R], *args: object, **kwargs: object) -> R:
        with Session(self.engine, expire_on_commit=False) as session:
            return fn(session, self.caller, *args, **kwargs)

    @property
    def tenant_id(self) -> str:
        """The tenant's id (what the knowledge index and retrieval are keyed by)."""
        return self.caller.tenant_id

    # --- personas ---

    def list_personas(
        self, *, limit: int = 100, cursor: str | None = None, order: Literal["asc", "desc"] = "asc"
    ) -> Page[Persona]:
        """One page of personas (sources inline)."""
        return self._run(service.list_personas, limit=limit, cursor=cursor, order=order)

    def iter_personas(self, *, page_size: int = 200) -> Iterator[Persona]:
        """Every persona of the tenant, following cursors."""
        return iter_all_personas(self, page_size)

    def get_persona(self, persona_id: str) -> Persona:
        return self._run(service.get_persona, persona_id)

    def create_persona(self, body: PersonaCreate) -> Persona:
        return self._run(service.create_persona, body)

    def update_persona(self, persona_id: str, body: PersonaUpdate) -> Persona:
        return self._run(service.update_persona, persona_id, body)

    def delete_persona(self, persona_id: str) -> None:
        self._run(service.delete_persona, persona_id)

    def publish_persona(self, persona_id: str, group_ids: list[str] | None = None) -> Persona:
        return self._run(service.publish_persona, persona_id, group_ids)

    def unpublish_persona(self, persona_id: str) -> Persona:
        return self._run(service.unpublish_persona, persona_id)

    # --- sources ---

    def list_sources(self, persona_id: str) -> list[Source]:
        return self._run(service.list_sources, persona_id)

    def add_source(self, persona_id: str, body: SourceCreate) -> Source:
        return self._run(service.add_source, persona_id, body)

    def update_source(self, persona_id: str, source_id: str, body: SourceUpdate) -> Source:
        return self._run(service.update_source, persona_id, source_id, body)

    def delete_source(self, persona_id: str, source_id: str) -> None:
        self._run(service.delete_source, persona_id, source_id)

    # --- avatars ---

    def upload_avatar(self, persona_id: str, data: bytes, content_type: str) -> str:
        """Upload an avatar; return its ``avatar_url``."""
        return self._run(service.upload_avatar, persona_id, data, content_type)

    def get_avatar(self, persona_id: str) -> tuple[bytes, str]:
        """The avatar's bytes and content type."""
        with Session(self.engine) as session:
            data, content_type, _sha = service.get_avatar(session, persona_id)
        return data, content_type

    # --- models ---

    def list_models_page(
        self,
        *,
        limit: int = MODEL_PAGE_SIZE,
        cursor: str | None = None,
        slugs: Sequence[str] = (),
        ids: Sequence[str] = (),
    ) -> Page[FrontendModel]:
        """One page of the models the caller sees (only those matching ``slugs``/``ids``)."""
        return self._run(service.list_models, limit=limit, cursor=cursor, slugs=slugs, ids=ids)

    def list_models(
        self, *, slugs: Iterable[str] | None = None, ids: Iterable[str] | None = None
    ) -> list[FrontendModel]:
        """Every model the caller sees, or only those matching ``slugs``/``ids``."""
        return models_matching(self, slugs, ids)

    def list_model_groups(self) -> list[ModelGroup]:
        return self._run(service.list_model_groups)

    def get_model(self, slug: str) -> FrontendModel:
        return self._run(service.get_model, slug)

    # --- extras ---

    def lock(
        self, name: str, *, ttl_seconds: float = 3600.0
    ) -> contextlib.AbstractContextManager[str]:
        """A DB-level lock held for a ``with`` block; raises ``LockHeld`` if taken."""
        return named_lock(self.engine, name, ttl_seconds=ttl_seconds)

    def close(self) -> None:
        """Release the engine when this catalogue opened it."""
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> EmbeddedCatalogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""``EmbeddedCatalogue``: the ``Catalogue`` protocol in-process, on SQLModel.

It calls the same service functions as the REST app (``catalogue.personas`` and its
siblings), with one database session per call, so it is safe to share across threads.
Runs and model calls go to the backends of the model in this database (through a tree's
``[backends]`` where the run gives them); the knowledge index, the backend models,
the test personas and the apply lock are in the same database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Literal, TypeVar

from personas_as_code.catalogue import (
    avatars,
    frontend_models,
    identity,
    persona_sources,
    personas,
    publishing,
)
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
from personas_as_code.catalogue.calls import (
    AnsweredBy,
    CallAnswer,
    KnowledgeIndex,
    ModelCall,
    PersonaRun,
)
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.identity import Caller, Role
from personas_as_code.catalogue.locks import named_lock
from personas_as_code.catalogue.protocol import MODEL_PAGE_SIZE, iter_all_personas, models_matching
from personas_as_code.catalogue.seed import open_for_tenant
from personas_as_code.inference.completion import ChatUsage
from sqlalchemy import Engine
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from personas_as_code.catalogue.backends import BackendModels
    from personas_as_code.catalogue.simulated_user_store import SimulatedUserStore
    from personas_as_code.inference.chat import ChatCall

R = TypeVar("R")


class EmbeddedCatalogue:
    """A tenant's view of an embedded catalogue database (no HTTP)."""

    tree_retrieval_note: str | None = None
    """Nothing to add: this catalogue's runs retrieve only with the retriever given."""

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
            self.caller: Caller = identity.caller_for_tenant(session, tenant, role)

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
        return self._run(personas.list_personas, limit=limit, cursor=cursor, order=order)

    def iter_personas(self, *, page_size: int = 200) -> Iterator[Persona]:
        """Every persona of the tenant, following cursors."""
        return iter_all_personas(self, page_size)

    def get_persona(self, persona_id: str) -> Persona:
        return self._run(personas.get_persona, persona_id)

    def create_persona(self, body: PersonaCreate) -> Persona:
        return self._run(personas.create_persona, body)

    def update_persona(self, persona_id: str, body: PersonaUpdate) -> Persona:
        return self._run(personas.update_persona, persona_id, body)

    def delete_persona(self, persona_id: str) -> None:
        self._run(personas.delete_persona, persona_id)

    def publish_persona(self, persona_id: str, group_ids: list[str] | None = None) -> Persona:
        return self._run(publishing.publish_persona, persona_id, group_ids)

    def unpublish_persona(self, persona_id: str) -> Persona:
        return self._run(publishing.unpublish_persona, persona_id)

    # --- sources ---

    def list_sources(self, persona_id: str) -> list[Source]:
        return self._run(persona_sources.list_sources, persona_id)

    def add_source(self, persona_id: str, body: SourceCreate) -> Source:
        return self._run(persona_sources.add_source, persona_id, body)

    def update_source(self, persona_id: str, source_id: str, body: SourceUpdate) -> Source:
        return self._run(persona_sources.update_source, persona_id, source_id, body)

    def delete_source(self, persona_id: str, source_id: str) -> None:
        self._run(persona_sources.delete_source, persona_id, source_id)

    # --- avatars ---

    def upload_avatar(self, persona_id: str, data: bytes, content_type: str) -> str:
        """Upload an avatar; return its ``avatar_url``."""
        return self._run(avatars.upload_avatar, persona_id, data, content_type)

    def get_avatar(self, persona_id: str) -> tuple[bytes, str]:
        """The avatar's bytes and content type."""
        with Session(self.engine) as session:
            data, content_type, _sha = avatars.get_avatar(session, persona_id)
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
        return self._run(
            frontend_models.list_models, limit=limit, cursor=cursor, slugs=slugs, ids=ids
        )

    def list_models(
        self, *, slugs: Iterable[str] | None = None, ids: Iterable[str] | None = None
    ) -> list[FrontendModel]:
        """Every model the caller sees, or only those matching ``slugs``/``ids`` (read
        in one query a few hundred values, however many: no list read whole)."""
        if slugs is None and ids is None:
            return models_matching(self, None, None)
        return self._run(frontend_models.matching_models, slugs or (), ids or ())

    def list_model_groups(self) -> list[ModelGroup]:
        return self._run(frontend_models.list_model_groups)

    def get_model(self, slug: str) -> FrontendModel:
        return self._run(frontend_models.get_model, slug)

    # --- runs and model calls ---
    # (the chat use case, the backend models and the test-persona store are imported
    # when first called: opening a catalogue to plan needs none of them)

    def run_persona(self, run: PersonaRun) -> CallAnswer:
        """Enrich for ``run.profile`` and call the backends of base model ``run.model`` as
        this database links them, configured as the run's tree says (``run.backends``);
        retrieval is the run's own retriever, never this catalogue's index."""
        from personas_as_code.catalogue.backends import tree_backend_configs
        from personas_as_code.catalogue.chat import prepare_persona_run

        configs = tree_backend_configs(run.backends, run.root)
        call = prepare_persona_run(
            self.engine,
            self.caller,
            run.profile,
            run.model,
            run.messages,
            run.params,
            retriever=run.retriever,
            system_prompt_override=run.system_prompt_override,
            no_retrieval_reason=run.no_retrieval_reason,
            backend_configs=configs,
        )
        return self._answer(call)

    def call_model(self, call: ModelCall) -> CallAnswer:
        """Call the backends of ``call.model`` (configured as ``call.backends`` says) with
        the messages as they are; there is no request, so ``call.headers`` go nowhere."""
        from personas_as_code.catalogue.chat import prepare_model_call

        return self._answer(
            prepare_model_call(
                self.engine,
                self.caller,
                call.model,
                call.messages,
                backends=call.backends,
                root=call.root,
            )
        )

    @staticmethod
    def _answer(call: ChatCall) -> CallAnswer:
        from personas_as_code.inference.chat import complete

        answer = complete(call).answer
        return CallAnswer(
            catalogue="embedded",
            content=answer.content,
            finish_reason=answer.finish_reason,
            usage=ChatUsage(**answer.usage.to_dict()),
            backend=AnsweredBy(**answer.backend.to_dict()),
            params=call.params,
            enrichment=call.enrichment,
            notes=call.notes,
        )

    # --- what else lives in the database ---

    def backend_models(self) -> BackendModels:
        """The backend models of this database (global to its tenants, as in ScaiGrid)."""
        from personas_as_code.catalogue.backends import BackendModels

        return BackendModels(self.engine)

    def knowledge_index(self) -> KnowledgeIndex:
        """The tenant's knowledge index, in this database."""
        return KnowledgeIndex(self.engine, self.tenant_id)

    def simulated_user_store(self, project: str) -> SimulatedUserStore:
        """Project ``project`` of the test personas kept in this database."""
        from personas_as_code.catalogue.simulated_user_store import EmbeddedSimulatedUsers

        return EmbeddedSimulatedUsers(self.engine, self.caller, project)

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

"""The chat use case of the embedded catalogue: resolve a model slug for a caller,
enrich for a published persona, and pick the backends that answer.

* A published persona's model (``tenant/<t>/<slug>``, the caller's tenant only)
  runs the persona enricher (``inference.enricher``) with retrieval over the
  tenant's knowledge index, then dispatches to the backends of the base model it
  wraps.
* Any other frontend model the caller sees dispatches directly, its own
  ``default_params`` under the request's.
* An unknown model, another tenant's, or a ``tenant/...`` model that is no
  longer published is ``ModelNotFound`` (404 ``PERSONA_MODEL_NOT_FOUND``).
* A persona that is not published (a repo file or a draft: ``prepare_persona_run``)
  runs on its base model's backends with the retriever the caller gives (the
  knowledge of the tree it comes from), not over this catalogue's index.

Backends come from the model's backend links in priority order (lowest
``priority`` first, then slug); each backend model's ``connection_config`` says
its provider (``mirror`` until ``personas apply`` configures it, see
``catalogue.backends``), and an ``api_key_env`` is read from the environment of
the process at call time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personas_as_code.catalogue.backends import stored_settings, tree_backend_configs
from personas_as_code.catalogue.db import (
    BackendModelRow,
    FrontendModelRow,
    ModelBackendLink,
    PersonaRow,
    SourceRow,
)
from personas_as_code.catalogue.identity import Caller
from personas_as_code.catalogue.persona_mapping import enricher_profile
from personas_as_code.catalogue.records import find_visible_model
from personas_as_code.inference.backends import Backend, make_backend
from personas_as_code.inference.chat import ChatCall
from personas_as_code.inference.enricher import (
    PersonaProfile,
    Retriever,
    enrich,
    merge_params,
)
from personas_as_code.inference.messages import ChatMessage
from personas_as_code.knowledge_index.retrieval import Retrieval, SourceRef, retrieve
from personas_as_code.schemas.config import BackendSettings
from personas_as_code.schemas.errors import (
    CatalogueError,
    ModelNotFound,
    PersonasError,
    RetrievalFailed,
)
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session
from sqlmodel import col


@dataclass
class ChatRequest:
    """What a caller asks: a model slug, the conversation and params."""

    model: str
    messages: list[ChatMessage]
    params: dict[str, Any] = field(default_factory=dict)


def _not_found(slug: str, why: str) -> ModelNotFound:
    return ModelNotFound(f"model {slug!r} {why}", details={"model": slug})


# the statements of a chat's lookups, built once (building one per call cost more than
# running it)
_BACKENDS_OF = (
    select(BackendModelRow)
    .join(ModelBackendLink, col(ModelBackendLink.backend_model_id) == col(BackendModelRow.id))
    .where(col(ModelBackendLink.frontend_model_id) == bindparam("model_id"))
    .order_by(col(ModelBackendLink.priority), col(BackendModelRow.slug))
)

_PUBLISHED_AS = (
    select(PersonaRow, SourceRow)
    .outerjoin(SourceRow, col(SourceRow.persona_pk) == col(PersonaRow.pk))
    .where(
        col(PersonaRow.tenant_id) == bindparam("tenant_id"),
        col(PersonaRow.published_model_id) == bindparam("model_id"),
        col(PersonaRow.published).is_(True),
    )
    .order_by(col(SourceRow.pk))
)


def visible_model(session: Session, caller: Caller, slug: str) -> FrontendModelRow:
    """The frontend model ``slug`` as the caller sees it (global or its tenant's)."""
    if "\x00" in slug:
        raise _not_found(slug, "does not exist")
    row = find_visible_model(session, caller, slug)
    if row is None:
        raise _not_found(slug, "does not exist or is not published for this tenant")
    return row


def model_backends(
    session: Session,
    model: FrontendModelRow,
    env: Mapping[str, str] | None = None,
    configs: Mapping[str, Mapping[str, Any]] | None = None,
    notes: list[str] | None = None,
) -> list[Backend]:
    """The backends of ``model`` in priority order (lowest first, then slug).

    ``configs`` (backend model slug -> provider settings, as ``[backends]`` of a tree's
    ``personas.toml`` asks for them) win over what the catalogue stores: a run of a tree
    under test uses that tree's backends, applied or not.  Where one differs from the
    stored settings, a line saying so is added to ``notes``."""
    rows = session.execute(_BACKENDS_OF, {"model_id": model.id}).scalars()
    configs = configs or {}
    backends = []
    for row in rows:
        config = configs.get(row.slug)
        if config is None:
            config = row.connection_config
        elif notes is not None and dict(config) != stored_settings(row.connection_config):
            notes.append(
                f"backend {row.slug}: as personas.toml [backends] of the tree under test "
                "configures it (the catalogue has other settings until the next apply)"
            )
        backends.append(make_backend(row.slug, config, env=env))
    return backends


def persona_profile(row: PersonaRow, sources: Sequence[SourceRow]) -> PersonaProfile:
    """What the enricher needs of a catalogue persona."""
    return enricher_profile(row, sources, stored=True)


def index_retriever(engine: Engine, tenant_id: str) -> Retriever:
    """Retrieval over the tenant's knowledge index in the catalogue database."""

    def run(sources: Sequence[SourceRef], query: str, **options: Any) -> Retrieval:
        try:
            return retrieve(engine, tenant_id, sources, query, **options)
        except CatalogueError:
            raise
        except PersonasError as exc:  # e.g. the index's embeddings endpoint is down
            raise RetrievalFailed(
                f"retrieval failed: {exc.message}", details={"cause": exc.code}
            ) from exc

    return run


def _published_persona(
    session: Session, caller: Caller, model: FrontendModelRow
) -> tuple[PersonaRow, list[SourceRow]] | None:
    """The persona published as ``model`` with its sources (one query), or None for a
    catalogue model; ``ModelNotFound`` for a tenant model no persona is published as."""
    if model.tenant_id is None:
        return None
    rows = session.execute(
        _PUBLISHED_AS, {"tenant_id": caller.tenant_id, "model_id": model.id}
    ).all()
    if not rows:
        raise _not_found(model.slug, "is not a published persona of this tenant")
    return rows[0][0], [source for _, source in rows if source is not None]


@dataclass
class ChatTarget:
    """A chat call resolved for its caller, before any enrichment: the request, the
    backends of its model, and the persona published as it (None for a plain model,
    whose ``default_params`` then go under the request's)."""

    request: ChatRequest
    tenant_id: str
    backends: list[Backend]
    profile: PersonaProfile | None = None
    default_params: Mapping[str, Any] = field(default_factory=dict)


def resolve_chat(
    engine: Engine, caller: Caller, request: ChatRequest, *, env: Mapping[str, str] | None = None
) -> ChatTarget:
    """The model of ``request`` as ``caller`` sees it, its persona and backends
    (``ModelNotFound`` for a model the caller cannot call); the database only."""
    env = os.environ if env is None else env
    with Session(engine) as session:
        model = visible_model(session, caller, request.model)
        found = _published_persona(session, caller, model)
        backends = model_backends(session, model, env)
        if found is None:
            return ChatTarget(
                request, caller.tenant_id, backends, default_params=model.default_params or {}
            )
        persona, sources = found
        profile = persona_profile(persona, sources)
    return ChatTarget(request, caller.tenant_id, backends, profile)


def enrich_chat(engine: Engine, target: ChatTarget) -> ChatCall:
    """The call ready to dispatch: for a persona, the enricher with retrieval over the
    tenant's knowledge index (the slow part: it may call an embeddings endpoint)."""
    request = target.request
    if target.profile is None:
        params = merge_params(target.default_params, request.params)
        return ChatCall(request.model, list(request.messages), params, target.backends)
    retriever = index_retriever(engine, target.tenant_id)
    enrichment = enrich(target.profile, request.messages, request.params, retriever)
    return ChatCall(
        request.model,
        enrichment.messages,
        enrichment.params,
        target.backends,
        enrichment=enrichment,
        notes=list(enrichment.notes),
    )


def prepare_chat(
    engine: Engine, caller: Caller, request: ChatRequest, *, env: Mapping[str, str] | None = None
) -> ChatCall:
    """Resolve ``request.model`` for ``caller`` into a call ready to dispatch."""
    return enrich_chat(engine, resolve_chat(engine, caller, request, env=env))


def prepare_model_call(
    engine: Engine,
    caller: Caller,
    model: str,
    messages: Sequence[ChatMessage],
    *,
    backends: Mapping[str, BackendSettings] | None = None,
    root: Path | None = None,
) -> ChatCall:
    """A plain call to frontend model ``model`` as ``caller`` sees it, on its backends
    (those ``backends``, a tree's ``[backends]``, configures as that tree says; ``root``:
    the repo a ``local`` backend's relative ``model_path`` is under).  No persona is
    enriched and no params are sent, whatever the model is."""
    with Session(engine) as session:
        row = visible_model(session, caller, model)
        found = model_backends(session, row, configs=tree_backend_configs(backends, root))
    return ChatCall(model, list(messages), {}, found)


def prepare_persona_run(
    engine: Engine,
    caller: Caller,
    profile: PersonaProfile,
    base_model: str,
    messages: Sequence[ChatMessage],
    params: Mapping[str, Any],
    *,
    retriever: Retriever | None,
    system_prompt_override: str | None = None,
    env: Mapping[str, str] | None = None,
    no_retrieval_reason: str = "no knowledge retrieval was given for this run",
    backend_configs: Mapping[str, Mapping[str, Any]] | None = None,
) -> ChatCall:
    """A call for a persona that is not (necessarily) published -- a repo file or a
    draft -- on the backends of ``base_model``, retrieving with ``retriever`` (the
    knowledge of the tree the persona comes from, not this catalogue's index) and
    calling the backends as ``backend_configs`` (that tree's ``[backends]``) set them."""
    env = os.environ if env is None else env
    backend_notes: list[str] = []
    with Session(engine) as session:
        model = visible_model(session, caller, base_model)
        backends = model_backends(session, model, env, backend_configs, backend_notes)
    enrichment = enrich(
        profile,
        messages,
        params,
        retriever,
        system_prompt_override=system_prompt_override,
        no_retrieval_reason=no_retrieval_reason,
    )
    return ChatCall(
        base_model,
        enrichment.messages,
        enrichment.params,
        backends,
        enrichment=enrichment,
        notes=[*enrichment.notes, *backend_notes],
    )

"""The ``Catalogue`` protocol: the sync engine's only view of a catalogue.

Two implementations: ``catalogue.embedded.EmbeddedCatalogue`` (in-process,
SQLModel) and ``catalogue.client.HttpCatalogue`` (httpx, a remote ScaiPersona
API or our own REST app).  Both raise the typed errors of ``schemas.errors``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, Protocol, runtime_checkable

from catalogue.api import (
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


@runtime_checkable
class Catalogue(Protocol):
    """Persona CRUD, publish, sources, avatars and the model list of one tenant."""

    def list_personas(
        self, *, limit: int = 100, cursor: str | None = None, order: Literal["asc", "desc"] = "asc"
    ) -> Page[Persona]: ...

    def iter_personas(self, *, page_size: int = 200) -> Iterator[Persona]:
        """Every persona of the tenant, following cursors."""
        ...

    def get_persona(self, persona_id: str) -> Persona: ...

    def create_persona(self, body: PersonaCreate) -> Persona: ...

    def update_persona(self, persona_id: str, body: PersonaUpdate) -> Persona: ...

    def delete_persona(self, persona_id: str) -> None: ...

    def publish_persona(self, persona_id: str, group_ids: list[str] | None = None) -> Persona: ...

    def unpublish_persona(self, persona_id: str) -> Persona: ...

    def list_sources(self, persona_id: str) -> list[Source]: ...

    def add_source(self, persona_id: str, body: SourceCreate) -> Source: ...

    def update_source(self, persona_id: str, source_id: str, body: SourceUpdate) -> Source: ...

    def delete_source(self, persona_id: str, source_id: str) -> None: ...

    def upload_avatar(self, persona_id: str, data: bytes, content_type: str) -> str:
        """Upload an avatar; return its ``avatar_url``."""
        ...

    def get_avatar(self, persona_id: str) -> tuple[bytes, str]:
        """The avatar's bytes and content type."""
        ...

    def list_models(self) -> list[FrontendModel]: ...

    def list_model_groups(self) -> list[ModelGroup]: ...

    def close(self) -> None: ...


def iter_all_personas(catalogue: Catalogue, page_size: int) -> Iterator[Persona]:
    """Every persona of ``catalogue``'s tenant, following cursors page by page."""
    cursor: str | None = None
    while True:
        page = catalogue.list_personas(limit=page_size, cursor=cursor)
        yield from page.items
        if not page.has_more or not page.next_cursor:
            return
        cursor = page.next_cursor

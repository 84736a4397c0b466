"""The ``Catalogue`` protocol: the sync engine's only view of a catalogue.

Two implementations: ``catalogue.embedded.EmbeddedCatalogue`` (in-process,
SQLModel) and ``catalogue.client.HttpCatalogue`` (httpx, a remote ScaiPersona
API or our own REST app).  Both raise the typed errors of ``schemas.errors``.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from typing import Literal, Protocol, runtime_checkable

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
from personas_as_code.schemas.errors import PaginationRunaway


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

    def get_model(self, slug: str) -> FrontendModel:
        """One frontend model with its groups and backend links (``ModelNotFound``)."""
        ...

    def close(self) -> None: ...


MAX_CATALOGUE_PERSONAS = 100_000
"""The most personas one tenant's catalogue may list: beyond it, paging is runaway."""


def max_pages(page_size: int) -> int:
    """The page limit for ``page_size``: enough for ``MAX_CATALOGUE_PERSONAS`` even when
    a server answers pages half as long as asked."""
    return 2 * -(-MAX_CATALOGUE_PERSONAS // max(1, page_size)) + 1


def iter_all_personas(catalogue: Catalogue, page_size: int) -> Iterator[Persona]:
    """Every persona of ``catalogue``'s tenant, following cursors page by page.

    A server that repeats a cursor, answers more than ``MAX_CATALOGUE_PERSONAS``
    personas or more than ``max_pages(page_size)`` pages is refused with
    ``PaginationRunaway``, so a broken or hostile catalogue cannot loop forever.
    """
    cursor: str | None = None
    seen: set[bytes] = set()  # digests: a hostile server's cursors may be long
    count = 0
    limit = max_pages(page_size)
    for pages in itertools.count(1):
        page = catalogue.list_personas(limit=page_size, cursor=cursor)
        count += len(page.items)
        if count > MAX_CATALOGUE_PERSONAS:
            raise PaginationRunaway(
                f"the catalogue listed more than {MAX_CATALOGUE_PERSONAS:,} personas; "
                "refusing to read further",
                details={"pages": pages, "personas": count},
            )
        yield from page.items
        if not page.has_more or not page.next_cursor:
            return
        cursor = page.next_cursor
        digest = hashlib.sha256(cursor.encode("utf-8", "replace")).digest()
        if digest in seen:
            raise PaginationRunaway(
                f"the catalogue answered the cursor {cursor[:80]!r} twice (page {pages}): "
                "its paging loops; refusing to read further",
                details={"pages": pages, "personas": count},
            )
        if pages >= limit:
            raise PaginationRunaway(
                f"the catalogue is still paging after {pages:,} pages of {page_size}; "
                "refusing to read further",
                details={"pages": pages, "personas": count},
            )
        seen.add(digest)

"""The ``Catalogue`` protocol: the only view of a catalogue code outside this package has.

Two implementations: ``catalogue.embedded.EmbeddedCatalogue`` (in-process,
SQLModel) and ``catalogue.client.HttpCatalogue`` (httpx, a remote ScaiPersona
API or our own REST app).  Both raise the typed errors of ``schemas.errors``.

Besides the ScaiPersona API (personas, sources, avatars, models) a catalogue offers
what the tools built on it need: a persona run and a plain model call, its backend
models, its knowledge index, its test personas and a lock for apply.  Where the two
differ (a remote ScaiGrid shows no backend models and keeps its own index; retrieval
for a run happens here and the context travels to its ``/v1/inference/chat``), each
implementation says so in its own code: callers call, they never ask which
catalogue they hold (``tests/catalogue/test_protocol_only.py`` enforces it).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar, runtime_checkable

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
from personas_as_code.catalogue.calls import CallAnswer, KnowledgeIndex, ModelCall, PersonaRun
from personas_as_code.schemas.errors import PaginationRunaway

if TYPE_CHECKING:
    from personas_as_code.catalogue.backends import BackendModels
    from personas_as_code.catalogue.simulated_user_store import SimulatedUserStore

T = TypeVar("T")


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

    def list_models_page(
        self,
        *,
        limit: int = 200,
        cursor: str | None = None,
        slugs: Sequence[str] = (),
        ids: Sequence[str] = (),
    ) -> Page[FrontendModel]:
        """One page of the models the caller sees, keyed on slug; with ``slugs`` or
        ``ids``, only the models matching one of them (a server may ignore the filter)."""
        ...

    def list_models(
        self, *, slugs: Iterable[str] | None = None, ids: Iterable[str] | None = None
    ) -> list[FrontendModel]:
        """Every model the caller sees, following cursors; with ``slugs`` or ``ids``, only
        the models matching one of them, in a few small requests (``models_matching``)."""
        ...

    def list_model_groups(self) -> list[ModelGroup]: ...

    def get_model(self, slug: str) -> FrontendModel:
        """One frontend model with its groups and backend links (``ModelNotFound``)."""
        ...

    # --- what the tools built on a catalogue call; each implementation in its own way ---

    tree_retrieval_note: str | None
    """What a run that retrieved over a tree's knowledge adds about this catalogue: None
    for the embedded one; for a remote, that its own collections were not searched."""

    def run_persona(self, run: PersonaRun) -> CallAnswer:
        """Enrich ``run.profile`` and send the call to its base model's backends; nothing
        is published or persisted (``personas run``, a persona test's turn)."""
        ...

    def call_model(self, call: ModelCall) -> CallAnswer:
        """One plain call to frontend model ``call.model`` (a simulated user's turn)."""
        ...

    def backend_models(self) -> BackendModels | None:
        """The catalogue's backend models, to read and configure; None where the catalogue
        does not show them (a remote ScaiGrid configures its own)."""
        ...

    def knowledge_index(self) -> KnowledgeIndex | None:
        """Where the catalogue keeps its knowledge index, for apply to write; None where
        the catalogue indexes its own collections (a remote ScaiGrid)."""
        ...

    def simulated_user_store(self, project: str) -> SimulatedUserStore:
        """Project ``project`` of the test-personas API this catalogue serves."""
        ...

    def lock(
        self, name: str, *, ttl_seconds: float = 3600.0
    ) -> contextlib.AbstractContextManager[str]:
        """The lock ``name`` held for a ``with`` block (``LockHeld`` if taken), so that two
        applies do not interleave."""
        ...

    def close(self) -> None: ...


MAX_CATALOGUE_PERSONAS = 100_000
"""The most personas one tenant's catalogue may list: beyond it, paging is runaway."""


def max_pages(page_size: int) -> int:
    """The page limit for ``page_size``: enough for ``MAX_CATALOGUE_PERSONAS`` even when
    a server answers pages half as long as asked."""
    return 2 * -(-MAX_CATALOGUE_PERSONAS // max(1, page_size)) + 1


MODEL_PAGE_SIZE = 200
"""The page size ``list_models`` reads the model list in."""
MODEL_FILTER_CHUNK = 100
"""The most slugs and ids ``models_matching`` sends as a filter (the query string stays
short); beyond, it reads the list whole."""


def iter_all_personas(catalogue: Catalogue, page_size: int) -> Iterator[Persona]:
    """Every persona of ``catalogue``'s tenant, following cursors page by page
    (``iter_pages``)."""
    return iter_pages(
        lambda cursor: catalogue.list_personas(limit=page_size, cursor=cursor), page_size
    )


def iter_pages(
    fetch: Callable[[str | None], Page[T]], page_size: int, what: str = "personas"
) -> Iterator[T]:
    """Every item of a cursor-paginated list, ``fetch(cursor)`` page by page.

    A server that repeats a cursor, answers more than ``MAX_CATALOGUE_PERSONAS``
    items or more than ``max_pages(page_size)`` pages is refused with
    ``PaginationRunaway``, so a broken or hostile catalogue cannot loop forever.
    """
    cursor: str | None = None
    seen: set[bytes] = set()  # digests: a hostile server's cursors may be long
    count = 0
    limit = max_pages(page_size)
    for pages in itertools.count(1):
        page = fetch(cursor)
        count += len(page.items)
        if count > MAX_CATALOGUE_PERSONAS:
            raise PaginationRunaway(
                f"the catalogue listed more than {MAX_CATALOGUE_PERSONAS:,} {what}; "
                "refusing to read further",
                details={"pages": pages, what: count},
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
                details={"pages": pages, what: count},
            )
        if pages >= limit:
            raise PaginationRunaway(
                f"the catalogue is still paging after {pages:,} pages of {page_size}; "
                "refusing to read further",
                details={"pages": pages, what: count},
            )
        seen.add(digest)


def all_models(catalogue: Catalogue) -> list[FrontendModel]:
    """Every model the caller sees, following cursors (a server that does not page
    answers the whole list at once, which is one page)."""
    return list(
        iter_pages(
            lambda cursor: catalogue.list_models_page(limit=MODEL_PAGE_SIZE, cursor=cursor),
            MODEL_PAGE_SIZE,
            "models",
        )
    )


def models_matching(
    catalogue: Catalogue, slugs: Iterable[str] | None, ids: Iterable[str] | None
) -> list[FrontendModel]:
    """The models whose slug is in ``slugs`` or id in ``ids`` (``list_models``).

    Up to ``MODEL_FILTER_CHUNK`` values go to the server as a filter, in one request.
    More (the published models of a large tenant) would take more requests than the
    list itself, which holds only global models and the tenant's own: it is read whole
    and filtered here.  So is the list of a server that ignores the filter (it answers
    a model outside it), so the answer is right either way.
    """
    if slugs is None and ids is None:
        return all_models(catalogue)
    want_slugs, want_ids = set(slugs or ()), set(ids or ())
    if not want_slugs and not want_ids:
        return []
    if len(want_slugs) + len(want_ids) > MODEL_FILTER_CHUNK:
        return [m for m in all_models(catalogue) if m.slug in want_slugs or m.id in want_ids]
    found: dict[str, FrontendModel] = {}
    for model in iter_pages(
        lambda cursor: catalogue.list_models_page(
            limit=MODEL_PAGE_SIZE, cursor=cursor, slugs=sorted(want_slugs), ids=sorted(want_ids)
        ),
        MODEL_PAGE_SIZE,
        "models",
    ):
        if model.slug not in want_slugs and model.id not in want_ids:
            # the server ignored the filter: read the list once, filter it here
            return [m for m in all_models(catalogue) if m.slug in want_slugs or m.id in want_ids]
        found[model.id] = model
    return sorted(found.values(), key=lambda m: m.slug)

"""``HttpCatalogue``: the ``Catalogue`` protocol over a ScaiPersona REST API (httpx).

Retries: 429/502/503/504 and connection failures are retried with
exponential backoff and jitter, honouring ``Retry-After``, within a bounded
number of attempts and total time (``RetryPolicy``).  A non-idempotent POST
is never re-sent blindly: when it may have reached the server (the
connection dropped after sending, or a 502/504), the client re-reads the
catalogue to find out whether it took effect (``create_persona``: the slug;
``add_source``: ``(source_type, source_id)``; ``unpublish``: the persona's
state) and only re-sends when it did not.  Error envelopes become the typed
exceptions of ``schemas.errors``.

Runs and model calls go to the server's ``POST /v1/inference/chat``.  For a persona
run the enrichment, retrieval included, happens here (over the tree's knowledge the
run brings) and the enriched messages travel with the base model: the server's own
collections are not searched.  The server shows no backend models and keeps its own
knowledge index, and has no lock API: a lock is a no-op here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote

import httpx
from personas_as_code.catalogue.api import (
    API_PREFIX,
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
from personas_as_code.catalogue.calls import KnowledgeIndex
from personas_as_code.catalogue.protocol import MODEL_PAGE_SIZE, iter_all_personas, models_matching
from personas_as_code.catalogue.remote_chat import RemoteChat
from personas_as_code.catalogue.simulated_user_store import HttpSimulatedUsers, SimulatedUserStore
from personas_as_code.schemas.errors import ConfigError, PersonaNotFound, SourceNotFound
from personas_as_code.schemas.fields import AVATAR_MIME_BY_EXTENSION, slugify
from pydantic import BaseModel

if TYPE_CHECKING:
    from personas_as_code.catalogue.backends import BackendModels

M = TypeVar("M", bound=BaseModel)
_EXT_BY_MIME = {mime: ext for ext, mime in AVATAR_MIME_BY_EXTENSION.items()}


class HttpCatalogue(RemoteChat):
    """A tenant's catalogue reached over HTTP with a bearer API key.

    ``request_count`` counts every HTTP attempt (retries included).
    """

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> HttpCatalogue:
        """Build from ``SCAIGRID_HOST`` and ``SCAIGRID_API_KEY``."""
        env = os.environ if env is None else env
        host, key = env.get("SCAIGRID_HOST"), env.get("SCAIGRID_API_KEY")
        if not host or not key:
            raise ConfigError("SCAIGRID_HOST and SCAIGRID_API_KEY must both be set")
        return cls(host, key, **kwargs)

    # --- helpers ---

    def _p(self, path: str) -> str:
        return API_PREFIX + path

    @staticmethod
    def _persona(resp: httpx.Response) -> Persona:
        return Persona.model_validate(resp.json()["data"])

    @staticmethod
    def _source(resp: httpx.Response) -> Source:
        return Source.model_validate(resp.json()["data"])

    # --- personas ---

    def list_personas(
        self, *, limit: int = 100, cursor: str | None = None, order: Literal["asc", "desc"] = "asc"
    ) -> Page[Persona]:
        """One page of personas (sources inline when the server provides them)."""
        params: dict[str, Any] = {"limit": max(1, min(limit, 200)), "order": order}
        if cursor:
            params["cursor"] = cursor

        return self._call("GET", self._p("/personas"), params=params, parse=_page_of(Persona))

    def iter_personas(self, *, page_size: int = 200) -> Iterator[Persona]:
        """Every persona of the tenant, following cursors."""
        return iter_all_personas(self, page_size)

    def get_persona(self, persona_id: str) -> Persona:
        return self._call("GET", self._p(f"/personas/{persona_id}"), parse=self._persona)

    def create_persona(self, body: PersonaCreate) -> Persona:
        slug = body.slug or slugify(body.name)

        def reconcile() -> Persona | None:
            for p in self.iter_personas():
                if p.slug == slug and p.name == body.name and p.model_slug == body.model_slug:
                    return p
            return None

        return self._call(
            "POST",
            self._p("/personas"),
            json=body.model_dump(mode="json", exclude_unset=True),
            parse=self._persona,
            idempotent=False,
            reconcile=reconcile,
        )

    def update_persona(self, persona_id: str, body: PersonaUpdate) -> Persona:
        return self._call(
            "PUT",
            self._p(f"/personas/{persona_id}"),
            json=body.model_dump(mode="json", exclude_none=True),
            parse=self._persona,
        )

    def delete_persona(self, persona_id: str) -> None:
        self._call(
            "DELETE",
            self._p(f"/personas/{persona_id}"),
            parse=lambda _r: None,
            gone_ok=PersonaNotFound,
        )

    def publish_persona(self, persona_id: str, group_ids: list[str] | None = None) -> Persona:
        # Publish is idempotent on the server: a repeat returns the current state.
        body = {"group_ids": group_ids} if group_ids is not None else None
        return self._call(
            "POST", self._p(f"/personas/{persona_id}/publish"), json=body, parse=self._persona
        )

    def unpublish_persona(self, persona_id: str) -> Persona:
        def reconcile() -> Persona | None:
            current = self.get_persona(persona_id)
            return None if current.published else current

        return self._call(
            "POST",
            self._p(f"/personas/{persona_id}/unpublish"),
            parse=self._persona,
            idempotent=False,
            reconcile=reconcile,
        )

    # --- sources ---

    def list_sources(self, persona_id: str) -> list[Source]:
        return self._call(
            "GET",
            self._p(f"/personas/{persona_id}/sources"),
            parse=lambda r: [Source.model_validate(s) for s in r.json()["data"]],
        )

    def add_source(self, persona_id: str, body: SourceCreate) -> Source:
        def reconcile() -> Source | None:
            for s in self.list_sources(persona_id):
                if (s.source_type, s.source_id) == (body.source_type, body.source_id):
                    return s
            return None

        return self._call(
            "POST",
            self._p(f"/personas/{persona_id}/sources"),
            json=body.model_dump(mode="json", exclude_unset=True),
            parse=self._source,
            idempotent=False,
            reconcile=reconcile,
        )

    def update_source(self, persona_id: str, source_id: str, body: SourceUpdate) -> Source:
        return self._call(
            "PUT",
            self._p(f"/personas/{persona_id}/sources/{source_id}"),
            json=body.model_dump(mode="json", exclude_none=True),
            parse=self._source,
        )

    def delete_source(self, persona_id: str, source_id: str) -> None:
        self._call(
            "DELETE",
            self._p(f"/personas/{persona_id}/sources/{source_id}"),
            parse=lambda _r: None,
            gone_ok=SourceNotFound,
        )

    # --- avatars ---

    def upload_avatar(self, persona_id: str, data: bytes, content_type: str) -> str:
        """Upload an avatar (replacing it is idempotent); return its ``avatar_url``."""
        name = "avatar" + _EXT_BY_MIME.get(content_type.split(";")[0].strip().lower(), "")
        return self._call(
            "POST",
            self._p(f"/personas/{persona_id}/avatar"),
            files={"file": (name, data, content_type)},
            parse=lambda r: str(r.json()["data"]["avatar_url"]),
        )

    def get_avatar(self, persona_id: str) -> tuple[bytes, str]:
        """The avatar's bytes and content type."""
        return self._call(
            "GET",
            self._p(f"/personas/{persona_id}/avatar"),
            parse=lambda r: (r.content, r.headers.get("content-type", "").split(";")[0]),
        )

    # --- models ---

    def list_models_page(
        self,
        *,
        limit: int = MODEL_PAGE_SIZE,
        cursor: str | None = None,
        slugs: Sequence[str] = (),
        ids: Sequence[str] = (),
    ) -> Page[FrontendModel]:
        """One page of models; a server that does not page answers the whole list, with
        no cursor, which reads as the only page."""
        params: list[tuple[str, str | int]] = [("limit", max(1, min(limit, 200)))]
        params += [("cursor", cursor)] if cursor else []
        params += [("slug", s) for s in slugs] + [("id", i) for i in ids]
        return self._call("GET", "/v1/models", params=params, parse=_page_of(FrontendModel))

    def list_models(
        self, *, slugs: Iterable[str] | None = None, ids: Iterable[str] | None = None
    ) -> list[FrontendModel]:
        """Every model the caller sees, or only those matching ``slugs``/``ids``."""
        return models_matching(self, slugs, ids)

    def get_model(self, slug: str) -> FrontendModel:
        return self._call(
            "GET",
            f"/v1/models/{quote(slug, safe='/')}",
            parse=lambda r: FrontendModel.model_validate(r.json()["data"]),
        )

    def list_model_groups(self) -> list[ModelGroup]:
        return self._call(
            "GET",
            "/v1/models/groups",
            parse=lambda r: [ModelGroup.model_validate(g) for g in r.json()["data"]],
        )

    # --- what the server keeps to itself ---

    def backend_models(self) -> BackendModels | None:
        """None: a remote ScaiGrid shows no backend models (it configures its own)."""
        return None

    def knowledge_index(self) -> KnowledgeIndex | None:
        """None: a remote ScaiGrid indexes its own collections."""
        return None

    def simulated_user_store(self, project: str) -> SimulatedUserStore:
        """Project ``project`` of the test-personas API of this server, with this key."""
        return HttpSimulatedUsers(self, project)

    def lock(
        self, name: str, *, ttl_seconds: float = 3600.0
    ) -> contextlib.AbstractContextManager[str]:
        """A no-op: the server has no lock API (CI serialises applies of one repo)."""
        return contextlib.nullcontext(name)

    def __enter__(self) -> HttpCatalogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _page_of(model: type[M]) -> Callable[[httpx.Response], Page[M]]:
    """A parser of a list answer: ``data`` items and the ``meta`` cursor (absent: one page)."""

    def parse(resp: httpx.Response) -> Page[M]:
        body = resp.json()
        meta = body.get("meta") or {}
        return Page[model](  # type: ignore[valid-type]
            items=[model.model_validate(item) for item in body["data"]],
            next_cursor=meta.get("next_cursor"),
            has_more=bool(meta.get("has_more")),
        )

    return parse

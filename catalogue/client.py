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
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
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
from personas_as_code.catalogue.calls import (
    AnsweredBy,
    CallAnswer,
    KnowledgeIndex,
    ModelCall,
    PersonaRun,
)
from personas_as_code.catalogue.protocol import (
    MODEL_PAGE_SIZE,
    iter_all_personas,
    models_matching,
)
from personas_as_code.catalogue.simulated_user_store import HttpSimulatedUsers, SimulatedUserStore
from personas_as_code.inference.completion import ChatUsage
from personas_as_code.inference.retry import RetryPolicy as BackendRetryPolicy
from personas_as_code.inference.retry import parse_retry_after
from personas_as_code.schemas.errors import (
    BackendBadResponse,
    CatalogueBadResponse,
    CatalogueError,
    CatalogueUnavailable,
    ConfigError,
    PersonaNotFound,
    RateLimited,
    SourceNotFound,
    catalogue_error_from_envelope,
)
from personas_as_code.schemas.fields import AVATAR_MIME_BY_EXTENSION, slugify
from pydantic import BaseModel, Field, ValidationError

if TYPE_CHECKING:
    from personas_as_code.catalogue.backends import BackendModels

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
_EXT_BY_MIME = {mime: ext for ext, mime in AVATAR_MIME_BY_EXTENSION.items()}
CHAT_PATH = "/v1/inference/chat"
REMOTE_PROVIDER = "scaigrid"
"""The provider an answer names when the remote does not say which backend gave it."""
REMOTE_RETRIEVAL = (
    "retrieval ran locally over this tree's knowledge folders; the remote catalogue's "
    "collections were not searched"
)
# Connection failures where the request cannot have reached the server.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The largest answer read from a catalogue: a full page of 200 personas with prompts at
# the file limit (256 KB) fits, with room for JSON escaping; anything larger is refused,
# not buffered.
MAX_RESPONSE_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True)
class RetryPolicy(BackendRetryPolicy):
    """How hard the client tries before giving up: a backend's policy with the catalogue's
    defaults (a ``Retry-After`` is waited in full, within ``total_timeout``)."""

    max_attempts: int = 5
    total_timeout: float = 60.0


class RemoteAnswer(BaseModel):
    """The part of a remote ``/v1/inference/chat`` answer a run reads: a ScaiGrid may
    leave out what ``inference.completion.ChatCompletion`` adds (usage, the backend)."""

    class _Choice(BaseModel):
        class _Message(BaseModel):
            content: str | None = None

        message: _Message
        finish_reason: str | None = None

    choices: list[_Choice] = Field(min_length=1)
    usage: ChatUsage | None = None
    backend: AnsweredBy | None = None


class HttpCatalogue:
    """A tenant's catalogue reached over HTTP with a bearer API key.

    ``request_count`` counts every HTTP attempt (retries included).
    """

    tree_retrieval_note: str | None = REMOTE_RETRIEVAL

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_response_bytes = max_response_bytes
        self.retry = retry or RetryPolicy()
        self.request_count = 0
        self._count_lock = threading.Lock()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "Accept": "application/json",
                **({"Authorization": f"Bearer {api_key}"} if api_key else {}),
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: Any) -> HttpCatalogue:
        """Build from ``SCAIGRID_HOST`` and ``SCAIGRID_API_KEY``."""
        env = os.environ if env is None else env
        host, key = env.get("SCAIGRID_HOST"), env.get("SCAIGRID_API_KEY")
        if not host or not key:
            raise ConfigError("SCAIGRID_HOST and SCAIGRID_API_KEY must both be set")
        return cls(host, key, **kwargs)

    # --- transport with retries ---

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One attempt; the answer is read whole but never beyond ``max_response_bytes``."""
        with self._count_lock:
            self.request_count += 1
        request = self._http.build_request(method, path, **kwargs)
        response = self._http.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            limit = self.max_response_bytes
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(method, path, limit)
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit:
                    raise _too_large(method, path, limit)
        finally:
            response.close()
        return httpx.Response(
            response.status_code, headers=response.headers, content=bytes(body), request=request
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        parse: Callable[[httpx.Response], T],
        idempotent: bool = True,
        reconcile: Callable[[], T | None] | None = None,
        gone_ok: type[CatalogueError] | None = None,
        **kwargs: Any,
    ) -> T:
        """Send with retries; ``reconcile`` answers "did my POST take effect?"."""
        policy = self.retry
        start = time.monotonic()
        maybe_sent = False
        attempt = 0
        while True:
            attempt += 1
            failure: str
            delay: float | None = None
            limited = False
            try:
                resp = self._send(method, path, **kwargs)
            except httpx.TransportError as exc:
                sent = not isinstance(exc, _NOT_SENT)
                failure = f"{type(exc).__name__}: {exc}"
                if sent and not idempotent:
                    if reconcile is None:
                        raise CatalogueUnavailable(
                            f"{method} {path} may or may not have been applied ({failure})",
                            details={"method": method, "path": path},
                        ) from exc
                    found = reconcile()
                    if found is not None:
                        return found
                maybe_sent = maybe_sent or sent
            else:
                status = resp.status_code
                if status < 400:
                    return _parsed(parse, resp, method, path)
                if status not in policy.retry_statuses:
                    error = _error(resp)
                    if gone_ok is not None and maybe_sent and isinstance(error, gone_ok):
                        return _parsed(parse, resp, method, path)
                    raise error
                failure = f"HTTP {status}"
                limited = status == 429
                delay = parse_retry_after(resp.headers.get("retry-after"))
                if status in (502, 504) and not idempotent:
                    found = reconcile() if reconcile else None
                    if found is not None:
                        return found
                maybe_sent = maybe_sent or status in (502, 504)
            if delay is None:
                delay = policy.backoff(attempt)
            elapsed = time.monotonic() - start
            if attempt >= policy.max_attempts or elapsed + delay > policy.total_timeout:
                cls = RateLimited if limited else CatalogueUnavailable
                raise cls(
                    f"{method} {path} failed after {attempt} attempt(s)"
                    f" in {elapsed:.1f}s: {failure}",
                    details={"method": method, "path": path, "attempts": attempt},
                )
            self._sleep(delay)

    def call(
        self,
        method: str,
        path: str,
        *,
        parse: Callable[[httpx.Response], T],
        idempotent: bool = True,
        reconcile: Callable[[], T | None] | None = None,
        **kwargs: Any,
    ) -> T:
        """One request to another API of the same server, with this client's retries,
        answer cap and typed errors (``catalogue.simulated_user_store`` uses it)."""
        return self._call(
            method, path, parse=parse, idempotent=idempotent, reconcile=reconcile, **kwargs
        )

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

    # --- runs and model calls: the server's /v1/inference/chat ---

    def run_persona(self, run: PersonaRun) -> CallAnswer:
        """Enrich here -- retrieval over the tree's knowledge with ``run.retriever`` --
        and send the enriched messages with base model ``run.model`` to the server (its
        own collections are not searched; ``run.backends`` are the server's business)."""
        from personas_as_code.inference.enricher import enrich

        enrichment = enrich(
            run.profile,
            run.messages,
            run.params,
            run.retriever,
            system_prompt_override=run.system_prompt_override,
            no_retrieval_reason=run.no_retrieval_reason,
        )
        notes = list(enrichment.notes)
        if enrichment.retrieval_ran and self.tree_retrieval_note:
            notes.append(self.tree_retrieval_note)
        body = {
            **enrichment.params,
            "model": run.model,
            "messages": [m.to_dict() for m in enrichment.messages],
        }
        answer = self._chat(body, run.headers)
        return replace(answer, params=enrichment.params, enrichment=enrichment, notes=notes)

    def call_model(self, call: ModelCall) -> CallAnswer:
        """Send the messages as they are to the server with model ``call.model`` (the
        server's backends answer; ``call.backends`` are its business)."""
        body = {"model": call.model, "messages": [m.to_dict() for m in call.messages]}
        return self._chat(body, call.headers)

    def _chat(self, body: dict[str, Any], headers: Mapping[str, str]) -> CallAnswer:
        answer = self.call(
            "POST",
            CHAT_PATH,
            json=body,
            parse=remote_answer,
            headers=dict(headers) if headers else None,
        )
        choice = answer.choices[0]
        return CallAnswer(
            catalogue="remote",
            content=choice.message.content or "",
            finish_reason=choice.finish_reason,
            usage=answer.usage or ChatUsage(prompt_tokens=0, completion_tokens=0, total_tokens=0),
            backend=answer.backend or AnsweredBy(provider=REMOTE_PROVIDER, backend_model=None),
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

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpCatalogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def remote_answer(resp: httpx.Response) -> RemoteAnswer:
    try:
        return RemoteAnswer.model_validate(resp.json()["data"])
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        raise BackendBadResponse(
            "the remote catalogue's /v1/inference/chat answered something that is not a chat "
            "completion"
        ) from exc


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


def _too_large(method: str, path: str, limit: int) -> CatalogueBadResponse:
    return CatalogueBadResponse(
        f"{method} {path}: the answer is larger than {limit:,} bytes; refused",
        details={"method": method, "path": path, "limit": limit},
    )


def _parsed(
    parse: Callable[[httpx.Response], T], resp: httpx.Response, method: str, path: str
) -> T:
    """``parse(resp)``, with any answer that is not the documented shape a typed error."""
    try:
        return parse(resp)
    except (ValueError, KeyError, TypeError, IndexError, RecursionError) as exc:
        # pydantic's ValidationError and json's JSONDecodeError are ValueErrors
        kind = (
            "not valid JSON"
            if isinstance(exc, json.JSONDecodeError)
            else (
                "nested too deep" if isinstance(exc, RecursionError) else "not the expected shape"
            )
        )
        raise CatalogueBadResponse(
            f"{method} {path}: the catalogue's answer is {kind}",
            details={"method": method, "path": path, "status": resp.status_code},
        ) from None


def _error(resp: httpx.Response) -> CatalogueError:
    try:
        body = resp.json()
    except (ValueError, RecursionError):
        body = None
    error = catalogue_error_from_envelope(resp.status_code, body)
    if body is None and resp.status_code >= 500:
        return CatalogueUnavailable(
            f"HTTP {resp.status_code} without an error envelope",
            details={"status": resp.status_code},
        )
    return error

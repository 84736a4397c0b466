"""The ScaiPersona-compatible REST app (FastAPI) over ``catalogue.service``.

Envelopes:

* one object: ``{"data": {...}}``
* a list: ``{"data": [...], "meta": {"next_cursor": str | null, "has_more": bool,
  "request_id": str}}`` (``next_cursor``/``has_more`` only on paginated lists)
* an error, every error including unknown routes (404 ``NOT_FOUND``), wrong
  methods (405 ``METHOD_NOT_ALLOWED``) and request validation (400
  ``VALIDATION_ERROR``, the offending fields in ``details.fields``):
  ``{"error": {"code", "message", "details"}, "meta": {"request_id"}}``

Every response carries an ``X-Request-ID`` header.  Auth is a bearer API key,
checked before any body byte is read (``catalogue.guard``);
``GET /personas/{id}/avatar`` is public.  Bodies are capped while they stream:
JSON bodies at ``max_body_bytes`` (413 ``PAYLOAD_TOO_LARGE``), avatar uploads
at 2 MB plus multipart overhead (400 ``FILE_TOO_LARGE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from personas_as_code.catalogue.callers import CallerCache
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.defaults import DEFAULT_KEY_CACHE_SECONDS
from personas_as_code.catalogue.guard import BodyCap, RequestGuard, new_request_id
from personas_as_code.catalogue.oai_errors import OaiErrorShape
from personas_as_code.catalogue.rest_dependencies import get_caller, get_session
from personas_as_code.catalogue.rest_errors import document_errors, install_error_handlers
from personas_as_code.catalogue.rest_models import model_routes
from personas_as_code.catalogue.rest_personas import AVATAR_ROUTE, persona_routes
from personas_as_code.catalogue.rest_reads import PersonaReads
from personas_as_code.catalogue.seed import bootstrap
from personas_as_code.schemas.errors import FileTooLarge, PayloadTooLarge
from personas_as_code.schemas.fields import AVATAR_MAX_BYTES
from sqlalchemy import Engine
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
"""The default cap of a JSON request body (``create_app(max_body_bytes=...)``)."""

_MULTIPART_SLACK = 64 * 1024


class RequestIdHeader:
    """ASGI middleware: every answer carries the request's ``X-Request-ID`` (unless the
    app set one); pure ASGI, as ``BaseHTTPMiddleware`` costs a task per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        rid = state.setdefault("request_id", new_request_id())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", rid.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


def _needs_caller(route: BaseRoute) -> bool:
    """Whether a route depends on ``get_caller`` (routes that do not are public)."""
    if not isinstance(route, APIRoute):
        return False
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if dependant.call is get_caller:
            return True
        pending.extend(dependant.dependencies)
    return False


def _body_too_large(size: int | None, limit: int) -> PayloadTooLarge:
    said = f"is {size:,} bytes" if size is not None else "is larger than that"
    return PayloadTooLarge(
        f"request body {said}; the limit is {limit:,} bytes",
        details={"limit": limit, **({"size": size} if size is not None else {})},
    )


def _upload_too_large(size: int | None, _limit: int) -> FileTooLarge:
    said = f"is {size:,} bytes" if size is not None else "is larger than that"
    return FileTooLarge(
        f"upload {said}; the avatar limit is {AVATAR_MAX_BYTES:,} bytes",
        details={"limit": AVATAR_MAX_BYTES, **({"size": size} if size is not None else {})},
    )


def create_app(
    database: Engine | str | None = None,
    *,
    scaidrive_base_url: str | None = None,
    init_schema: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    key_cache_seconds: float = DEFAULT_KEY_CACHE_SECONDS,
    cors_origins: Sequence[str] = (),
) -> FastAPI:
    """The REST app over an engine or database URL (default: the cwd's SQLite file).

    ``init_schema`` creates missing tables; tenants and keys come from
    ``personas catalogue init`` (``catalogue.seed``).  ``max_body_bytes`` caps
    every request body but avatar uploads (capped at 2 MB plus multipart
    overhead).  A valid API key is trusted for ``key_cache_seconds`` before it is
    looked up again (``catalogue.callers``): a revoked key stops working within that
    time; 0 looks every request up.  ``cors_origins``: the browser origins allowed to
    call the API (CORS, preflight included); none by default.
    """
    if max_body_bytes < 1:
        raise ValueError("max_body_bytes must be at least 1")
    engine = database if isinstance(database, Engine) else make_engine(database)
    if init_schema:
        bootstrap(engine)
    app = FastAPI(
        title="ScaiPersona (embedded)",
        version="1.0.0",
        description=__doc__,
    )
    app.state.engine = engine
    app.state.callers = CallerCache(engine, key_cache_seconds)
    app.state.persona_reads = PersonaReads(engine)
    app.state.scaidrive_base_url = scaidrive_base_url

    install_error_handlers(app)
    _include_routes(app)
    _add_middleware(app, max_body_bytes, cors_origins)
    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_errors(generate_openapi())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _include_routes(app: FastAPI) -> None:
    """Every router of the API, and the health check."""
    app.include_router(persona_routes())
    app.include_router(model_routes())
    from personas_as_code.catalogue.rest_inference import (
        inference_routes,  # POST /v1/inference/chat
    )

    app.include_router(inference_routes(get_caller))
    from personas_as_code.catalogue.rest_oai import oai_routes  # /oai/v1/...

    app.include_router(oai_routes(get_caller))
    from personas_as_code.catalogue.rest_test_personas import (
        routes_for_test_personas,  # /api/projects/...
    )

    app.include_router(routes_for_test_personas(get_caller, get_session))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"data": {"status": "ok"}}


def _add_middleware(app: FastAPI, max_body_bytes: int, cors_origins: Sequence[str]) -> None:
    """The middleware stack; each one added wraps the ones before it."""
    app.add_middleware(RequestIdHeader)
    # outermost, so every body read goes through it
    app.add_middleware(
        RequestGuard,
        needs_caller=_needs_caller,
        authenticate=app.state.callers.resolve,
        default_cap=BodyCap(max_body_bytes, _body_too_large),
        route_caps={AVATAR_ROUTE: BodyCap(AVATAR_MAX_BYTES + _MULTIPART_SLACK, _upload_too_large)},
    )
    app.add_middleware(OaiErrorShape)  # /oai/v1 answers errors as OpenAI does
    if cors_origins:  # outermost: a preflight is answered before auth
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID"],
            max_age=600,
        )

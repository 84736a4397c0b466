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

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Generic, Literal, TypeVar

import fastapi.routing
from anyio import to_thread
from fastapi import APIRouter, Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from personas_as_code.catalogue import (
    avatars,
    frontend_models,
    paging,
    persona_sources,
    personas,
    publishing,
    scaidrive,
)
from personas_as_code.catalogue.api import (
    API_PREFIX,
    AvatarUploaded,
    FrontendModel,
    ModelGroup,
    Page,
    Persona,
    PersonaCreate,
    PersonaUpdate,
    PublishRequest,
    Source,
    SourceCreate,
    SourceUpdate,
)
from personas_as_code.catalogue.callers import CallerCache
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.defaults import DEFAULT_KEY_CACHE_SECONDS
from personas_as_code.catalogue.guard import BodyCap, RequestGuard, new_request_id
from personas_as_code.catalogue.identity import Caller
from personas_as_code.catalogue.image_response import image_response
from personas_as_code.catalogue.seed import bootstrap
from personas_as_code.catalogue.servable import servable_json
from personas_as_code.schemas.errors import CatalogueError, FileTooLarge, PayloadTooLarge
from personas_as_code.schemas.fields import AVATAR_MAX_BYTES
from pydantic import BaseModel
from pydantic_core import to_json
from sqlalchemy import Engine
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
"""The default cap of a JSON request body (``create_app(max_body_bytes=...)``)."""

_MULTIPART_SLACK = 64 * 1024
_MAX_REPORTED_ERRORS = 50
_MAX_FIELD_CHARS = 200
_AVATAR_ROUTE = "upload_avatar"
_STATUS_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
}


# --- envelopes -------------------------------------------------------------


class Data(BaseModel, Generic[T]):
    """Success envelope of one object."""

    data: T


class ListMeta(BaseModel):
    """``meta`` of a list answer."""

    next_cursor: str | None = None
    has_more: bool = False
    request_id: str | None = None


class ListData(BaseModel, Generic[T]):
    """Success envelope of a list."""

    data: list[T]
    meta: ListMeta


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorMeta(BaseModel):
    request_id: str


class ErrorEnvelope(BaseModel):
    """Error envelope of every failure."""

    error: ErrorBody
    meta: ErrorMeta


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of the error statuses a route answers.

    400, 401 and 413 are added to each operation from its shape (query
    parameters or a body; security; a JSON body) by ``_document_errors``.
    """
    return {status: {"model": ErrorEnvelope} for status in statuses}


_ERRORS = _errors()
"""Errors every operation answers beyond those ``_document_errors`` adds: none."""

_ERROR_DESCRIPTIONS = {
    "400": "Invalid request (`VALIDATION_ERROR`, the fields in `details.fields`)",
    "401": "Missing or invalid bearer token (`UNAUTHORIZED`)",
    "413": "Request body over the server's cap (`PAYLOAD_TOO_LARGE`)",
}


def _document_errors(schema: dict[str, Any]) -> None:
    """Make the OpenAPI document say what the server answers.

    FastAPI documents a 422 the server never sends (validation is 400
    ``VALIDATION_ERROR`` here); each operation instead gets 400 when it has
    query parameters or a body, 401 when it needs a key and 413 when it takes
    a JSON body.
    """
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            body = operation.get("requestBody", {}).get("content", {})
            wanted = {
                "400": bool(body)
                or any(p.get("in") == "query" for p in operation.get("parameters", [])),
                "401": bool(operation.get("security")),
                "413": "application/json" in body,
            }
            for status, applies in wanted.items():
                if not applies:
                    responses.pop(status, None)
                    continue
                answer = responses.setdefault(status, {})
                answer["description"] = _ERROR_DESCRIPTIONS[status]
                answer["content"] = {"application/json": {"schema": envelope}}
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def _request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = new_request_id()
    return rid


def _error(
    request: Request, status: int, code: str, message: str, details: Any = None
) -> JSONResponse:
    rid = _request_id(request)
    body = {
        "error": {"code": code, "message": message, "details": details or {}},
        "meta": {"request_id": rid},
    }
    # errors quote the caller's field names, which may hold what JSON cannot carry
    body = servable_json(body, where="an error answer")
    return JSONResponse(body, status_code=status, headers={"X-Request-ID": rid})


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header") and len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts)


def _error_field(err: dict[str, Any]) -> str:
    """The dotted field of one validation error; strict-JSON errors name the value inside."""
    if err.get("type") == "json_invalid":
        return "body"
    field = _field(tuple(err.get("loc", ())))
    inner = (err.get("ctx") or {}).get("path") if err.get("type") == "json_value" else None
    return f"{field}.{inner}" if inner else field


def _validation_details(exc: RequestValidationError) -> tuple[str, dict[str, Any]]:
    # a hostile body can hold 100,000s of bad fields with megabyte names: report a few
    found = exc.errors()
    errors = []
    for err in found[:_MAX_REPORTED_ERRORS]:
        kind = err.get("type", "")
        if kind == "json_invalid":
            reason = (err.get("ctx") or {}).get("error")
            text = f"malformed JSON body ({reason})" if reason else "malformed JSON body"
        elif kind == "json_value":  # the field already names the value: keep the reason
            text = (err.get("ctx") or {}).get("reason") or err.get("msg", "")
        else:
            text = err.get("msg", "")
        field = _error_field(err)
        if len(field) > _MAX_FIELD_CHARS:
            field = field[:_MAX_FIELD_CHARS] + "…"
        errors.append({"field": field, "message": text, "type": kind})
    fields = list(dict.fromkeys(e["field"] for e in errors))
    if any(e["type"] == "json_invalid" for e in errors):
        message = "Request body is not valid JSON"
    else:
        message = "Invalid request: " + ", ".join(f"{e['field']}: {e['message']}" for e in errors)
    details: dict[str, Any] = {"fields": fields, "errors": errors}
    if len(found) > len(errors):
        details["more_errors"] = len(found) - len(errors)
    return message[:500], details


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on the request's path (the ``Allow`` of a 405)."""
    # FastAPI >= 0.16x keeps included routers nested; iter_route_contexts flattens them
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = request.app.router.routes
    methods: set[str] = set()
    for route in flatten(routes) if flatten else routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CatalogueError)
    async def _catalogue_error(request: Request, exc: CatalogueError) -> JSONResponse:
        response = _error(request, exc.status, exc.code, exc.message, exc.details)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, details = _validation_details(exc)
        return _error(request, 400, "VALIDATION_ERROR", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, f"HTTP_{exc.status_code}")
        # the framework's 400s are bodies it could not parse (deep JSON, broken multipart)
        details = {"fields": ["body"]} if exc.status_code == 400 else None
        response = _error(request, exc.status_code, code, str(exc.detail), details)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            # Starlette names only the first route on the path; name every method served
            response.headers["Allow"] = _allowed_methods(request)
        return response

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        log.warning("database rejected a value: %s", exc.orig)
        return _error(request, 400, "VALIDATION_ERROR", "A value cannot be stored")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return _error(request, 500, "INTERNAL_ERROR", "Internal server error")


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


# --- dependencies ----------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="ScaiGrid API key")


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One database session per request.

    Made on the event loop (a session connects lazily, at its first query); closed
    there when it holds no transaction, else in a thread (closing rolls back).
    """
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            await to_thread.run_sync(session.close)
        else:
            session.close()


async def get_caller(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> Caller:
    """The authenticated caller (401 ``UNAUTHORIZED`` when missing or invalid).

    The guard has already authenticated the request before its body was read;
    otherwise (a GET, or an app assembled some other way) the key is resolved
    here, through the app's ``CallerCache``.
    """
    caller = getattr(request.state, "caller", None)
    if isinstance(caller, Caller):
        return caller
    callers: CallerCache = request.app.state.callers
    return await callers.resolve(credentials.credentials if credentials else None)


def _json(envelope: Any, status_code: int = 200) -> Response:
    """An answer serialised once, by pydantic: the routes build their envelope from
    served models, so FastAPI's second validation of ``response_model`` (and its
    thread hop) is skipped; ``response_model`` still documents the shape."""
    return Response(to_json(envelope), status_code=status_code, media_type="application/json")


def _one(item: BaseModel, status_code: int = 200) -> Response:
    """``{"data": item}``."""
    return _json({"data": item}, status_code)


def _page(request: Request, page: Page[Any]) -> Response:
    """A list page: ``{"data": [...], "meta": {next_cursor, has_more, request_id}}``."""
    meta = {
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
        "request_id": _request_id(request),
    }
    return _json({"data": page.items, "meta": meta})


async def _db(request: Request, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
    """``fn(session, *args, **kwargs)`` with a fresh session, in one worker thread: the
    routes are coroutines, so a request costs one thread hop, not one per dependency."""

    def run() -> R:
        with Session(request.app.state.engine, expire_on_commit=False) as session:
            return fn(session, *args, **kwargs)

    return await to_thread.run_sync(run)


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


Sess = Depends(get_session)
Auth = Depends(get_caller)


# --- routes ----------------------------------------------------------------


def _persona_routes() -> APIRouter:
    r = APIRouter(prefix=API_PREFIX, tags=["scaipersona"])

    @r.get("/personas", response_model=ListData[Persona])
    async def list_personas(
        request: Request,
        limit: int = Query(50, ge=1, le=200),
        cursor: str | None = Query(None, max_length=512),
        order: Literal["asc", "desc"] = Query("asc"),
        caller: Caller = Auth,
    ) -> Response:
        page = await _db(
            request, personas.list_personas, caller, limit=limit, cursor=cursor, order=order
        )
        return _page(request, page)

    @r.post("/personas", status_code=201, response_model=Data[Persona], responses=_errors(404, 409))
    async def create_persona(
        request: Request, body: PersonaCreate, caller: Caller = Auth
    ) -> Response:
        return _one(await _db(request, personas.create_persona, caller, body), 201)

    @r.get("/personas/{persona_id}", response_model=Data[Persona], responses=_errors(404))
    async def get_persona(request: Request, persona_id: str, caller: Caller = Auth) -> Response:
        return _one(await _db(request, personas.get_persona, caller, persona_id))

    @r.put("/personas/{persona_id}", response_model=Data[Persona], responses=_errors(404, 409))
    async def update_persona(
        request: Request, persona_id: str, body: PersonaUpdate, caller: Caller = Auth
    ) -> Response:
        return _one(await _db(request, personas.update_persona, caller, persona_id, body))

    @r.delete(
        "/personas/{persona_id}",
        status_code=204,
        response_class=Response,
        responses=_errors(404),
    )
    async def delete_persona(request: Request, persona_id: str, caller: Caller = Auth) -> Response:
        await _db(request, personas.delete_persona, caller, persona_id)
        return Response(status_code=204)

    @r.post(
        "/personas/{persona_id}/publish",
        response_model=Data[Persona],
        responses=_errors(404, 409),
    )
    async def publish_persona(
        request: Request,
        persona_id: str,
        body: PublishRequest | None = None,
        caller: Caller = Auth,
    ) -> Response:
        groups = body.group_ids if body else None
        return _one(await _db(request, publishing.publish_persona, caller, persona_id, groups))

    @r.post(
        "/personas/{persona_id}/unpublish",
        response_model=Data[Persona],
        responses=_errors(404, 409),
    )
    async def unpublish_persona(
        request: Request, persona_id: str, caller: Caller = Auth
    ) -> Response:
        return _one(await _db(request, publishing.unpublish_persona, caller, persona_id))

    @r.get(
        "/personas/{persona_id}/sources",
        response_model=ListData[Source],
        responses=_errors(404),
    )
    async def list_sources(request: Request, persona_id: str, caller: Caller = Auth) -> Response:
        items = await _db(request, persona_sources.list_sources, caller, persona_id)
        return _json(ListData[Source](data=items, meta=ListMeta(request_id=_request_id(request))))

    @r.post(
        "/personas/{persona_id}/sources",
        status_code=201,
        response_model=Data[Source],
        responses=_errors(404, 409),
    )
    async def add_source(
        request: Request, persona_id: str, body: SourceCreate, caller: Caller = Auth
    ) -> Response:
        return _one(await _db(request, persona_sources.add_source, caller, persona_id, body), 201)

    @r.put(
        "/personas/{persona_id}/sources/{source_id}",
        response_model=Data[Source],
        responses=_errors(404),
    )
    async def update_source(
        request: Request,
        persona_id: str,
        source_id: str,
        body: SourceUpdate,
        caller: Caller = Auth,
    ) -> Response:
        return _one(
            await _db(request, persona_sources.update_source, caller, persona_id, source_id, body)
        )

    @r.delete(
        "/personas/{persona_id}/sources/{source_id}",
        status_code=204,
        response_class=Response,
        responses=_errors(404),
    )
    async def delete_source(
        request: Request, persona_id: str, source_id: str, caller: Caller = Auth
    ) -> Response:
        await _db(request, persona_sources.delete_source, caller, persona_id, source_id)
        return Response(status_code=204)

    @r.post(
        "/personas/{persona_id}/avatar",
        name=_AVATAR_ROUTE,
        response_model=Data[AvatarUploaded],
        responses=_errors(404),
    )
    async def upload_avatar(
        request: Request,
        persona_id: str,
        file: UploadFile = File(..., description="The image (≤ 2 MB)"),
        caller: Caller = Auth,
    ) -> Response:
        data = await file.read(AVATAR_MAX_BYTES + 1)
        content_type = file.content_type or "application/octet-stream"
        url = await _db(request, avatars.upload_avatar, caller, persona_id, data, content_type)
        return _one(AvatarUploaded(avatar_url=url))

    @r.get(
        "/personas/{persona_id}/avatar",
        response_class=Response,
        responses={
            200: {"content": {"image/*": {}}, "description": "The avatar image"},
            304: {"description": "Not modified (`If-None-Match` matched the `ETag`)"},
            **_errors(404),
        },
    )
    async def get_avatar(persona_id: str, request: Request) -> Response:
        data, content_type, sha = await _db(request, avatars.get_avatar, persona_id)
        return image_response(
            request, data, content_type, sha, cache_control="public, max-age=3600"
        )

    @r.get(
        "/scaidrive/shares",
        response_model=ListData[dict[str, Any]],
        responses={502: {"model": ErrorEnvelope}},
    )
    def scaidrive_shares(
        request: Request, session: Session = Sess, caller: Caller = Auth
    ) -> ListData[dict[str, Any]]:
        items = scaidrive.scaidrive_shares(session, caller, request.app.state.scaidrive_base_url)
        return ListData[dict[str, Any]](data=items, meta=ListMeta(request_id=_request_id(request)))

    return r


def _model_routes() -> APIRouter:
    r = APIRouter(prefix="/v1/models", tags=["models"], responses=_ERRORS)

    @r.get("", response_model=ListData[FrontendModel])
    async def list_models(
        request: Request,
        limit: int = Query(50, ge=1, le=paging.MAX_PAGE_SIZE),
        cursor: str | None = Query(None, max_length=1024),
        order: Literal["asc", "desc"] = Query("asc"),
        slugs: list[str] = Query(
            [],
            alias="slug",
            max_length=paging.MAX_MODEL_FILTERS,
            description="Only the models with one of these slugs (repeatable)",
        ),
        ids: list[str] = Query(
            [],
            alias="id",
            max_length=paging.MAX_MODEL_FILTERS,
            description="Only the models with one of these ids (repeatable; or a slug above)",
        ),
        caller: Caller = Auth,
    ) -> Response:
        """The models the caller sees, by slug, cursor-paginated like ``GET /personas``."""
        page = await _db(
            request,
            frontend_models.list_models,
            caller,
            limit=limit,
            cursor=cursor,
            order=order,
            slugs=slugs,
            ids=ids,
        )
        return _page(request, page)

    @r.get("/groups", response_model=ListData[ModelGroup])
    async def list_model_groups(request: Request, caller: Caller = Auth) -> Response:
        items = await _db(request, frontend_models.list_model_groups, caller)
        meta = ListMeta(request_id=_request_id(request))
        return _json(ListData[ModelGroup](data=items, meta=meta))

    # after /groups: a model slug holds slashes (``tenant/acme/support-agent``)
    @r.get("/{model_slug:path}", response_model=Data[FrontendModel], responses=_errors(404))
    async def get_model(request: Request, model_slug: str, caller: Caller = Auth) -> Response:
        return _one(await _db(request, frontend_models.get_model, caller, model_slug))

    return r


def create_app(
    database: Engine | str | None = None,
    *,
    scaidrive_base_url: str | None = None,
    init_schema: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    key_cache_seconds: float = DEFAULT_KEY_CACHE_SECONDS,
) -> FastAPI:
    """The REST app over an engine or database URL (default: the cwd's SQLite file).

    ``init_schema`` creates missing tables; tenants and keys come from
    ``personas catalogue init`` (``catalogue.seed``).  ``max_body_bytes`` caps
    every request body but avatar uploads (capped at 2 MB plus multipart
    overhead).  A valid API key is trusted for ``key_cache_seconds`` before it is
    looked up again (``catalogue.callers``): a revoked key stops working within that
    time; 0 looks every request up.
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
    app.state.scaidrive_base_url = scaidrive_base_url

    _install_error_handlers(app)
    app.include_router(_persona_routes())
    app.include_router(_model_routes())
    from personas_as_code.catalogue.rest_inference import (
        inference_routes,  # POST /v1/inference/chat
    )

    app.include_router(inference_routes(get_caller))
    from personas_as_code.catalogue.rest_test_personas import (
        routes_for_test_personas,  # /api/projects/...
    )

    app.include_router(routes_for_test_personas(get_caller, get_session))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"data": {"status": "ok"}}

    app.add_middleware(RequestIdHeader)
    # outermost, so every body read goes through it
    app.add_middleware(
        RequestGuard,
        needs_caller=_needs_caller,
        authenticate=app.state.callers.resolve,
        default_cap=BodyCap(max_body_bytes, _body_too_large),
        route_caps={_AVATAR_ROUTE: BodyCap(AVATAR_MAX_BYTES + _MULTIPART_SLACK, _upload_too_large)},
    )
    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document_errors(generate_openapi())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
    return app

"""The REST app's error answers: the error envelope, the handlers that turn every
failure into it, and the OpenAPI document's account of the errors each route answers.
"""

from __future__ import annotations

import logging
from typing import Any

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from personas_as_code.catalogue.guard import new_request_id
from personas_as_code.catalogue.servable import servable_json
from personas_as_code.schemas.errors import CatalogueError
from pydantic import BaseModel
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

# the app's logger, named as before the handlers moved here
log = logging.getLogger("personas_as_code.catalogue.rest")

_MAX_REPORTED_ERRORS = 50
_MAX_FIELD_CHARS = 200
_STATUS_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
}


# ErrorBody and ErrorMeta have no docstring: it would become their OpenAPI description
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


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of the error statuses a route answers.

    400, 401 and 413 are added to each operation from its shape (query
    parameters or a body; security; a JSON body) by ``document_errors``.
    """
    return {status: {"model": ErrorEnvelope} for status in statuses}


ERRORS = error_responses()
"""Errors every operation answers beyond those ``document_errors`` adds: none."""

_ERROR_DESCRIPTIONS = {
    "400": "Invalid request (`VALIDATION_ERROR`, the fields in `details.fields`)",
    "401": "Missing or invalid bearer token (`UNAUTHORIZED`)",
    "413": "Request body over the server's cap (`PAYLOAD_TOO_LARGE`)",
}


def document_errors(schema: dict[str, Any]) -> None:
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


def request_id(request: Request) -> str:
    """The request's id (the guard's, or a new one remembered on the request)."""
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.state.request_id = new_request_id()
    return rid


def _error(
    request: Request, status: int, code: str, message: str, details: Any = None
) -> JSONResponse:
    rid = request_id(request)
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


def install_error_handlers(app: FastAPI) -> None:
    """Answer every failure of ``app`` with the error envelope."""

    @app.exception_handler(CatalogueError)
    async def _catalogue_error(request: Request, exc: CatalogueError) -> JSONResponse:
        response = _error(request, exc.status, exc.code, exc.message, exc.details)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        retry_after = exc.details.get("retry_after_seconds")
        if exc.status in (429, 503) and type(retry_after) is int:  # BACKEND_BUSY
            response.headers["Retry-After"] = str(retry_after)
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

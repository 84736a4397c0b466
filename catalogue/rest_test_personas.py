"""The test-personas API (seed ``reference/test-personas-api.txt``) on the REST app.

Routes, under ``/api/projects/{project}``::

    GET    /personas                      200 [TestPersona, ...]
    POST   /personas                      201 TestPersona | 400 "Name is required" | 409
    GET    /personas/{id}                 200 TestPersona | 404
    PUT    /personas/{id}                 200 TestPersona | 404 | 409 | 400 unknown imageUrl
    DELETE /personas/{id}                 204 | 404
    POST   /personas/{id}/generate-image  200 TestPersona (with imageUrl) | 400 | 404 | 502
    GET    /images/{imageUrl}             200 the image | 404   (an extension: serves imageUrl)

Success bodies are the seed's bare objects and arrays (camelCase, absent
optional fields omitted); errors use the app's envelope
(``{"error": {"code", "message", "details"}, "meta": {"request_id"}}``) with the
seed's messages ("Name is required", "Persona not found", "Persona with name
already exists", "Persona has no system prompt").  Auth is the app's bearer
key, checked before any body byte; a project is a namespace inside the key's
tenant (see ``catalogue.simulated_user_tables``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from personas_as_code.catalogue import simulated_user_service as service
from personas_as_code.catalogue.identity import Caller
from personas_as_code.catalogue.image_response import image_response
from personas_as_code.catalogue.simulated_user_api import (
    MAX_IMAGE_ID_CHARS,
    TestPersona,
    TestPersonaCreate,
    TestPersonaUpdate,
)
from personas_as_code.schemas.simulated_user_config import PROJECT_PATTERN
from sqlalchemy.orm import Session

PREFIX = "/api/projects/{project}"

Project = Path(
    pattern=PROJECT_PATTERN,
    max_length=100,
    description="The project: a namespace inside the API key's tenant.",
)
PersonaId = Path(max_length=100, description="The test persona's id.")


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    # the app's error envelope (catalogue.rest.ErrorEnvelope) by reference, to avoid a cycle
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    return {
        status: {"description": "Error", "content": {"application/json": {"schema": envelope}}}
        for status in statuses
    }


def routes_for_test_personas(
    get_caller: Callable[..., Awaitable[Caller]], get_session: Callable[..., Any]
) -> APIRouter:
    """The router; ``get_caller`` and ``get_session`` are the app's dependencies."""
    r = APIRouter(prefix=PREFIX, tags=["test-personas"])
    Auth = Depends(get_caller)
    Sess = Depends(get_session)
    quiet: dict[str, Any] = {"response_model_exclude_none": True}

    @r.get("/personas", response_model=list[TestPersona], **quiet)
    def list_test_personas(
        project: str = Project, session: Session = Sess, caller: Caller = Auth
    ) -> list[TestPersona]:
        return service.list_test_personas(session, caller, project)

    @r.post(
        "/personas",
        status_code=201,
        response_model=TestPersona,
        responses=_errors(409),
        **quiet,
    )
    def create_test_persona(
        body: TestPersonaCreate,
        project: str = Project,
        session: Session = Sess,
        caller: Caller = Auth,
    ) -> TestPersona:
        return service.create_test_persona(session, caller, project, body)

    @r.get("/personas/{persona_id}", response_model=TestPersona, responses=_errors(404), **quiet)
    def get_test_persona(
        project: str = Project,
        persona_id: str = PersonaId,
        session: Session = Sess,
        caller: Caller = Auth,
    ) -> TestPersona:
        return service.get_test_persona(session, caller, project, persona_id)

    @r.put(
        "/personas/{persona_id}",
        response_model=TestPersona,
        responses=_errors(404, 409),
        **quiet,
    )
    def update_test_persona(
        body: TestPersonaUpdate,
        project: str = Project,
        persona_id: str = PersonaId,
        session: Session = Sess,
        caller: Caller = Auth,
    ) -> TestPersona:
        return service.update_test_persona(session, caller, project, persona_id, body)

    @r.delete(
        "/personas/{persona_id}",
        status_code=204,
        response_class=Response,
        responses=_errors(404),
    )
    def delete_test_persona(
        project: str = Project,
        persona_id: str = PersonaId,
        session: Session = Sess,
        caller: Caller = Auth,
    ) -> Response:
        service.delete_test_persona(session, caller, project, persona_id)
        return Response(status_code=204)

    _add_image_routes(r, get_caller, get_session)
    return r


def _add_image_routes(
    r: APIRouter, get_caller: Callable[..., Awaitable[Caller]], get_session: Callable[..., Any]
) -> None:
    """The routes of a test persona's generated image."""
    Auth = Depends(get_caller)
    Sess = Depends(get_session)
    quiet: dict[str, Any] = {"response_model_exclude_none": True}

    @r.post(
        "/personas/{persona_id}/generate-image",
        response_model=TestPersona,
        responses=_errors(400, 404, 502),
        **quiet,
    )
    def generate_test_persona_image(
        project: str = Project,
        persona_id: str = PersonaId,
        session: Session = Sess,
        caller: Caller = Auth,
    ) -> TestPersona:
        return service.generate_image(session, caller, project, persona_id)

    @r.get(
        "/images/{image_id}",
        response_class=Response,
        responses={
            200: {"content": {"image/*": {}}, "description": "The image"},
            304: {"description": "Not modified (`If-None-Match` matched the `ETag`)"},
            **_errors(404),
        },
    )
    def get_test_persona_image(
        request: Request,
        project: str = Project,
        image_id: str = Path(max_length=MAX_IMAGE_ID_CHARS),
        session: Session = Sess,
        caller: Caller = Auth,
    ) -> Response:
        data, content_type, sha = service.get_image(session, caller, project, image_id)
        return image_response(
            request, data, content_type, sha, cache_control="private, max-age=3600"
        )

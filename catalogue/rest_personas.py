"""The REST routes under ``/v1/modules/scaipersona``: personas, publishing, sources,
avatars and ScaiDrive shares.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response
from personas_as_code.catalogue import avatars, persona_sources, personas, publishing, scaidrive
from personas_as_code.catalogue.api import (
    API_PREFIX,
    AvatarUploaded,
    Persona,
    PersonaCreate,
    PersonaUpdate,
    PublishRequest,
    Source,
    SourceCreate,
    SourceUpdate,
)
from personas_as_code.catalogue.identity import Caller
from personas_as_code.catalogue.image_response import image_response
from personas_as_code.catalogue.rest_dependencies import Auth, Sess, in_db, in_thread
from personas_as_code.catalogue.rest_envelopes import (
    Data,
    ListData,
    ListMeta,
    bytes_response,
    json_response,
    one_response,
)
from personas_as_code.catalogue.rest_errors import ErrorEnvelope, error_responses, request_id
from personas_as_code.catalogue.rest_reads import PersonaReads
from personas_as_code.schemas.fields import AVATAR_MAX_BYTES
from sqlalchemy.orm import Session

AVATAR_ROUTE = "upload_avatar"
"""The name of the avatar upload route, whose body cap is the avatar's."""


def persona_routes() -> APIRouter:
    """The router of every route under ``API_PREFIX``, in registration order."""
    r = APIRouter(prefix=API_PREFIX, tags=["scaipersona"])
    add_persona_routes(r)
    add_source_routes(r)
    add_avatar_routes(r)
    add_scaidrive_routes(r)
    return r


def _reads(request: Request) -> PersonaReads:
    """The app's fast reads of the two hottest routes (``rest_reads``)."""
    reads: PersonaReads = request.app.state.persona_reads
    return reads


def add_persona_routes(r: APIRouter) -> None:
    """The persona CRUD routes, and publishing."""

    @r.get("/personas", response_model=ListData[Persona])
    async def list_personas(
        request: Request,
        limit: int = Query(50, ge=1, le=200),
        cursor: str | None = Query(None, max_length=512),
        order: Literal["asc", "desc"] = Query("asc"),
        caller: Caller = Auth,
    ) -> Response:
        page = _reads(request).page_json
        rid = request_id(request)
        answer = await in_thread(
            page, caller, limit=limit, cursor=cursor, order=order, request_id=rid
        )
        return bytes_response(answer)

    @r.post(
        "/personas",
        status_code=201,
        response_model=Data[Persona],
        responses=error_responses(404, 409),
    )
    async def create_persona(
        request: Request, body: PersonaCreate, caller: Caller = Auth
    ) -> Response:
        return one_response(await in_db(request, personas.create_persona, caller, body), 201)

    @r.get("/personas/{persona_id}", response_model=Data[Persona], responses=error_responses(404))
    async def get_persona(request: Request, persona_id: str, caller: Caller = Auth) -> Response:
        return bytes_response(await in_thread(_reads(request).one_json, caller, persona_id))

    @r.put(
        "/personas/{persona_id}", response_model=Data[Persona], responses=error_responses(404, 409)
    )
    async def update_persona(
        request: Request, persona_id: str, body: PersonaUpdate, caller: Caller = Auth
    ) -> Response:
        return one_response(await in_db(request, personas.update_persona, caller, persona_id, body))

    @r.delete(
        "/personas/{persona_id}",
        status_code=204,
        response_class=Response,
        responses=error_responses(404),
    )
    async def delete_persona(request: Request, persona_id: str, caller: Caller = Auth) -> Response:
        await in_db(request, personas.delete_persona, caller, persona_id)
        return Response(status_code=204)

    @r.post(
        "/personas/{persona_id}/publish",
        response_model=Data[Persona],
        responses=error_responses(404, 409),
    )
    async def publish_persona(
        request: Request,
        persona_id: str,
        body: PublishRequest | None = None,
        caller: Caller = Auth,
    ) -> Response:
        groups = body.group_ids if body else None
        return one_response(
            await in_db(request, publishing.publish_persona, caller, persona_id, groups)
        )

    @r.post(
        "/personas/{persona_id}/unpublish",
        response_model=Data[Persona],
        responses=error_responses(404, 409),
    )
    async def unpublish_persona(
        request: Request, persona_id: str, caller: Caller = Auth
    ) -> Response:
        return one_response(await in_db(request, publishing.unpublish_persona, caller, persona_id))


def add_source_routes(r: APIRouter) -> None:
    """The routes of a persona's knowledge sources."""

    @r.get(
        "/personas/{persona_id}/sources",
        response_model=ListData[Source],
        responses=error_responses(404),
    )
    async def list_sources(request: Request, persona_id: str, caller: Caller = Auth) -> Response:
        items = await in_db(request, persona_sources.list_sources, caller, persona_id)
        return json_response(
            ListData[Source](data=items, meta=ListMeta(request_id=request_id(request)))
        )

    @r.post(
        "/personas/{persona_id}/sources",
        status_code=201,
        response_model=Data[Source],
        responses=error_responses(404, 409),
    )
    async def add_source(
        request: Request, persona_id: str, body: SourceCreate, caller: Caller = Auth
    ) -> Response:
        return one_response(
            await in_db(request, persona_sources.add_source, caller, persona_id, body), 201
        )

    @r.put(
        "/personas/{persona_id}/sources/{source_id}",
        response_model=Data[Source],
        responses=error_responses(404),
    )
    async def update_source(
        request: Request,
        persona_id: str,
        source_id: str,
        body: SourceUpdate,
        caller: Caller = Auth,
    ) -> Response:
        return one_response(
            await in_db(request, persona_sources.update_source, caller, persona_id, source_id, body)
        )

    @r.delete(
        "/personas/{persona_id}/sources/{source_id}",
        status_code=204,
        response_class=Response,
        responses=error_responses(404),
    )
    async def delete_source(
        request: Request, persona_id: str, source_id: str, caller: Caller = Auth
    ) -> Response:
        await in_db(request, persona_sources.delete_source, caller, persona_id, source_id)
        return Response(status_code=204)


def add_avatar_routes(r: APIRouter) -> None:
    """The avatar upload (authenticated) and read (public) routes."""

    @r.post(
        "/personas/{persona_id}/avatar",
        name=AVATAR_ROUTE,
        response_model=Data[AvatarUploaded],
        responses=error_responses(404),
    )
    async def upload_avatar(
        request: Request,
        persona_id: str,
        file: UploadFile = File(..., description="The image (≤ 2 MB)"),
        caller: Caller = Auth,
    ) -> Response:
        data = await file.read(AVATAR_MAX_BYTES + 1)
        content_type = file.content_type or "application/octet-stream"
        url = await in_db(request, avatars.upload_avatar, caller, persona_id, data, content_type)
        return one_response(AvatarUploaded(avatar_url=url))

    @r.get(
        "/personas/{persona_id}/avatar",
        response_class=Response,
        responses={
            200: {"content": {"image/*": {}}, "description": "The avatar image"},
            304: {"description": "Not modified (`If-None-Match` matched the `ETag`)"},
            **error_responses(404),
        },
    )
    async def get_avatar(persona_id: str, request: Request) -> Response:
        data, content_type, sha = await in_db(request, avatars.get_avatar, persona_id)
        return image_response(
            request, data, content_type, sha, cache_control="public, max-age=3600"
        )


def add_scaidrive_routes(r: APIRouter) -> None:
    """The caller's ScaiDrive shares."""

    @r.get(
        "/scaidrive/shares",
        response_model=ListData[dict[str, Any]],
        responses={502: {"model": ErrorEnvelope}},
    )
    def scaidrive_shares(
        request: Request, session: Session = Sess, caller: Caller = Auth
    ) -> ListData[dict[str, Any]]:
        items = scaidrive.scaidrive_shares(session, caller, request.app.state.scaidrive_base_url)
        return ListData[dict[str, Any]](data=items, meta=ListMeta(request_id=request_id(request)))

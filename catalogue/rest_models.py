"""The REST routes of the frontend models and model groups (``/v1/models``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from personas_as_code.catalogue import frontend_models, paging
from personas_as_code.catalogue.api import FrontendModel, ModelGroup
from personas_as_code.catalogue.identity import Caller
from personas_as_code.catalogue.rest_dependencies import Auth, in_db
from personas_as_code.catalogue.rest_envelopes import (
    Data,
    ListData,
    ListMeta,
    json_response,
    one_response,
    page_response,
)
from personas_as_code.catalogue.rest_errors import ERRORS, error_responses, request_id


def model_routes() -> APIRouter:
    """The router of ``/v1/models``."""
    r = APIRouter(prefix="/v1/models", tags=["models"], responses=ERRORS)

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
        page = await in_db(
            request,
            frontend_models.list_models,
            caller,
            limit=limit,
            cursor=cursor,
            order=order,
            slugs=slugs,
            ids=ids,
        )
        return page_response(request, page)

    @r.get("/groups", response_model=ListData[ModelGroup])
    async def list_model_groups(request: Request, caller: Caller = Auth) -> Response:
        items = await in_db(request, frontend_models.list_model_groups, caller)
        meta = ListMeta(request_id=request_id(request))
        return json_response(ListData[ModelGroup](data=items, meta=meta))

    # after /groups: a model slug holds slashes (``tenant/acme/support-agent``)
    @r.get("/{model_slug:path}", response_model=Data[FrontendModel], responses=error_responses(404))
    async def get_model(request: Request, model_slug: str, caller: Caller = Auth) -> Response:
        return one_response(await in_db(request, frontend_models.get_model, caller, model_slug))

    return r

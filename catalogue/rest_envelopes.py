"""The REST app's success envelopes (``{"data": ...}`` and a list with ``meta``)
and the answers built from them.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from fastapi import Request
from fastapi.responses import Response
from personas_as_code.catalogue.api import Page
from personas_as_code.catalogue.rest_errors import request_id
from pydantic import BaseModel
from pydantic_core import to_json

T = TypeVar("T")


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


def json_response(envelope: Any, status_code: int = 200) -> Response:
    """An answer serialised once, by pydantic: the routes build their envelope from
    served models, so FastAPI's second validation of ``response_model`` (and its
    thread hop) is skipped; ``response_model`` still documents the shape."""
    return bytes_response(to_json(envelope), status_code)


def bytes_response(body: bytes, status_code: int = 200) -> Response:
    """An answer whose JSON ``body`` is already written (``rest_reads``)."""
    return Response(body, status_code=status_code, media_type="application/json")


def one_response(item: BaseModel, status_code: int = 200) -> Response:
    """``{"data": item}``."""
    return json_response({"data": item}, status_code)


def page_response(request: Request, page: Page[Any]) -> Response:
    """A list page: ``{"data": [...], "meta": {next_cursor, has_more, request_id}}``."""
    meta = {
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
        "request_id": request_id(request),
    }
    return json_response({"data": page.items, "meta": meta})

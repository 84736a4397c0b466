"""``/oai/v1``: the catalogue's models for any OpenAI client (seed 002's compatible layer).

* ``POST /oai/v1/chat/completions`` -- OpenAI's body (``catalogue.oai_shapes`` says what
  is honoured, ignored and refused) run through the very call of
  ``POST /v1/inference/chat`` (``rest_inference.run_chat``: the persona enricher, then
  the backends); the answer is OpenAI's unwrapped ``chat.completion``, or with
  ``stream: true`` its ``chat.completion.chunk`` events ending with ``data: [DONE]``
  (``stream_options.include_usage``: a last chunk with empty ``choices`` and the usage).
  A persona's status messages are chunks with one choice with an empty ``delta`` and a
  ``status`` object, sent as each step happens, before the answer's first chunk; for such a
  persona the stream opens once the model is resolved, and a later failure (retrieval,
  backend refused, busy or timed out) is OpenAI's error event (``data: {"error": …}``),
  not an HTTP status.  Otherwise the stream opens once the backend has started, and
  errors before that are answered with their status.
* ``GET /oai/v1/models`` and ``GET /oai/v1/models/{id}`` -- the models ``/v1/models``
  shows the caller, with the model slug (``tenant/acme/support-agent``) as the id.

The same bearer keys and tenants as the rest of the API; errors in OpenAI's shape
(``catalogue.oai_errors``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from personas_as_code.catalogue import frontend_models, paging
from personas_as_code.catalogue.api import FrontendModel
from personas_as_code.catalogue.db import FrontendModelRow
from personas_as_code.catalogue.identity import Caller
from personas_as_code.catalogue.oai_errors import openai_error
from personas_as_code.catalogue.oai_shapes import (
    OaiChatBody,
    chat_request,
    chunk_out,
    completion_out,
    model_out,
    usage_chunk,
)
from personas_as_code.catalogue.records import model_by_slug
from personas_as_code.catalogue.rest_dependencies import in_db
from personas_as_code.catalogue.rest_inference import StartedStream, run_chat
from personas_as_code.inference.chat import ChatResult
from personas_as_code.schemas.errors import PersonasError
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

log = logging.getLogger(__name__)

MAX_LISTED_MODELS = 2000
"""``GET /oai/v1/models`` lists at most this many models (OpenAI's list has no paging)."""


def _sse(event: Any) -> bytes:
    return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


def _stream_error(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, PersonasError):
        return openai_error(getattr(exc, "status", 500), exc.code, exc.message, exc.details)
    log.exception("oai stream failed", exc_info=exc)
    return openai_error(500, "INTERNAL_ERROR", "Internal server error")


async def _events(started: StartedStream, include_usage: bool) -> AsyncIterator[bytes]:
    """Our stream as OpenAI's chunks; an error after the start is one ``error`` event.
    Closing it (a client that went away) closes the upstream and frees the slot."""
    usage, last = None, None
    try:
        async for event in started:
            usage, last = event.get("usage", usage), event
            yield _sse(chunk_out(event, include_usage=include_usage))
        if include_usage and last is not None:
            yield _sse(usage_chunk(last, usage))
    except Exception as exc:  # the stream has begun: the error is its last event
        yield _sse(_stream_error(exc))
    finally:
        started.close()
    yield b"data: [DONE]\n\n"


def _timestamp(value: datetime | None) -> int:
    return int(value.timestamp()) if value is not None else 0


def list_oai_models(session: Session, caller: Caller) -> list[dict[str, Any]]:
    """The models ``GET /v1/models`` pages through for ``caller``, as OpenAI lists them."""
    models: list[FrontendModel] = []
    cursor: str | None = None
    while len(models) < MAX_LISTED_MODELS:
        page = frontend_models.list_models(
            session, caller, limit=paging.MAX_PAGE_SIZE, cursor=cursor
        )
        models += page.items
        cursor = page.next_cursor
        if not page.has_more or cursor is None:
            break
    models = models[:MAX_LISTED_MODELS]
    created = dict(
        session.execute(
            select(col(FrontendModelRow.id), col(FrontendModelRow.created_at)).where(
                col(FrontendModelRow.id).in_([m.id for m in models])
            )
        ).all()
    )
    return [
        model_out(
            m.slug, _timestamp(created.get(m.id)), caller.tenant_slug if m.tenant_id else None
        )
        for m in models
    ]


def get_oai_model(session: Session, caller: Caller, slug: str) -> dict[str, Any]:
    """One model the caller sees (``GET /v1/models/{slug}``'s lookup), as OpenAI's."""
    row = model_by_slug(session, caller, slug)
    owner = caller.tenant_slug if row.tenant_id else None
    return model_out(row.slug, _timestamp(row.created_at), owner)


def oai_routes(get_caller: Any) -> APIRouter:
    """The router of ``/oai/v1``; ``get_caller`` is the app's auth dependency."""
    r = APIRouter(prefix="/oai/v1", tags=["openai-compatible"])

    @r.post(
        "/chat/completions",
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "OpenAI's chat.completion; chunks when `stream` is true",
            },
            404: {"description": "Unknown or unpublished model (`model_not_found`)"},
            502: {"description": "The backend refused or answered nonsense"},
            503: {"description": "No backend reachable or configured"},
            504: {"description": "The backend timed out"},
        },
    )
    async def chat_completions(
        body: OaiChatBody, request: Request, caller: Caller = Depends(get_caller)
    ) -> Any:
        """OpenAI's ``chat.completions.create``; a persona's model runs its enricher.

        Streaming for a persona with status messages, the stream opens (200) once the
        model is resolved: a failure after that (retrieval, backend) is the stream's
        OpenAI error event, not a status code."""
        started = await run_chat(request, caller, chat_request(body), bool(body.stream))
        if isinstance(started, ChatResult):
            return JSONResponse(completion_out(started.to_dict()))
        return StreamingResponse(
            _events(started, body.include_usage()),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @r.get("/models")
    async def list_models(request: Request, caller: Caller = Depends(get_caller)) -> Any:
        """The models the caller sees, OpenAI's list (``{"object": "list", "data"}``)."""
        data = await in_db(request, list_oai_models, caller)
        return JSONResponse({"object": "list", "data": data})

    @r.get("/models/{model_id:path}")
    async def retrieve_model(
        request: Request, model_id: str, caller: Caller = Depends(get_caller)
    ) -> Any:
        """One model by its slug (OpenAI's ``models.retrieve``)."""
        return JSONResponse(await in_db(request, get_oai_model, caller, model_id))

    return r

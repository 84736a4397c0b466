"""``POST /v1/inference/chat``: call a model of the catalogue, as ScaiGrid does.

Bearer auth (checked by the app's guard before any body byte is read), the
app's error envelope, and the body of an OpenAI-style chat call::

    {"model": "tenant/<t>/<slug>", "messages": [{"role", "content"}, ...],
     "stream": false, "temperature": ..., "max_tokens": ..., ...}

A published persona's model runs the persona enricher (``catalogue.chat``);
any other frontend model dispatches directly.  The answer is ``{"data": ...}``
holding an ``inference.completion.ChatCompletion`` (the shape is declared there, once);
with ``"stream": true`` it is server-sent events, OpenAI-style
``data: {chat.completion.chunk}`` lines ending with ``data: [DONE]`` -- the answer's
first event carries ``retrieval`` and ``backend``, the last one ``finish_reason`` and
``usage``.  A persona's status messages (chunks without text and with a ``status``
object: ``inference.status_messages``) come before the answer's first event, each as it
happens: the stream opens once the model is resolved, then ``searching``, the
retrieval, ``reading``, the backend's stream starting, ``answering``, the answer.  An
error after the stream began (for such a persona: a failed retrieval, a backend that
refused, is busy or timed out) arrives as one ``data: {"error": {...}}`` event before
``[DONE]``; before it (always, with ``status_messages_mode`` none) as its status code.

The model call runs on its backend model's own bounded pool
(``catalogue.backend_calls``), never on the server's shared worker threads: a hung
backend cannot stall other routes or tenants, and a call beyond a full pool is
answered 503 ``BACKEND_BUSY`` with ``Retry-After``.  A client that goes away
mid-stream closes the upstream connection.
"""

from __future__ import annotations

import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from personas_as_code.catalogue import backend_calls
from personas_as_code.catalogue.api import RequestBody
from personas_as_code.catalogue.chat import ChatRequest, ChatTarget, enrich_chat, resolve_chat
from personas_as_code.catalogue.identity import Caller
from personas_as_code.inference.chat import ChatCall, ChatResult, new_completion_id
from personas_as_code.inference.completion import ChatData
from personas_as_code.inference.enricher import retrieves
from personas_as_code.inference.messages import ChatMessage
from personas_as_code.inference.status_messages import status_chunk, status_step
from personas_as_code.schemas.errors import PersonasError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

MAX_MESSAGES = 500
MAX_MESSAGE_CHARS = 256 * 1024
MAX_STOP = 4

StopText = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ChatMessageIn(RequestBody):
    """One message of the conversation."""

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=MAX_MESSAGE_CHARS)


class ChatBody(BaseModel):
    """Body of ``POST /v1/inference/chat``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model: str = Field(min_length=1, max_length=300, description="Frontend model slug.")
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    stop: StopText | Annotated[list[StopText], Field(max_length=MAX_STOP)] | None = Field(
        default=None, description=f"Up to {MAX_STOP} stop sequences."
    )
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)

    def params(self) -> dict[str, Any]:
        """The inference params the caller set."""
        return self.model_dump(exclude={"model", "messages", "stream"}, exclude_none=True)


def _sse(event: Any) -> bytes:
    return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


class StartedStream(ABC):
    """A chat stream that is answered 200: its events in order by ``async for``
    (``chat.completion.chunk`` dicts, status chunks included); an error from here on
    raises from the iteration (the route sends it as the stream's error event).
    ``close()`` (sync, safe twice) ends it: the upstream is closed, the slot freed."""

    def __init__(self) -> None:
        self.backend: backend_calls.ChatEvents | None = None

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        """The events, in order."""

    def close(self) -> None:
        """End the stream: the upstream is closed and the backend's slot freed."""
        if self.backend is not None:
            self.backend.close()


class ReadyStream(StartedStream):
    """A stream whose backend has started (status messages off): the first event
    (``retrieval`` and ``backend``), then the answer."""

    def __init__(self, events: backend_calls.ChatEvents) -> None:
        super().__init__()
        self.backend = events

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        """The first event, then the answer's."""
        assert self.backend is not None
        yield self.backend.first
        async for event in self.backend:
            yield event


class LiveStream(StartedStream):
    """A persona's stream with status messages, opened once the model is resolved: each
    step is sent as it happens -- ``searching``, the retrieval (on the shared threads),
    ``reading``, the backend's stream starting on its pool, ``answering`` -- then the
    first event (``retrieval`` and ``backend``) and the answer."""

    def __init__(
        self, engine: Engine, pools: backend_calls.BackendPools, target: ChatTarget
    ) -> None:
        super().__init__()
        self._engine, self._pools, self._target = engine, pools, target

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        """The steps, each when it happens, then the answer's events."""
        assert self._target.profile is not None
        rag = self._target.profile.rag
        ident = (new_completion_id(), int(time.time()))
        answer = {"id": ident[0], "created": ident[1], "model": self._target.request.model}
        searching = status_step(rag.status_mode, rag.status_messages, "searching")
        if searching is not None:
            yield status_chunk(answer, searching)
        call = await run_in_threadpool(enrich_chat, self._engine, self._target)
        steps = {s.key: s for s in (call.enrichment.status if call.enrichment else [])}
        if "reading" in steps:
            yield status_chunk(answer, steps["reading"])
        self.backend = await backend_calls.events(self._pools, call, ident)
        if "answering" in steps:
            yield status_chunk(answer, steps["answering"])
        async for event in ReadyStream(self.backend):
            yield event


async def run_chat(
    request: Request, caller: Caller, ask: ChatRequest, streaming: bool
) -> ChatResult | StartedStream:
    """The chat use case of ``/v1/inference/chat`` and ``/oai/v1/chat/completions``: the
    persona enricher, then the backends on their own pools (``catalogue.backend_calls``);
    a ``ChatResult``, or a ``StartedStream``.  Errors raise until the stream is started:
    the model is resolved first (an unknown model is always a 404); a persona's stream
    with status messages then starts at once (``LiveStream``), any other once its
    backend has started."""
    engine = request.app.state.engine
    # the catalogue's database and the retrieval: briefly, on the shared threads
    target, call = await run_in_threadpool(_prepare, engine, caller, ask, streaming)
    pools = backend_calls.pools_of(request.app.state)
    if call is None:
        return LiveStream(engine, pools, target)
    if not streaming:
        return await backend_calls.answer(pools, call)
    return ReadyStream(await backend_calls.events(pools, call))


def _prepare(
    engine: Engine, caller: Caller, ask: ChatRequest, streaming: bool
) -> tuple[ChatTarget, ChatCall | None]:
    """The resolved call, and (one trip to the threads) its enriched call -- None for a
    stream that reports status messages, which enriches once it has begun."""
    target = resolve_chat(engine, caller, ask)
    if streaming and _announces(target):
        return target, None
    return target, enrich_chat(engine, target)


def _announces(target: ChatTarget) -> bool:
    """Whether the call reports status messages: a persona with a status mode whose
    retrieval runs for these messages."""
    profile = target.profile
    return (
        profile is not None
        and profile.rag.status_mode != "none"
        and retrieves(profile, target.request.messages)
    )


async def _events(started: StartedStream) -> AsyncIterator[bytes]:
    """The stream's server-sent events; closing it (a client that went away) closes
    the upstream and frees the backend's slot."""
    try:
        async for event in started:
            yield _sse(event)
    except PersonasError as exc:
        yield _sse({"error": exc.to_dict()})
    except Exception:
        log.exception("inference stream failed")
        yield _sse({"error": {"code": "INTERNAL_ERROR", "message": "Internal server error"}})
    finally:
        started.close()
    yield b"data: [DONE]\n\n"


def inference_routes(get_caller: Any) -> APIRouter:
    """The router; ``get_caller`` is the app's auth dependency (so the guard sees it)."""
    r = APIRouter(prefix="/v1/inference", tags=["inference"])

    @r.post(
        "/chat",
        response_model=ChatData,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "The answer; server-sent events when `stream` is true",
            },
            404: {"description": "Unknown or unpublished model (`PERSONA_MODEL_NOT_FOUND`)"},
            429: {"description": "The backend kept rate-limiting (`BACKEND_RATE_LIMITED`)"},
            502: {"description": "The backend refused or answered nonsense (`BACKEND_*`)"},
            503: {
                "description": "No backend reachable or configured, or every call slot of "
                "the backend is taken (`BACKEND_BUSY`, with `Retry-After`)"
            },
            504: {"description": "The backend timed out (`BACKEND_TIMEOUT`)"},
        },
    )
    async def chat(body: ChatBody, request: Request, caller: Caller = Depends(get_caller)) -> Any:
        """Call a model; a published persona's model runs the persona enricher first.

        Streaming for a persona with status messages, the stream opens (200) once the
        model is resolved: a failure after that (retrieval, backend) is the stream's
        ``data: {"error": ...}`` event, not a status code."""
        ask = ChatRequest(
            model=body.model,
            messages=[ChatMessage(m.role, m.content) for m in body.messages],
            params=body.params(),
        )
        started = await run_chat(request, caller, ask, body.stream)
        if isinstance(started, ChatResult):
            return {"data": started.to_dict()}
        return StreamingResponse(
            _events(started),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return r

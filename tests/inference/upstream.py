"""A small, deterministic OpenAI-compatible chat server for the tests (Starlette).

It is a real HTTP server (served on loopback by ``catalogue.serve.serve_in_thread``),
not a mock: backends talk to it over sockets.  The upstream ``model`` of a request
picks its behaviour:

* ``echo`` (or anything not below): answers ``echo: <last user message>`` with usage;
  streamed word by word as server-sent events when ``stream`` is true;
* ``verbatim``: answers the last user message itself (a JSON answer for a JSON case);
* ``limited-once``: the first call answers 429 with ``Retry-After: 1``, later ones echo;
* ``down``: always 503;
* ``slow``: waits ``SLOW_SECONDS`` before answering;
* ``malformed``: 200 with JSON that is no chat completion;
* ``not-json``: 200 with an HTML page;
* ``broken-stream``: a stream whose second event is not JSON;
* ``refuse``: 400 with an OpenAI error envelope.

Every request is recorded (time, headers, JSON body) in ``Upstream.calls``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from personas_as_code.catalogue.serve import serve_in_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

SLOW_SECONDS = 1.5


@dataclass
class Call:
    at: float
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Upstream:
    """The server's state: what it received, and the once-only behaviours used up."""

    base_url: str = ""
    calls: list[Call] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def models(self) -> list[str]:
        return [c.body.get("model", "") for c in self.calls]


def _last_user(body: dict[str, Any]) -> str:
    users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
    return users[-1] if users else ""


def _completion(body: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1,
        "model": body.get("model"),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def _event(data: Any) -> bytes:
    return f"data: {json.dumps(data)}\n\n".encode()


async def _stream(body: dict[str, Any], text: str, broken: bool) -> AsyncIterator[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "model": body.get("model"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    yield b": keep-alive comment\n\n"
    yield _event(chunk({"role": "assistant", "content": ""}))
    if broken:
        yield b"data: {not json\n\n"
        return
    for i, word in enumerate(text.split(" ")):
        yield _event(chunk({"content": ("" if i == 0 else " ") + word}))
        await asyncio.sleep(0)
    yield _event(chunk({}, "stop"))
    yield b"data: [DONE]\n\n"


def build_app(state: Upstream) -> Starlette:
    async def chat(request: Request) -> Response:
        body = json.loads(await request.body())
        with state.lock:
            state.calls.append(Call(time.monotonic(), dict(request.headers), body))
        model = body.get("model", "")
        if model == "limited-once":
            with state.lock:
                first = model not in state.used
                state.used.add(model)
            if first:
                return JSONResponse(
                    {"error": {"message": "slow down"}},
                    status_code=429,
                    headers={"Retry-After": "1"},
                )
        if model == "down":
            return JSONResponse({"error": {"message": "overloaded"}}, status_code=503)
        if model == "refuse":
            return JSONResponse(
                {"error": {"message": "model 'refuse' not found", "type": "invalid_request"}},
                status_code=400,
            )
        if model == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        if model == "malformed":
            return JSONResponse({"object": "chat.completion", "answer": "no choices here"})
        if model == "not-json":
            return PlainTextResponse("<html>Bad gateway</html>", media_type="text/html")
        text = _last_user(body) if model == "verbatim" else f"echo: {_last_user(body)}"
        if body.get("stream"):
            return StreamingResponse(
                _stream(body, text, broken=model == "broken-stream"),
                media_type="text/event-stream",
            )
        return JSONResponse(_completion(body, text))

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


@contextlib.contextmanager
def serve_upstream() -> Iterator[Upstream]:
    """Serve the upstream on a free loopback port; ``base_url`` ends in ``/v1``."""
    state = Upstream()
    with serve_in_thread(build_app(state)) as url:
        state.base_url = url + "/v1"
        yield state

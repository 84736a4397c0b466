"""A tiny OpenAI-compatible image server for the tests (``POST /v1/images/generations``).

A real HTTP server on loopback (``catalogue.serve.serve_in_thread``), not a mock.  The
requested ``model`` picks the answer:

* ``png-artist`` (or anything not below): one base64 PNG, its colour taken from the
  prompt, so different prompts give different images;
* ``url-only``: an answer with a URL and no ``b64_json``;
* ``not-an-image``: base64 of text;
* ``down``: HTTP 500;
* ``slow``: waits ``SLOW_SECONDS`` before answering.

Every request (headers and JSON body) is recorded in ``ImageServer.calls``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from personas_as_code.catalogue.serve import serve_in_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SLOW_SECONDS = 1.5


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


@dataclass
class ImageServer:
    base_url: str = ""
    calls: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)


def _app(state: ImageServer) -> Starlette:
    async def generations(request: Request) -> JSONResponse:
        body = await request.json()
        state.calls.append((dict(request.headers), body))
        model = body.get("model")
        if model == "down":
            return JSONResponse({"error": {"message": "boom"}}, status_code=500)
        if model == "slow":
            time.sleep(SLOW_SECONDS)
        if model == "url-only":
            return JSONResponse({"data": [{"url": "http://169.254.169.254/latest/meta-data"}]})
        if model == "not-an-image":
            data = b"just some text"
        else:
            colour = hashlib.sha256(body.get("prompt", "").encode()).digest()[:3]
            data = png(16, 16, (colour[0], colour[1], colour[2]))
        return JSONResponse({"created": 0, "data": [{"b64_json": base64.b64encode(data).decode()}]})

    return Starlette(routes=[Route("/v1/images/generations", generations, methods=["POST"])])


@contextlib.contextmanager
def image_server() -> Iterator[ImageServer]:
    state = ImageServer()
    with serve_in_thread(_app(state)) as base_url:
        state.base_url = base_url + "/v1"
        yield state

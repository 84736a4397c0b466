"""A server that speaks only the seed's test-personas API (``reference/test-personas-api.txt``),
as another product would: no auth, no error envelope, and no ``metadata`` or ``headers`` in
its answers (it drops what it does not know).  A real HTTP server on loopback, for the
sync engine's "foreign server" fallback (``[test_personas] ownership = "project"``)."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from personas_as_code.catalogue.serve import serve_in_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SEED_FIELDS = ("name", "description", "systemPrompt")


def _app(store: dict[str, dict[str, Any]]) -> Starlette:
    lock = threading.Lock()

    def now() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    async def collection(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(list(store.values()))
        body = await request.json()
        if not body.get("name"):
            return JSONResponse({"error": "Name is required"}, status_code=400)
        with lock:
            if any(p["name"] == body["name"] for p in store.values()):
                return JSONResponse({"error": "Persona with name already exists"}, 409)
            persona = {"id": str(uuid.uuid4()), "createdAt": now(), "updatedAt": now()}
            persona.update({k: body[k] for k in SEED_FIELDS if k in body})
            store[persona["id"]] = persona
        return JSONResponse(persona, status_code=201)

    async def one(request: Request) -> Response:
        persona = store.get(request.path_params["id"])
        if persona is None:
            return JSONResponse({"error": "Persona not found"}, status_code=404)
        if request.method == "GET":
            return JSONResponse(persona)
        if request.method == "DELETE":
            store.pop(persona["id"], None)
            return Response(status_code=204)
        body = await request.json()
        persona.update({k: body[k] for k in SEED_FIELDS if body.get(k) is not None})
        persona["updatedAt"] = now()
        return JSONResponse(persona)

    return Starlette(
        routes=[
            Route("/api/projects/{project}/personas", collection, methods=["GET", "POST"]),
            Route("/api/projects/{project}/personas/{id}", one, methods=["GET", "PUT", "DELETE"]),
        ]
    )


@contextlib.contextmanager
def seed_server() -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    """Serve the seed API; yield its base URL and its store (id -> persona)."""
    store: dict[str, dict[str, Any]] = {}
    with serve_in_thread(_app(store)) as base_url:
        yield base_url, store

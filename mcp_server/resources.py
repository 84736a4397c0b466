"""Resources: each persona as ``persona://{slug}``, its system prompt, and the schema.

``resources/list`` lists every valid persona of the working tree, sorted by slug,
in pages of ``PAGE_SIZE``: the cursor names the last slug of the previous page, so
a persona added or removed between pages shifts nothing.  The slug list is sorted
once per repo snapshot (``SlugIndex``), which also answers slug completion.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_left, bisect_right
from importlib import resources
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS, ListResourcesResult, PaginatedRequestParams, Resource
from personas_as_code.application.index import Snapshot
from personas_as_code.application.service import PersonaService
from personas_as_code.schemas.errors import PersonasError

PAGE_SIZE = 200
PERSONA_URI = "persona://{slug}"
PROMPT_URI = "persona://{slug}/system-prompt"
_CURSOR_PREFIX = "after:"
_MAX_CURSOR = 256


class SlugIndex:
    """The sorted slugs of the service's current snapshot, re-sorted only when it changes."""

    def __init__(self, service: PersonaService) -> None:
        self.service = service
        self._cached: tuple[Snapshot, list[str]] | None = None

    def current(self) -> tuple[Snapshot, list[str]]:
        """The current snapshot and its slugs in sorted order (blocking: may stat the repo)."""
        snapshot = self.service.snapshot()
        cached = self._cached
        if cached is None or cached[0] is not snapshot:
            cached = (snapshot, sorted(snapshot.by_slug))
            self._cached = cached
        return cached

    def starting_with(self, prefix: str, limit: int) -> tuple[list[str], int]:
        """Up to ``limit`` slugs starting with ``prefix`` (case-insensitive), and how many match."""
        _, slugs = self.current()
        prefix = prefix.lower()
        start = bisect_left(slugs, prefix)
        end = bisect_left(slugs, prefix + "\U0010ffff", lo=start)
        return slugs[start : min(end, start + limit)], end - start


def encode_cursor(last_slug: str) -> str:
    """The opaque cursor of the page after ``last_slug``."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{last_slug}".encode()).decode()


def decode_cursor(cursor: str) -> str:
    """The last slug named by ``cursor``; MCPError (invalid params) for anything else."""
    try:
        if len(cursor) > _MAX_CURSOR:
            raise ValueError
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError, binascii.Error):
        text = ""
    if not text.startswith(_CURSOR_PREFIX):
        raise MCPError(INVALID_PARAMS, "invalid cursor: pass the nextCursor of a previous page")
    return text[len(_CURSOR_PREFIX) :]


def schema_text() -> str:
    """The JSON Schema of a persona file, as shipped with the package."""
    return (
        resources.files("personas_as_code.schemas")
        .joinpath("persona.schema.json")
        .read_text("utf-8")
    )


def _persona_resource(snapshot: Snapshot, slug: str) -> Resource:
    spec = snapshot.by_slug[slug].persona.spec
    return Resource(
        uri=f"persona://{slug}",
        name=slug,
        title=spec.name,
        description=spec.description or None,
        mime_type="text/yaml",
    )


def register_resources(server: MCPServer, service: PersonaService, slugs: SlugIndex) -> None:
    """Add the persona, system-prompt and schema resources, and the paged ``resources/list``."""

    @server.resource(
        PERSONA_URI,
        name="persona",
        description="A persona file as YAML (working tree).",
        mime_type="text/yaml",
    )
    def persona_file(slug: str) -> str:
        try:
            return service.persona_yaml(slug)
        except PersonasError as exc:
            raise ResourceNotFoundError(f"persona://{slug}: {exc.message}") from exc

    @server.resource(
        PROMPT_URI,
        name="persona-system-prompt",
        description="A persona's system prompt, resolved from its prompt file if it uses one.",
        mime_type="text/plain",
    )
    def persona_prompt(slug: str) -> str:
        try:
            view = service.get_persona(slug)
        except PersonasError as exc:
            raise ResourceNotFoundError(f"persona://{slug}/system-prompt: {exc.message}") from exc
        if view.system_prompt is None:
            raise ResourceNotFoundError(
                f"persona://{slug}/system-prompt: the file is invalid (get_persona shows why)"
            )
        return view.system_prompt

    @server.resource(
        "schema://persona",
        name="persona-schema",
        description="JSON Schema of a persona file.",
        mime_type="application/schema+json",
    )
    def persona_schema() -> str:
        return schema_text()

    async def list_resources(
        ctx: Any, params: PaginatedRequestParams | None
    ) -> ListResourcesResult:
        cursor = params.cursor if params is not None else None
        after = decode_cursor(cursor) if cursor is not None else None
        snapshot, sorted_slugs = await anyio.to_thread.run_sync(slugs.current)
        start = 0 if after is None else bisect_right(sorted_slugs, after)
        page = sorted_slugs[start : start + PAGE_SIZE]
        listed = await server.list_resources() if after is None else []
        listed += [_persona_resource(snapshot, slug) for slug in page]
        more = start + PAGE_SIZE < len(sorted_slugs)
        return ListResourcesResult(
            resources=listed, next_cursor=encode_cursor(page[-1]) if more else None
        )

    # MCPServer's own resources/list ignores the cursor and knows only static resources.
    server._lowlevel_server.add_request_handler(
        "resources/list", PaginatedRequestParams, list_resources
    )

"""Map the project's typed errors to MCP ``ToolError``s the assistant can read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mcp.server.mcpserver.exceptions import ToolError
from personas_as_code.schemas.errors import PersonasError


@contextmanager
def tool_errors() -> Iterator[None]:
    """Re-raise ``PersonasError`` as ``ToolError('<CODE>: <message>')``."""
    try:
        yield
    except PersonasError as exc:
        raise ToolError(f"{exc.code}: {exc.message}") from exc

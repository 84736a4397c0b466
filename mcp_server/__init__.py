"""The personas MCP server: the protocol adapter over the application layer
(``personas_as_code.application``): tools, resources, prompts and completion."""

from personas_as_code.mcp_server.server import build_server

__all__ = ["build_server"]

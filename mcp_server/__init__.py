"""The personas MCP server: tools over a persona repo, drafts as git branches."""

from personas_as_code.mcp_server.server import build_server
from personas_as_code.mcp_server.service import PersonaService

__all__ = ["PersonaService", "build_server"]

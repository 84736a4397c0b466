"""The personas MCP server: tools over a persona repo, drafts as git branches."""

from mcp_server.server import build_server
from mcp_server.service import PersonaService

__all__ = ["PersonaService", "build_server"]

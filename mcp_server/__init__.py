"""The personas MCP server: tools over a persona repo, drafts as git branches."""

from personas_as_code.application.service import PersonaService
from personas_as_code.mcp_server.server import build_server

__all__ = ["PersonaService", "build_server"]

"""A server started where there is no persona repo: it starts, and every tool answers
``CONFIG_ERROR`` naming the folder and the fix.

An MCP client such as Claude Desktop starts ``personas mcp`` in ``/`` when ``--repo`` is
left out.  Crashing there shows the user a disconnected server and nothing else;
answering as if the folder were an empty repo (and creating ``.personas/`` in it) would
pretend.  Instead the server lists its usual tools, each refusing with one sentence the
assistant can pass on, and nothing reads, opens or writes anything in the folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools.base import Tool
from personas_as_code.schemas.config import CONFIG_FILE
from personas_as_code.schemas.errors import ConfigError

FIX = (
    "start the server with --repo <path of your persona repo> (MCP clients such as Claude "
    "Desktop start it in / when --repo is left out), or run personas init in that folder"
)


def repo_refusal(root: Path) -> ConfigError | None:
    """Why ``root`` cannot be served (``CONFIG_ERROR``), or None when it is a persona repo
    (a folder holding ``personas.toml``)."""
    if not root.is_dir():
        return ConfigError(f"the folder {root} does not exist; {FIX}")
    if not (root / CONFIG_FILE).is_file():
        return ConfigError(f"{root} is not a persona repo (no {CONFIG_FILE} in it); {FIX}")
    return None


class Unavailable:
    """Stands in for the ``PersonaService`` where there is no repo: any use raises the
    refusal (the refusing tools never reach it)."""

    def __init__(self, refusal: ConfigError) -> None:
        self._refusal = refusal

    def __getattr__(self, name: str) -> NoReturn:
        raise self._refusal


class RefusingTool(Tool):
    """A tool that answers its refusal whatever the arguments, and runs nothing."""

    refusal: str = ""

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False):
        raise ToolError(f"Error executing tool {self.name}: {self.refusal}")


def refuse_every_tool(server: MCPServer, refusal: ConfigError) -> None:
    """Make every tool registered on ``server`` answer ``refusal`` (``CODE: message``)."""
    manager = server._tool_manager  # the SDK offers no other way to swap a tool's body
    text = f"{refusal.code}: {refusal.message}"
    for tool in manager.list_tools():
        fields = {name: getattr(tool, name) for name in Tool.model_fields}
        manager._tools[tool.name] = RefusingTool.model_construct(**fields, refusal=text)

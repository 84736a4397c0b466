"""Tool inputs reject unknown arguments.

The SDK builds each tool's argument model from the function's signature and ignores
arguments it does not know, so a misspelt ``draft_idd`` would silently run the tool on
the working tree.  ``forbid_unknown_arguments`` swaps every registered tool's argument
model for one that refuses extras, and its input schema says
``additionalProperties: false`` so clients can see it.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from pydantic import ConfigDict


def forbid_unknown_arguments(server: MCPServer) -> None:
    """Make every tool registered on ``server`` so far refuse arguments it does not declare."""
    # The SDK offers no hook for the argument model; its tool manager is the one place.
    for tool in server._tool_manager.list_tools():
        loose = tool.fn_metadata.arg_model
        if loose.model_config.get("extra") == "forbid":
            continue
        strict = type(
            loose.__name__,
            (loose,),
            {
                "__module__": loose.__module__,
                "__doc__": loose.__doc__,
                "model_config": ConfigDict(extra="forbid"),
            },
        )
        tool.fn_metadata.arg_model = strict
        tool.parameters = strict.model_json_schema(by_alias=True)

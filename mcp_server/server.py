"""``build_server``: the MCP server over one persona repo."""

from __future__ import annotations

from pathlib import Path

from mcp.server.mcpserver import MCPServer
from personas_as_code.application.service import PersonaService
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.mcp_server.client_log import register_client_log
from personas_as_code.mcp_server.completion import register_completion
from personas_as_code.mcp_server.prompts import register_prompts
from personas_as_code.mcp_server.resources import SlugIndex, register_resources
from personas_as_code.mcp_server.strict_args import forbid_unknown_arguments
from personas_as_code.mcp_server.tools_drafts import register_draft_tools
from personas_as_code.mcp_server.tools_read import register_read_tools
from personas_as_code.mcp_server.tools_review import register_plan_tool, register_test_tool
from personas_as_code.mcp_server.tools_run import register_run_tool

INSTRUCTIONS = """\
Personas are YAML files in a git repo. Read with get_persona / search_personas,
check with validate_personas and preview_persona; run_persona asks the model
once and test_persona runs the persona's test cases (on a draft: which ones the
draft flips). Propose changes with patch_persona_draft: each draft is a git
branch that a human reviews as a pull request; nothing here changes the
catalogue or the checked-out branch. Patch an
existing draft with its draft_id and expected_version (the version returned by
the previous patch)."""


def build_server(
    repo: str | Path = ".",
    *,
    read_only: bool = False,
    catalogue: Catalogue | None = None,
    service: PersonaService | None = None,
    with_catalogue: bool = True,
    environment: str | None = None,
) -> MCPServer:
    """The MCP server for the repo at ``repo``; ``read_only`` hides every write tool.

    ``catalogue`` (a ``catalogue.protocol.Catalogue``) is optional: with it,
    get_persona reports catalogue state and preview uses its context windows;
    without it, plan_sync opens the repo's catalogue when called.
    ``with_catalogue=False`` means no catalogue at all: plan_sync is not offered
    and nothing opens (or creates) a catalogue.  ``environment`` selects one of the repo
    config's environments (its tenant and persona overrides; None: the default).
    """
    if catalogue is not None and not with_catalogue:
        raise ValueError("a catalogue was given with with_catalogue=False")
    service = service or PersonaService(repo, catalogue=catalogue, environment=environment)
    server = MCPServer(
        name="personas",
        title="Personas as code",
        instructions=INSTRUCTIONS,
        version="0.1.0",
    )
    register_read_tools(server, service)
    if with_catalogue:
        register_plan_tool(server, service)
        register_run_tool(server, service)
        register_test_tool(server, service)
    if not read_only:
        register_draft_tools(server, service)
    forbid_unknown_arguments(server)

    slugs = SlugIndex(service)
    register_resources(server, service, slugs)
    register_prompts(server, service, read_only=read_only)
    register_completion(server, slugs)
    register_client_log(server)

    server.service = service  # type: ignore[attr-defined]
    return server

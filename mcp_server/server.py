"""``build_server``: the MCP server over one persona repo."""

from __future__ import annotations

from pathlib import Path
from typing import cast

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
from personas_as_code.mcp_server.unconfigured import (
    Unavailable,
    refuse_every_tool,
    repo_refusal,
)
from personas_as_code.schemas.errors import ConfigError

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
    config's environments (its tenant and persona overrides; None: the default).  Where
    ``repo`` is no persona repo
    (no ``personas.toml``), the server still starts and every tool answers
    ``CONFIG_ERROR`` naming the folder and the fix (``mcp_server.unconfigured``).
    """
    if catalogue is not None and not with_catalogue:
        raise ValueError("a catalogue was given with with_catalogue=False")
    refusal = None if service is not None else repo_refusal(Path(repo).resolve())
    if refusal is not None:
        return _unconfigured_server(refusal, read_only=read_only, with_catalogue=with_catalogue)
    service = service or PersonaService(repo, catalogue=catalogue, environment=environment)
    server = _server(INSTRUCTIONS)
    _register_tools(server, service, read_only=read_only, with_catalogue=with_catalogue)

    slugs = SlugIndex(service)
    register_resources(server, service, slugs)
    register_prompts(server, service, read_only=read_only)
    register_completion(server, slugs)
    register_client_log(server)

    server.service = service  # type: ignore[attr-defined]
    return server


def _server(instructions: str) -> MCPServer:
    return MCPServer(
        name="personas", title="Personas as code", instructions=instructions, version="0.1.0"
    )


def _register_tools(
    server: MCPServer, service: PersonaService, *, read_only: bool, with_catalogue: bool
) -> None:
    """The tools, in the order the tools list shows them; unknown arguments refused."""
    register_read_tools(server, service)
    if with_catalogue:
        register_plan_tool(server, service)
        register_run_tool(server, service)
        register_test_tool(server, service)
    if not read_only:
        register_draft_tools(server, service)
    forbid_unknown_arguments(server)


def _unconfigured_server(
    refusal: ConfigError, *, read_only: bool, with_catalogue: bool
) -> MCPServer:
    """The server where there is no repo: the usual tools, each answering ``refusal``;
    no resource, prompt or completion (they would read the folder)."""
    server = _server(f"This server has no persona repo to serve. {refusal.message}.")
    service = cast(PersonaService, Unavailable(refusal))
    _register_tools(server, service, read_only=read_only, with_catalogue=with_catalogue)
    refuse_every_tool(server, refusal)
    register_client_log(server)
    return server

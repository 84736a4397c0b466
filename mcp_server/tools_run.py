"""``run_persona``: one real model call for a persona of the working tree or a draft.

Read-only (nothing is published, persisted or written) but open-world: it calls
a model backend, which may be a service on the network.  The result is redacted
(``untrusted.secrets``): a credential in the knowledge, the prompt or the answer is not
handed to the assistant.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from personas_as_code.application.plan_sync import catalogue_for
from personas_as_code.application.service import PersonaService
from personas_as_code.application.studio_call import StudioCall
from personas_as_code.mcp_server.body_args import with_body_arguments
from personas_as_code.mcp_server.errors import tool_errors
from personas_as_code.mcp_server.tools_read import DraftIdArg, SlugArg
from personas_as_code.sandbox.run import RunResult
from personas_as_code.untrusted.secrets import redact_model

RUN = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)


def register_run_tool(server: MCPServer, service: PersonaService) -> None:
    """Add ``run_persona`` to ``server``."""

    @server.tool(title="Run a persona once", annotations=RUN)
    @with_body_arguments(StudioCall)
    def run_persona(slug: SlugArg = None, draft_id: DraftIdArg = None, **body: Any) -> RunResult:
        """Send one message (trigger_text) to the persona as the working tree (or draft
        `draft_id`) has it: its system prompt, knowledge retrieved from that tree's (or
        draft's) knowledge folders, its default_params under the overrides, dispatched to
        its base model's backend. Says which backend answered and which chunks were sent.
        Publishes and persists nothing. Takes the same body as preview_persona (Prompt
        Studio's); what means nothing for a persona here is listed in `ignored`."""
        call = StudioCall(**body)
        with tool_errors():
            request = call.run_request()
            with catalogue_for(service) as catalogue:
                result = service.run(slug, draft_id, request, catalogue=catalogue)
        result.ignored = call.ignored()
        return redact_model(result)

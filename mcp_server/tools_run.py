"""``run_persona``: one real model call for a persona of the working tree or a draft.

Read-only (nothing is published, persisted or written) but open-world: it calls
a model backend, which may be a service on the network.  The result is redacted
(``untrusted.secrets``): a credential in the knowledge, the prompt or the answer is not
handed to the assistant.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from personas_as_code.application.ids import MAX_TEXT_BYTES
from personas_as_code.application.plan_sync import catalogue_for
from personas_as_code.application.service import PersonaService
from personas_as_code.mcp_server.errors import tool_errors
from personas_as_code.mcp_server.tools_read import (
    DraftIdArg,
    HistoryArg,
    MaxTokensArg,
    SlugArg,
    SystemPromptOverrideArg,
    TemperatureArg,
    TopPArg,
)
from personas_as_code.sandbox.run import RunRequest, RunResult
from personas_as_code.untrusted.secrets import redact_model
from pydantic import Field

RUN = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)


def register_run_tool(server: MCPServer, service: PersonaService) -> None:
    """Add ``run_persona`` to ``server``."""

    @server.tool(title="Run a persona once", annotations=RUN)
    def run_persona(
        message: Annotated[
            str, Field(min_length=1, max_length=MAX_TEXT_BYTES, description="The user's message.")
        ],
        slug: SlugArg = None,
        draft_id: DraftIdArg = None,
        history: HistoryArg = None,
        system_prompt_override: SystemPromptOverrideArg = None,
        temperature: TemperatureArg = None,
        top_p: TopPArg = None,
        max_tokens: MaxTokensArg = None,
    ) -> RunResult:
        """Send one message to the persona as the working tree (or draft `draft_id`) has it:
        its system prompt, knowledge retrieved from that tree's (or draft's) knowledge
        folders, its default_params under the overrides, dispatched to its base model's
        backend. Says which backend answered and which chunks were sent. Publishes and
        persists nothing."""
        request = RunRequest(
            message=message,
            history=history or [],
            system_prompt_override=system_prompt_override,
            overrides={"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens},
        )
        with tool_errors(), catalogue_for(service) as catalogue:
            return redact_model(service.run(slug, draft_id, request, catalogue=catalogue))

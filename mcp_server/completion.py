"""``completion/complete``: persona slugs for ``slug``, the repo's models for ``model``.

A reference the server does not have (an unknown prompt or template, or an
argument the prompt or template does not take) is invalid params (-32602), as the
specification asks; a known argument with nothing to suggest completes to nothing.
"""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.shared.uri_template import UriTemplate
from mcp.types import (
    INVALID_PARAMS,
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)
from personas_as_code.mcp_server.resources import SlugIndex

MAX_VALUES = 100  # the specification's cap on values per completion
_MAX_VALUE_LENGTH = 200
_NOTHING = Completion(values=[], total=0, has_more=False)


def _suggest(slugs: SlugIndex, argument: str, value: str) -> Completion:
    """Completions of ``value`` for ``argument`` (blocking: may stat the repo)."""
    if argument == "slug":
        values, total = slugs.starting_with(value, MAX_VALUES)
    elif argument == "model":
        snapshot, _ = slugs.current()
        prefix = value.lower()
        models = sorted({e.persona.spec.model for e in snapshot.entries})
        matching = [m for m in models if m.lower().startswith(prefix)]
        values, total = matching[:MAX_VALUES], len(matching)
    else:
        return _NOTHING
    return Completion(values=values, total=total, has_more=total > len(values))


def register_completion(server: MCPServer, slugs: SlugIndex) -> None:
    """Answer ``completion/complete`` for the prompts and resource templates of ``server``."""

    def arguments_of(ref: PromptReference | ResourceTemplateReference) -> list[str]:
        # The SDK's prompt and resource managers are the one registry of both.
        if isinstance(ref, PromptReference):
            prompt = server._prompt_manager.get_prompt(ref.name)
            if prompt is None:
                raise MCPError(INVALID_PARAMS, f"unknown prompt '{ref.name[:100]}'")
            return [arg.name for arg in prompt.arguments or []]
        for template in server._resource_manager.list_templates():
            if template.uri_template == ref.uri:
                return list(UriTemplate.parse(template.uri_template).variable_names)
        raise MCPError(INVALID_PARAMS, f"unknown resource template '{ref.uri[:200]}'")

    @server.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion:
        if argument.name not in arguments_of(ref):
            raise MCPError(INVALID_PARAMS, f"no argument '{argument.name[:100]}' to complete")
        if len(argument.value) > _MAX_VALUE_LENGTH:
            return _NOTHING
        return await anyio.to_thread.run_sync(_suggest, slugs, argument.name, argument.value)

"""Prompts: ``draft_new_persona`` and ``review_persona_prompt``, and a strict ``prompts/get``.

The SDK answers ``prompts/get`` for an unknown name, a missing argument or a failed
render with error code 0 and logs a traceback.  ``strict_prompts_get`` checks the
name and arguments first and answers invalid params (-32602) with one plain
sentence; the prompt functions raise ``MCPError`` themselves for a persona that
does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import Message, UserMessage
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    EmbeddedResource,
    GetPromptRequestParams,
    GetPromptResult,
    InputRequiredResult,
    TextResourceContents,
)
from personas_as_code.application.service import PersonaService
from personas_as_code.mcp_server.resources import schema_text
from personas_as_code.schemas.errors import PersonasError
from pydantic import Field

MAX_ARGUMENT_LENGTH = 2000

DRAFT_INSTRUCTIONS = """\
Draft a new persona for this repository.

Purpose: {purpose}
Audience: {audience}
Model: {model}

Steps:
1. Call search_personas with the purpose's key words; if an existing persona already
   covers it, say so and propose a patch to that persona instead.
2. Choose a short lowercase slug (letters, digits, hyphens).
3. Call patch_persona_draft with that slug and new_persona=true, giving name,
   description (one sentence: what it does and for whom), model, status "draft" and a
   system_prompt that states the role, the audience, what to do, what never to do
   and the answer format.
4. Call validate_personas with the draft_id and fix every issue with further
   patch_persona_draft calls (pass draft_id and expected_version).
5. Report the draft_id and branch: a human reviews the draft as a pull request.

The persona file's JSON Schema is attached."""

REVIEW_INSTRUCTIONS = """\
Review the system prompt of the persona '{slug}' (its file {path} is attached{prompt_note}).

Check that the prompt:
- matches the persona's name and description, and names its audience;
- says what to do, what never to do, and the format of answers;
- has no contradictions, vague wording or instructions a user could talk it out of;
- fits the model's context window and the default parameters.
{issues}
List concrete problems, each with a suggested rewrite. {ending}"""

PROPOSE_WITH_DRAFT = """If you change anything, propose
it with patch_persona_draft (slug '{slug}', system_prompt) and show the resulting diff;
do not edit files directly."""

PROPOSE_IN_ANSWER = """This server is read-only: give the
rewritten prompt in your answer for a person to apply."""


def _invalid(message: str) -> MCPError:
    return MCPError(INVALID_PARAMS, message)


def _text_or_default(value: str, default: str) -> str:
    return value.strip() or default


def _embedded(uri: str, text: str, mime_type: str) -> UserMessage:
    return UserMessage(
        EmbeddedResource(
            type="resource",
            resource=TextResourceContents(uri=uri, text=text, mime_type=mime_type),
        )
    )


def register_prompts(server: MCPServer, service: PersonaService, *, read_only: bool) -> None:
    """Add the prompts (no drafting prompt when ``read_only``); answer ``prompts/get`` strictly."""
    ending = PROPOSE_IN_ANSWER if read_only else PROPOSE_WITH_DRAFT

    def draft_new_persona(
        purpose: Annotated[str, Field(description="What the persona is for, in a sentence.")],
        audience: Annotated[str, Field(description="Who talks to it (optional).")] = "",
        model: Annotated[str, Field(description="Model slug (optional; completes).")] = "",
    ) -> list[Message]:
        if not purpose.strip():
            raise _invalid("argument 'purpose' is empty: say what the persona is for")
        text = DRAFT_INSTRUCTIONS.format(
            purpose=purpose.strip(),
            audience=_text_or_default(audience, "not given: infer it from the purpose"),
            model=_text_or_default(model, "not given: use the model most personas here use"),
        )
        return [
            UserMessage(text),
            _embedded("schema://persona", schema_text(), "application/schema+json"),
        ]

    if not read_only:
        server.prompt(
            name="draft_new_persona",
            title="Draft a new persona",
            description="Guide the assistant to draft a new persona as a reviewable git branch.",
        )(draft_new_persona)

    @server.prompt(
        name="review_persona_prompt",
        title="Review a persona's prompt",
        description="Review a persona's system prompt, with its file and prompt attached.",
    )
    def review_persona_prompt(
        slug: Annotated[str, Field(description="The persona to review (completes).")],
    ) -> list[Message]:
        try:
            view = service.get_persona(slug)
        except PersonasError as exc:
            raise _invalid(exc.message) from exc
        issues = "".join(
            f"\nThe file has a validation {i.severity} at {i.path}:{i.line}: {i.message}"
            for i in view.issues[:20]
        )
        text = REVIEW_INSTRUCTIONS.format(
            slug=slug,
            path=view.path,
            prompt_note=f", and its prompt file {view.prompt_path}" if view.prompt_path else "",
            issues=issues + "\n" if issues else "",
            ending=ending.format(slug=slug),
        )
        messages: list[Message] = [
            UserMessage(text),
            _embedded(f"persona://{slug}", view.yaml_text, "text/yaml"),
        ]
        if view.prompt_path and view.system_prompt is not None:
            messages.append(
                _embedded(f"persona://{slug}/system-prompt", view.system_prompt, "text/plain")
            )
        return messages

    strict_prompts_get(server)


def _check_arguments(server: MCPServer, params: GetPromptRequestParams) -> None:
    prompt = server._prompt_manager.get_prompt(params.name)
    if prompt is None:
        known = ", ".join(p.name for p in server._prompt_manager.list_prompts())
        raise _invalid(f"unknown prompt '{params.name[:100]}' (prompts: {known})")
    given = params.arguments or {}
    declared = {arg.name: arg for arg in prompt.arguments or []}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        names = ", ".join(f"'{name[:100]}'" for name in unknown[:5])
        raise _invalid(f"prompt '{prompt.name}' takes no argument {names}")
    missing = sorted(name for name, arg in declared.items() if arg.required and name not in given)
    if missing:
        raise _invalid(f"prompt '{prompt.name}' needs the argument '{missing[0]}'")
    for name, value in given.items():
        if len(value) > MAX_ARGUMENT_LENGTH:
            raise _invalid(f"argument '{name}' is longer than {MAX_ARGUMENT_LENGTH} characters")


def strict_prompts_get(server: MCPServer) -> None:
    """Answer ``prompts/get`` with invalid params for unknown names and bad arguments."""

    async def get_prompt(
        ctx: Any, params: GetPromptRequestParams
    ) -> GetPromptResult | InputRequiredResult:
        _check_arguments(server, params)
        return await server._handle_get_prompt(ctx, params)

    # The SDK offers no hook before its prompts/get handler; the low-level server is the one place.
    server._lowlevel_server.add_request_handler("prompts/get", GetPromptRequestParams, get_prompt)

"""Write tools: patch, duplicate, delete, propose and discard drafts (git branches; never
the working tree)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from personas_as_code.application.ids import DRAFT_ID_PATTERN
from personas_as_code.application.models import DiscardResult, DraftResult, ProposeResult
from personas_as_code.application.service import PersonaService
from personas_as_code.application.yaml_edit import PatchSpec
from personas_as_code.mcp_server.errors import tool_errors
from personas_as_code.schemas.persona import draft_arguments
from pydantic import BaseModel, Field

PATCH = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
DISCARD = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)
DELETE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)
PROPOSE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
SlugArg = Annotated[str, Field(max_length=64, description="Persona slug.")]
MessageArg = Annotated[
    str | None, Field(default=None, max_length=500, description="Commit summary.")
]
R = TypeVar("R")


def client_name(ctx: Context | None) -> str | None:
    """The name the MCP client declared in ``initialize`` (unsanitised), if any."""
    try:
        params = ctx.session.client_params if ctx is not None else None
    except (AttributeError, LookupError, ValueError):
        return None
    info = params.client_info if params is not None else None
    return info.name if info is not None else None


def build_patch(arguments: Mapping[str, Any], unset: list[str] | None) -> PatchSpec:
    """The file-key arguments of the draft tool (``schemas.file_keys.draft_arguments``) ->
    ``PatchSpec`` (None means 'leave as is')."""
    patch = PatchSpec(unset=list(unset or []))
    for name, draft in draft_arguments().items():
        value = arguments.get(name)
        if value is None:
            continue
        if draft.how == "set":
            patch.set[name] = value
        elif draft.how == "merge":
            dumped = value.model_dump(exclude_none=True) if isinstance(value, BaseModel) else value
            if dumped:
                patch.merge[name] = dumped
        else:
            patch.sources = [item.model_dump(exclude_none=True) for item in value]
    return patch


def with_file_key_arguments(tool: Callable[..., R]) -> Callable[..., R]:
    """``tool`` whose signature (which the MCP SDK turns into the input schema) takes the
    file keys' draft arguments in place of its ``**fields``, before ``unset``."""
    signature = inspect.signature(tool, eval_str=True)
    own = list(signature.parameters.values())
    at = next(i for i, p in enumerate(own) if p.name == "unset")
    keys = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=d.argument()
        )
        for name, d in draft_arguments().items()
    ]
    tail = [p for p in own[at:] if p.kind is not inspect.Parameter.VAR_KEYWORD]
    kw_only = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in tail]
    tool.__signature__ = signature.replace(parameters=[*own[:at], *keys, *kw_only])  # type: ignore[attr-defined]
    return tool


def register_draft_tools(server: MCPServer, service: PersonaService) -> None:
    """Add the write tools to ``server`` (skipped in read-only mode), in this order."""
    _register_patch_tool(server, service)
    _register_duplicate_and_delete_tools(server, service)
    _register_propose_and_discard_tools(server, service)


def _register_patch_tool(server: MCPServer, service: PersonaService) -> None:
    """Add ``patch_persona_draft``: start a draft or patch one, key by key."""

    @server.tool(title="Patch a persona draft", annotations=PATCH)
    @with_file_key_arguments
    def patch_persona_draft(
        slug: Annotated[
            str | None,
            Field(
                default=None,
                max_length=64,
                description="Persona slug: required to start a draft; with draft_id it may be "
                "omitted (the draft knows its persona) and, if given, must be the draft's.",
            ),
        ] = None,
        draft_id: Annotated[
            str | None,
            Field(default=None, pattern=DRAFT_ID_PATTERN, description="Omit to start a draft."),
        ] = None,
        expected_version: Annotated[
            int | None,
            Field(default=None, ge=0, description="Required with draft_id: its current version."),
        ] = None,
        new_persona: Annotated[
            bool, Field(default=False, description="Draft a persona that does not exist yet.")
        ] = False,
        unset: Annotated[
            list[str] | None,
            Field(
                default=None,
                max_length=50,
                description="Dotted keys to remove, e.g. ['rag.min_score', 'avatar'].",
            ),
        ] = None,
        message: Annotated[
            str | None, Field(default=None, max_length=500, description="Commit summary.")
        ] = None,
        ctx: Context | None = None,
        **fields: Any,
    ) -> DraftResult:
        """Create a draft of a persona (give slug), or patch one (give draft_id and
        expected_version; the draft id alone identifies it).
        The draft is a git branch; the working tree and current branch are untouched.
        Null fields are left as they are. Invalid drafts are saved too, with valid=false
        and the issues, so the next patch can fix them."""
        with tool_errors():
            patch = build_patch(fields, unset)
            return service.patch_draft(
                slug,
                patch,
                draft_id=draft_id,
                expected_version=expected_version,
                new_persona=new_persona,
                message=message,
                client=client_name(ctx),
            )


def _register_duplicate_and_delete_tools(server: MCPServer, service: PersonaService) -> None:
    """Add ``duplicate_persona`` and ``delete_persona``: drafts of a copy and of a deletion."""

    @server.tool(title="Duplicate a persona (as a draft)", annotations=PATCH)
    def duplicate_persona(
        slug: SlugArg,
        new_slug: Annotated[str, Field(max_length=64, description="Slug of the copy.")],
        name: Annotated[
            str | None,
            Field(
                default=None, min_length=1, max_length=200, description="Default: '<name> (copy)'."
            ),
        ] = None,
        message: MessageArg = None,
        ctx: Context | None = None,
    ) -> DraftResult:
        """Draft a new persona `new_slug` as a copy of `slug`: the persona file, its prompt
        file and avatar are copied under the new slug, the name (and an explicit slug) set,
        previous_slugs dropped. The draft is a git branch, validated like a patch."""
        with tool_errors():
            return service.duplicate_draft(
                slug, new_slug, name=name, message=message, client=client_name(ctx)
            )

    @server.tool(title="Draft a persona's deletion", annotations=DELETE)
    def delete_persona(
        slug: SlugArg, message: MessageArg = None, ctx: Context | None = None
    ) -> DraftResult:
        """Draft the deletion of persona `slug`: a git branch without its file (and without
        the prompt file and avatar no other persona uses). Nothing is deleted until the
        branch is merged and applied with prune (needs_prune is true): without prune the
        plan only lists the persona as owned with its file gone."""
        with tool_errors():
            return service.delete_draft(slug, message=message, client=client_name(ctx))


def _register_propose_and_discard_tools(server: MCPServer, service: PersonaService) -> None:
    """Add ``propose_persona_draft`` and ``discard_persona_draft``: a draft's way out."""

    @server.tool(title="Propose a persona draft", annotations=PROPOSE)
    def propose_persona_draft(
        draft_id: Annotated[str, Field(pattern=DRAFT_ID_PATTERN)],
        expected_version: Annotated[
            int | None, Field(default=None, ge=0, description="Refuse unless at this version.")
        ] = None,
    ) -> ProposeResult:
        """Push the draft's branch to the repository's git remote (personas.toml [drafts]
        remote, default origin) so a pull request can be opened from it."""
        with tool_errors():
            return service.propose_draft(draft_id, expected_version)

    @server.tool(title="Discard a persona draft", annotations=DISCARD)
    def discard_persona_draft(
        draft_id: Annotated[str, Field(pattern=DRAFT_ID_PATTERN)],
        expected_version: Annotated[int | None, Field(default=None, ge=0)] = None,
    ) -> DiscardResult:
        """Delete a draft's branch (refused when expected_version is given and stale)."""
        with tool_errors():
            return service.discard_draft(draft_id, expected_version)

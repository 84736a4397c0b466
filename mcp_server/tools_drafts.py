"""Write tools: patch, duplicate, delete, propose and discard drafts (git branches; never
the working tree)."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from personas_as_code.application.ids import DRAFT_ID_PATTERN, MAX_PROMPT_BYTES
from personas_as_code.application.models import (
    DiscardResult,
    DraftResult,
    ProposeResult,
    PublishPatch,
    RagPatch,
    SourceInput,
)
from personas_as_code.application.service import PersonaService
from personas_as_code.application.yaml_edit import PatchSpec
from personas_as_code.mcp_server.errors import tool_errors
from personas_as_code.schemas.fields import PersonaStatus, Slug
from personas_as_code.schemas.persona import DefaultParams
from pydantic import Field

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
Text = Annotated[str | None, Field(default=None, max_length=10_000)]


def client_name(ctx: Context | None) -> str | None:
    """The name the MCP client declared in ``initialize`` (unsanitised), if any."""
    try:
        params = ctx.session.client_params if ctx is not None else None
    except (AttributeError, LookupError, ValueError):
        return None
    info = params.client_info if params is not None else None
    return info.name if info is not None else None


def build_patch(
    *,
    name: str | None,
    description: str | None,
    model: str | None,
    status: str | None,
    system_prompt: str | None,
    system_prompt_file: str | None,
    avatar: str | None,
    protect: bool | None,
    previous_slugs: list[str] | None,
    rag: RagPatch | None,
    publish: PublishPatch | None,
    default_params: DefaultParams | None,
    metadata: dict[str, Any] | None,
    sources: list[SourceInput] | None,
    unset: list[str] | None,
) -> PatchSpec:
    """Tool arguments -> ``PatchSpec`` (None means 'leave as is')."""
    scalars = {
        "name": name,
        "description": description,
        "model": model,
        "status": status,
        "system_prompt": system_prompt,
        "system_prompt_file": system_prompt_file,
        "avatar": avatar,
        "protect": protect,
        "previous_slugs": previous_slugs,
    }
    merge: dict[str, dict[str, Any]] = {}
    for key, value in (("rag", rag), ("publish", publish), ("default_params", default_params)):
        if value is not None:
            dumped = value.model_dump(exclude_none=True)
            if dumped:
                merge[key] = dumped
    if metadata:
        merge["metadata"] = metadata
    return PatchSpec(
        set={k: v for k, v in scalars.items() if v is not None},
        merge=merge,
        sources=[s.model_dump(exclude_none=True) for s in sources] if sources is not None else None,
        unset=list(unset or []),
    )


def register_draft_tools(server: MCPServer, service: PersonaService) -> None:
    """Add the write tools to ``server`` (skipped in read-only mode)."""

    @server.tool(title="Patch a persona draft", annotations=PATCH)
    def patch_persona_draft(
        slug: Annotated[str, Field(max_length=64, description="Persona slug.")],
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
        name: Annotated[str | None, Field(default=None, min_length=1, max_length=200)] = None,
        description: Text = None,
        model: Annotated[str | None, Field(default=None, min_length=1, max_length=200)] = None,
        status: Annotated[PersonaStatus | None, Field(default=None)] = None,
        system_prompt: Annotated[
            str | None,
            Field(
                default=None,
                max_length=MAX_PROMPT_BYTES,
                description="New prompt; written to the prompt file when the persona uses one.",
            ),
        ] = None,
        system_prompt_file: Annotated[str | None, Field(default=None, max_length=500)] = None,
        avatar: Annotated[str | None, Field(default=None, max_length=500)] = None,
        protect: Annotated[bool | None, Field(default=None)] = None,
        previous_slugs: Annotated[
            list[Slug] | None,
            Field(default=None, max_length=50, description="Replaces previous_slugs."),
        ] = None,
        rag: Annotated[RagPatch | None, Field(default=None, description="Merged into rag.")] = None,
        publish: Annotated[
            PublishPatch | None, Field(default=None, description="Merged into publish.")
        ] = None,
        default_params: Annotated[
            DefaultParams | None, Field(default=None, description="Merged into default_params.")
        ] = None,
        metadata: Annotated[
            dict[str, Any] | None,
            Field(default=None, max_length=100, description="Merged into metadata."),
        ] = None,
        sources: Annotated[
            list[SourceInput] | None,
            Field(default=None, max_length=100, description="Replaces the whole sources list."),
        ] = None,
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
    ) -> DraftResult:
        """Create a draft of a persona, or patch one (give draft_id and expected_version).
        The draft is a git branch; the working tree and current branch are untouched.
        Null fields are left as they are. Invalid drafts are saved too, with valid=false
        and the issues, so the next patch can fix them."""
        with tool_errors():
            patch = build_patch(
                name=name,
                description=description,
                model=model,
                status=status,
                system_prompt=system_prompt,
                system_prompt_file=system_prompt_file,
                avatar=avatar,
                protect=protect,
                previous_slugs=previous_slugs,
                rag=rag,
                publish=publish,
                default_params=default_params,
                metadata=metadata,
                sources=sources,
                unset=unset,
            )
            return service.patch_draft(
                slug,
                patch,
                draft_id=draft_id,
                expected_version=expected_version,
                new_persona=new_persona,
                message=message,
                client=client_name(ctx),
            )

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

"""Read-only tools: get, search, export, preview, validate, list drafts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from personas_as_code.application.ids import DRAFT_ID_PATTERN, MAX_QUERY_CHARS
from personas_as_code.application.models import (
    DraftList,
    ExportResult,
    PersonaView,
    Preview,
    SearchFilters,
    SearchResult,
    ValidationReport,
)
from personas_as_code.application.service import PersonaService
from personas_as_code.application.studio_call import StudioCall
from personas_as_code.mcp_server.body_args import with_body_arguments
from personas_as_code.mcp_server.errors import tool_errors
from personas_as_code.schemas.fields import PersonaStatus, SourceType
from personas_as_code.untrusted.secrets import redact_model
from pydantic import Field

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
# export writes a file under .personas/exports/ (git-ignored) but changes no persona
EXPORT = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)

SlugArg = Annotated[
    str | None,
    Field(default=None, max_length=64, description="Persona slug (lowercase, digits, hyphens)."),
]
DraftIdArg = Annotated[
    str | None,
    Field(default=None, pattern=DRAFT_ID_PATTERN, description="Draft id from a draft tool."),
]
Query = Annotated[
    str,
    Field(
        default="",
        max_length=MAX_QUERY_CHARS,
        description="Words that must all occur in name, slug, description, prompt or sources.",
    ),
]
StatusArg = Annotated[PersonaStatus | None, Field(default=None, description="Filter: status.")]
ModelArg = Annotated[
    str | None, Field(default=None, max_length=200, description="Filter: model slug.")
]
RagArg = Annotated[bool | None, Field(default=None, description="Filter: rag.enabled.")]
SourceTypeArg = Annotated[
    SourceType | None, Field(default=None, description="Filter: a source type.")
]
SourceIdArg = Annotated[
    str | None, Field(default=None, max_length=200, description="Filter: a source id.")
]
GroupArg = Annotated[
    str | None, Field(default=None, max_length=200, description="Filter: a publish group.")
]
PublishedArg = Annotated[
    bool | None, Field(default=None, description="Filter: publish.enabled in the file.")
]


def register_read_tools(server: MCPServer, service: PersonaService) -> None:
    """Add the read-only tools to ``server`` (in this order: the tools list shows it)."""
    _register_get(server, service)
    _register_search(server, service)
    _register_preview(server, service)
    _register_draft_status(server, service)


def _register_get(server: MCPServer, service: PersonaService) -> None:
    """Add the persona reader to ``server``."""

    @server.tool(title="Get a persona", annotations=READ_ONLY)
    def get_persona(slug: SlugArg = None, draft_id: DraftIdArg = None) -> PersonaView:
        """The persona as the repo has it (or as draft `draft_id` has it): YAML text, parsed
        fields, path, last commit and, when configured, its catalogue state; whether it
        exists, whether drafts can be made here (can_edit) and the draft's version."""
        # read-only servers register no draft tools: that is what can_edit reports
        writable = server._tool_manager.get_tool("patch_persona_draft") is not None
        with tool_errors():
            return service.get_persona(slug, draft_id, writable=writable)


def _register_search(server: MCPServer, service: PersonaService) -> None:
    """Add search and export to ``server``."""

    @server.tool(title="Search personas", annotations=READ_ONLY)
    def search_personas(
        query: Query = "",
        status: StatusArg = None,
        model: ModelArg = None,
        rag: RagArg = None,
        source_type: SourceTypeArg = None,
        source_id: SourceIdArg = None,
        group: GroupArg = None,
        published: PublishedArg = None,
        page_size: Annotated[int, Field(default=20, ge=1, le=100)] = 20,
        page_offset: Annotated[int, Field(default=0, ge=0, le=1_000_000)] = 0,
    ) -> SearchResult:
        """Search the repo's personas by text and filters; returns a page, the total count
        and facet counts per filter over the text-matched set."""
        filters = SearchFilters.pick(locals())
        with tool_errors():
            return service.search(query, filters, page_size, page_offset)

    # the official client validates every result against this schema: with its $refs
    # inlined that costs it about 40 % less per page (a $ref is resolved per item)
    metadata = server._tool_manager.get_tool("search_personas").fn_metadata  # type: ignore[union-attr]
    if metadata.output_schema is not None:
        metadata.output_schema = inline_refs(metadata.output_schema)

    @server.tool(title="Export personas", annotations=EXPORT)
    def export_personas(
        format: Annotated[Literal["csv", "json"], Field(default="csv")] = "csv",
        query: Query = "",
        status: StatusArg = None,
        model: ModelArg = None,
        rag: RagArg = None,
        source_type: SourceTypeArg = None,
        source_id: SourceIdArg = None,
        group: GroupArg = None,
        published: PublishedArg = None,
        file_name: Annotated[
            str | None,
            Field(default=None, max_length=100, description="File name under .personas/exports/."),
        ] = None,
    ) -> ExportResult:
        """Export matching personas (one denormalised row each) as CSV or JSON into
        .personas/exports/; the content is inline when under 64 KiB."""
        filters = SearchFilters.pick(locals())
        with tool_errors():
            return service.export(format, query, filters, file_name)


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with each local ``$ref`` replaced by its definition and no ``$defs``
    left; ``schema`` itself when a definition refers to itself (it cannot be inlined)."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def inline(node: Any, within: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [inline(item, within) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.removeprefix("#/$defs/")
            if name in within or name not in defs:
                raise _Recursive
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            return inline({**defs[name], **siblings}, within | {name})
        return {k: inline(v, within) for k, v in node.items() if k != "$defs"}

    try:
        out: dict[str, Any] = inline(schema, frozenset())
    except _Recursive:
        return schema
    return out


class _Recursive(Exception):
    """A ``$ref`` that cannot be inlined (recursive, or not into ``$defs``)."""


def _register_preview(server: MCPServer, service: PersonaService) -> None:
    """Add the prompt preview to ``server``."""

    @server.tool(title="Preview a persona's prompt", annotations=READ_ONLY)
    @with_body_arguments(StudioCall)
    def preview_persona(slug: SlugArg = None, draft_id: DraftIdArg = None, **body: Any) -> Preview:
        """Render what the pipeline would send: ordered blocks (system prompt, RAG context
        retrieved for the trigger from the knowledge folders of the working tree or the
        draft, history, trigger), effective params, estimated tokens, budget and what
        would be trimmed. Takes the same body as run_persona (Prompt Studio's); what
        means nothing for a persona here is listed in `ignored`, not refused."""
        call = StudioCall(**body)
        with tool_errors():
            preview = service.preview(slug, draft_id, call.preview_request())
        preview.ignored = call.ignored()
        return redact_model(preview)


def _register_draft_status(server: MCPServer, service: PersonaService) -> None:
    """Add validation and the draft list to ``server``."""

    @server.tool(title="Validate personas", annotations=READ_ONLY)
    def validate_personas(draft_id: DraftIdArg = None) -> ValidationReport:
        """The validator's problems for the working tree, or for a draft branch."""
        with tool_errors():
            return service.validate(draft_id)

    @server.tool(title="List persona drafts", annotations=READ_ONLY)
    def list_persona_drafts(slug: SlugArg = None) -> DraftList:
        """Draft branches (persona-drafts/<slug>/<id>), newest first, with their versions."""
        with tool_errors():
            return service.list_drafts(slug)

"""Pydantic models of the MCP tools' inputs and outputs (they become the JSON schemas)."""

from __future__ import annotations

from typing import Any, Literal

from personas_as_code.sandbox.models import (  # noqa: F401  (re-exported for the tools)
    HistoryMessage,
    IgnoredArgument,
    RetrievedRef,
)
from personas_as_code.schemas.fields import PersonaStatus, SourceType
from personas_as_code.schemas.persona import (  # noqa: F401  (the draft tool's inputs, re-exported)
    PublishPatch,
    RagPatch,
    SourceInput,
    StatusMessagesPatch,
)
from personas_as_code.schemas.problems import Problem
from pydantic import BaseModel, ConfigDict, Field

# --- shared -----------------------------------------------------------------


class Issue(BaseModel):
    """A validation problem, located as ``path:line:col``."""

    path: str
    line: int
    col: int
    message: str
    code: str
    severity: Literal["error", "warning"]

    @classmethod
    def of(cls, problem: Problem) -> Issue:
        return cls(**problem.to_dict())


class CommitInfo(BaseModel):
    """A git commit, briefly."""

    sha: str
    date: str = Field(description="Committer date, ISO 8601.")
    author: str
    summary: str


class DraftRef(BaseModel):
    """Where a draft lives and which version it is at."""

    draft_id: str
    slug: str
    branch: str = Field(description="Branch name, e.g. persona-drafts/<slug>/<draft_id>.")
    version: int = Field(description="Patch counter: 1 after the first patch.")
    head: str = Field(description="Commit sha of the draft's tip.")
    base: str = Field(description="Commit the draft was started from.")
    base_is_head: bool = Field(description="False when the current branch moved since.")
    updated_at: str
    summary: str


# --- catalogue --------------------------------------------------------------


class CatalogueState(BaseModel):
    """How the persona looks in the configured catalogue."""

    configured: bool = True
    exists: bool = False
    id: str | None = None
    published: bool | None = None
    published_model_id: str | None = None
    model_slug: str | None = None
    drift: bool | None = Field(
        default=None, description="True when the catalogue differs from the file; None: unknown."
    )
    drift_fields: list[str] = Field(default_factory=list)
    error: str | None = Field(default=None, description="Why the state could not be read.")


# --- get ----------------------------------------------------------------------


class PersonaView(BaseModel):
    """One persona as the repo (or a draft) has it."""

    slug: str
    persona_exists: bool = Field(
        description="True when the file exists (in the working tree, or in the draft)."
    )
    can_edit: bool = Field(description="True when drafts can be made here (see disabled_reason).")
    disabled_reason: str | None = Field(default=None, description="Why can_edit is false.")
    origin: Literal["repo", "draft"]
    draft: DraftRef | None = None
    draft_version: int | None = Field(
        default=None, description="The draft's version when reading a draft; else null."
    )
    path: str
    yaml_text: str
    fields: dict[str, Any] | None = Field(
        default=None, description="Parsed file fields with defaults; null when the file is invalid."
    )
    system_prompt: str | None = Field(default=None, description="Resolved prompt text.")
    prompt_path: str | None = None
    valid: bool
    issues: list[Issue] = Field(default_factory=list)
    last_commit: CommitInfo | None = None
    catalogue: CatalogueState | None = None


# --- search / export ----------------------------------------------------------


class SearchFilters(BaseModel):
    """Filters shared by search and export; each narrows the text-matched set."""

    model_config = ConfigDict(extra="forbid")

    status: PersonaStatus | None = None
    model: str | None = None
    rag: bool | None = None
    source_type: SourceType | None = None
    source_id: str | None = None
    group: str | None = None
    published: bool | None = None

    @classmethod
    def pick(cls, arguments: dict[str, Any]) -> SearchFilters:
        """The filters among a tool's or command's arguments (same names)."""
        return cls.model_validate({k: v for k, v in arguments.items() if k in cls.model_fields})


class Snippet(BaseModel):
    field: str
    text: str


class SearchHit(BaseModel):
    slug: str
    name: str
    description: str | None
    model: str
    status: str
    path: str
    rag_enabled: bool
    published: bool
    groups: list[str]
    sources: list[str] = Field(description="type:id of each source.")
    score: float
    snippets: list[Snippet] = Field(default_factory=list)


class FacetCount(BaseModel):
    value: str
    count: int


class SearchResult(BaseModel):
    query: str
    total_count: int
    page_size: int
    page_offset: int
    results: list[SearchHit]
    facets: dict[str, list[FacetCount]] = Field(
        description="Counts per filter value over the text-matched set (before filters)."
    )
    invalid_files: int = Field(description="Persona files skipped because they are invalid.")


class ExportResult(BaseModel):
    format: Literal["csv", "json"]
    row_count: int
    path: str = Field(description="Absolute path of the written file.")
    relative_path: str
    bytes: int
    content: str | None = Field(default=None, description="The file's content when < 64 KiB.")


# --- drafts -----------------------------------------------------------------
# (the draft tool's partial objects are declared with the file model, schemas.persona)


class DraftResult(BaseModel):
    """The outcome of one draft commit (patch, duplicate or delete)."""

    success: bool = Field(description="True: the draft commit was written (it may be invalid).")
    draft_id: str
    new_version: int = Field(description="The draft's version after this commit.")
    message: str = Field(description="One sentence: what happened and what to do next.")
    branch: str = Field(description="The draft's branch, e.g. persona-drafts/<slug>/<draft_id>.")
    draft: DraftRef
    created: bool = Field(description="True when this patch created the draft.")
    new_persona: bool = Field(description="True when the persona does not exist at the base.")
    changed_files: list[str]
    valid: bool = Field(description="False when the draft has errors; it is saved anyway.")
    issues: list[Issue]
    diff: str = Field(description="Unified diff of the draft against its base commit.")
    notes: list[str] = Field(default_factory=list)
    needs_prune: bool = Field(
        default=False,
        description="True when the draft deletes a persona file: applying it needs prune.",
    )


class DraftList(BaseModel):
    drafts: list[DraftRef]
    total_count: int


class ProposeResult(BaseModel):
    """A draft branch pushed to the repository's remote."""

    success: bool
    draft_id: str
    branch: str
    remote: str = Field(description="The git remote the branch was pushed to.")
    head: str = Field(description="The commit sha that was pushed.")
    version: int
    message: str


class DiscardResult(BaseModel):
    draft_id: str
    branch: str
    discarded_version: int
    head: str


# --- validate ---------------------------------------------------------------


class ValidationReport(BaseModel):
    target: str = Field(description="'working tree' or 'draft <id>'.")
    valid: bool
    personas: int
    files: int
    error_count: int
    warning_count: int
    problems: list[Issue]


# --- preview ----------------------------------------------------------------


class PreviewBlock(BaseModel):
    role: Literal["system", "user", "assistant"]
    source: str
    priority: int
    content: str
    tokens: int = Field(description="Estimated tokens of this block.")


class Preview(BaseModel):
    slug: str
    origin: Literal["repo", "draft"]
    draft_id: str | None = None
    model: str
    messages: list[PreviewBlock]
    params: dict[str, Any] = Field(description="default_params merged with the overrides.")
    estimated_tokens: int
    context_window: int
    context_window_source: Literal["catalogue", "builtin", "default"]
    reply_reservation: int
    budget: int = Field(description="context_window - reply_reservation.")
    would_be_trimmed: list[str] = Field(
        description="Sources of blocks that don't fit, lowest first."
    )
    token_estimator: str
    notes: list[str] = Field(default_factory=list)
    retrieval: list[RetrievedRef] = Field(
        default_factory=list,
        description="The chunks in the RAG block, with their provenance (retrieved from the "
        "knowledge folders of the tree previewed).",
    )
    ignored: list[IgnoredArgument] = Field(
        default_factory=list,
        description="Arguments of the seed's preview body that mean nothing for a persona "
        "here: accepted, not used, each with why.",
    )
    status_messages: list[str] = Field(
        default_factory=list,
        description="What a stream shows the user while the answer is prepared "
        "(rag.status_messages: searching, reading {count} documents, answering); "
        "{count} filled when retrieval ran here.",
    )

"""``plan_sync``: the sync engine's plan for the working tree or a draft (read-only).

It reads the catalogue and never writes to it: the assistant sees what merging
its draft would change, exactly as ``personas plan`` would show it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.mcp_server.errors import tool_errors
from personas_as_code.mcp_server.models import Issue
from personas_as_code.mcp_server.service import PersonaService
from personas_as_code.mcp_server.tools_read import READ_ONLY, DraftIdArg
from personas_as_code.schemas.problems import errors_only
from personas_as_code.sync.engine import PlanRequest, compute_plan, open_repo_catalogue
from personas_as_code.sync.render import render_text
from personas_as_code.sync.render.redact import redact_plan
from pydantic import BaseModel, Field


class PlannedPersona(BaseModel):
    """What the plan does to one persona."""

    slug: str
    path: str | None
    action: str = Field(description="create | update | rename | delete | error")
    changes: list[dict[str, Any]] = Field(description="Typed changes, as in `plan --format json`.")
    warnings: list[str]
    error: str | None = None


class PlanSyncResult(BaseModel):
    """The plan for the working tree or a draft."""

    target: str
    valid: bool = Field(description="False when the files have errors; then there is no plan.")
    problems: list[Issue] = Field(default_factory=list)
    has_changes: bool = False
    checksum: str | None = None
    summary: dict[str, int] = Field(default_factory=dict)
    personas: list[PlannedPersona] = Field(default_factory=list)
    orphans: list[str] = Field(default_factory=list, description="Owned; file gone; kept.")
    unmanaged: list[str] = Field(default_factory=list)
    text: str = Field(default="", description="The plan as `personas plan` prints it.")


@contextlib.contextmanager
def service_catalogue(service: PersonaService) -> Iterator[Catalogue]:
    """The service's catalogue, or the repo's own opened for the length of the block."""
    if service.catalogue is not None:
        yield service.catalogue
    else:
        with open_repo_catalogue(service.snapshot().repo) as catalogue:
            yield catalogue


def plan_sync(service: PersonaService, draft_id: str | None, prune: bool | None) -> PlanSyncResult:
    """Compute the plan for the working tree, or for the repo as draft ``draft_id`` has it."""
    repo, target = service.repo_for(draft_id)
    errors = errors_only(repo.problems)
    if errors:
        return PlanSyncResult(target=target, valid=False, problems=[Issue.of(p) for p in errors])
    with service_catalogue(service) as catalogue:
        plan, _ = compute_plan(repo, catalogue, PlanRequest(prune=prune))
    shown = redact_plan(plan)  # the assistant sees what a reviewer sees: no secrets
    data = shown.to_dict()
    return PlanSyncResult(
        target=target,
        valid=True,
        has_changes=shown.has_changes,
        checksum=shown.checksum,
        summary=data["summary"],
        personas=[PlannedPersona(**p) for p in data["personas"]],
        orphans=[o["slug"] for o in data["orphans"] if not o["deleted_by_this_plan"]],
        unmanaged=data["unmanaged"],
        text=render_text(shown),
    )


def register_plan_tool(server: MCPServer, service: PersonaService) -> None:
    """Add ``plan_sync`` to ``server``."""

    @server.tool(name="plan_sync", title="Plan the sync", annotations=READ_ONLY)
    def plan_sync_tool(
        draft_id: DraftIdArg = None,
        prune: Annotated[
            bool | None,
            Field(default=None, description="Plan deletions of owned personas whose file is gone."),
        ] = None,
    ) -> PlanSyncResult:
        """What `personas apply` would change in the catalogue for the working tree, or for
        the repo as draft `draft_id` has it. Reads the catalogue; never changes it."""
        with tool_errors():
            return plan_sync(service, draft_id, prune)

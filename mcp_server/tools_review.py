"""Tools that review a change before it is proposed: ``plan_sync`` (what ``personas
apply`` would change in the catalogue) and ``test_persona`` (which of the persona's test
cases pass, and which a draft flips), for the working tree or a draft.

Both are read-only: they read the catalogue and never write to it.  ``test_persona``
is open-world: every case calls a model.  The logic lives in ``application.plan_sync``
and ``application.persona_test_run``.
"""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from personas_as_code.application.persona_test_run import (
    MAX_CONCURRENCY,
    PersonaTestRun,
    run_persona_tests,
)
from personas_as_code.application.plan_sync import PlanSyncResult, catalogue_for, plan_sync
from personas_as_code.application.service import PersonaService
from personas_as_code.mcp_server.errors import tool_errors
from personas_as_code.mcp_server.tools_read import READ_ONLY, DraftIdArg, SlugArg
from pydantic import Field

TEST = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=False, open_world_hint=True
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


def register_test_tool(server: MCPServer, service: PersonaService) -> None:
    """Add ``test_persona`` to ``server``."""

    @server.tool(name="test_persona", title="Run a persona's test cases", annotations=TEST)
    def test_persona_tool(
        slug: SlugArg = None,
        draft_id: DraftIdArg = None,
        compare: Annotated[
            bool,
            Field(
                default=True,
                description="Also run each case against the branch's last commit and report "
                "pass->fail / fail->pass.",
            ),
        ] = True,
        concurrency: Annotated[int, Field(default=4, ge=1, le=MAX_CONCURRENCY)] = 4,
        require_model: Annotated[
            bool,
            Field(
                default=False,
                description="Fail the answer checks of a case no model answered (the offline "
                "mirror backend) instead of reporting them as untested.",
            ),
        ] = False,
    ) -> PersonaTestRun:
        """Run the cases of personas/<slug>.tests.yaml against the persona as the working
        tree (or draft `draft_id`) has it, each also against the branch's last commit, and
        say per case what passed, what failed, what was not tested (no model was called:
        the offline mirror answered) and what flipped, with the answers. Use it on a draft
        before proposing it. Publishes and persists nothing; calls the model."""
        with tool_errors(), catalogue_for(service) as catalogue:
            return run_persona_tests(
                service,
                slug,
                draft_id,
                catalogue=catalogue,
                compare=compare,
                concurrency=concurrency,
                require_model=require_model,
            )

"""plan_sync and get_persona's catalogue state, against a real embedded catalogue."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from mcp import Client
from personas_as_code.catalogue.api import PersonaUpdate
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.mcp_server import build_server
from personas_as_code.sync.engine import apply_repo, compute_plan, load_valid_repo

from tests.mcp_server.conftest import call, git

pytestmark = pytest.mark.anyio


@pytest.fixture
def catalogue(git_repo: Path, sqlite_url: str) -> Iterator[EmbeddedCatalogue]:
    """A catalogue that already holds the repo's personas."""
    with EmbeddedCatalogue.open(sqlite_url, "acme") as cat:
        repo = load_valid_repo(git_repo)
        plan, ctx = compute_plan(repo, cat)
        assert apply_repo(repo, cat, plan, ctx).ok
        yield cat


@pytest.fixture
async def planner(git_repo: Path, catalogue: EmbeddedCatalogue) -> AsyncIterator[Client]:
    async with Client(build_server(git_repo, catalogue=catalogue)) as c:
        yield c


async def test_draft_round_trip_plans_the_intended_change(planner: Client, git_repo: Path):
    before = (git(git_repo, "rev-parse", "HEAD"), git(git_repo, "status", "--porcelain"))
    assert (await call(planner, "plan_sync"))["has_changes"] is False

    first = await call(
        planner,
        "patch_persona_draft",
        slug="sql-helper",
        system_prompt="You are a PostgreSQL expert.\nAnswer with one query.\n",
    )
    draft_id = first["draft"]["draft_id"]
    second = await call(
        planner,
        "patch_persona_draft",
        slug="sql-helper",
        draft_id=draft_id,
        expected_version=1,
        default_params={"temperature": 0.5},
    )
    assert second["draft"]["version"] == 2 and second["valid"]

    plan = await call(planner, "plan_sync", draft_id=draft_id)
    assert plan["target"] == f"draft {draft_id}" and plan["has_changes"]
    (persona,) = plan["personas"]
    assert (persona["slug"], persona["action"]) == ("sql-helper", "update")
    fields = {f["field"]: f for f in persona["changes"][0]["fields"]}
    assert set(fields) == {"system_prompt", "default_params"}
    assert fields["default_params"]["after"]["temperature"] == 0.5
    assert "+Answer with one query." in plan["text"]
    # nothing changed in the working tree, the branch, or the catalogue
    assert (git(git_repo, "rev-parse", "HEAD"), git(git_repo, "status", "--porcelain")) == before
    assert (await call(planner, "plan_sync"))["has_changes"] is False


async def test_invalid_draft_has_no_plan_but_its_problems(planner: Client):
    draft = await call(
        planner,
        "patch_persona_draft",
        slug="sql-helper",
        rag={"context_template": "no placeholder"},
    )
    assert not draft["valid"]
    plan = await call(planner, "plan_sync", draft_id=draft["draft"]["draft_id"])
    assert plan["valid"] is False and plan["personas"] == []
    assert "$context" in plan["problems"][0]["message"]


async def test_get_persona_reports_catalogue_state_and_drift(
    planner: Client, catalogue: EmbeddedCatalogue
):
    view = await call(planner, "get_persona", slug="support-agent")
    state = view["catalogue"]
    assert state["exists"] and state["published"] and state["drift"] is False
    assert state["published_model_id"]

    support = next(p for p in catalogue.iter_personas() if p.slug == "support-agent")
    catalogue.update_persona(support.id, PersonaUpdate(rag_top_k=9))
    state = (await call(planner, "get_persona", slug="support-agent"))["catalogue"]
    assert state["drift"] is True and state["drift_fields"] == ["rag_top_k"]

"""plan_sync shows an assistant what a reviewer sees: secrets redacted, the real checksum."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from mcp import Client
from personas_as_code.catalogue.api import PersonaUpdate
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.mcp_server import build_server
from personas_as_code.sync.engine import apply_repo, compute_plan, load_valid_repo

from tests.repos import DATA
from tests.sync.test_redaction import FILE_SECRETS

pytestmark = pytest.mark.anyio

DRIFTED = "postgresql://app:McpDriftPassw0rd@db.internal/app"
TEMPLATE = "Context: $context (from https://ctx:McpCtxPassw0rd@db/x)"


@pytest.fixture
def catalogue(git_repo: Path, sqlite_url: str) -> Iterator[EmbeddedCatalogue]:
    """A catalogue holding the examples; support-agent drifted with secrets."""
    with EmbeddedCatalogue.open(sqlite_url, "acme") as cat:
        repo = load_valid_repo(git_repo)
        plan, ctx = compute_plan(repo, cat)
        assert apply_repo(repo, cat, plan, ctx).ok
        support = next(p for p in cat.iter_personas() if p.slug == "support-agent")
        cat.update_persona(
            support.id,
            PersonaUpdate(
                metadata={**support.metadata, "database": DRIFTED},
                default_params={"headers": {"Authorization": "Bearer McpDriftToken-1"}},
                rag_context_template=TEMPLATE,
            ),
        )
        yield cat


@pytest.fixture
async def planner(git_repo: Path, catalogue: EmbeddedCatalogue) -> AsyncIterator[Client]:
    async with Client(build_server(git_repo, catalogue=catalogue)) as c:
        yield c


async def test_plan_sync_redacts_file_and_catalogue_secrets(
    planner: Client, git_repo: Path, catalogue: EmbeddedCatalogue
) -> None:
    shutil.copy(DATA / "secrets" / "leaky_persona.yaml", git_repo / "personas" / "leaky.yaml")
    support = (git_repo / "personas" / "support-agent.yaml").read_text()
    # the file drops its context template: the plan warns, quoting the catalogue's value
    (git_repo / "personas" / "support-agent.yaml").write_text(
        support.replace('  context_template: "Answer from this context:\\n$context"\n', "")
    )
    real, _ = compute_plan(load_valid_repo(git_repo), catalogue)
    assert "McpCtxPassw0rd" in json.dumps(real.to_dict(), default=str)

    result = await planner.call_tool("plan_sync", {})
    assert not result.is_error
    data = result.structured_content or {}
    assert {p["slug"] for p in data["personas"]} == {"leaky", "support-agent"}
    assert data["checksum"] == real.checksum
    everything = json.dumps(data) + "".join(getattr(c, "text", "") for c in result.content)
    secrets = [*FILE_SECRETS, "McpDriftPassw0rd", "McpDriftToken-1", "McpCtxPassw0rd"]
    assert [s for s in secrets if s in everything] == []
    assert "[REDACTED]" in data["text"] and "token_budget" in data["text"]

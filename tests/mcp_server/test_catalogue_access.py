"""The MCP server reads the catalogue and never writes to it; --no-catalogue opens none."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from personas_as_code.mcp_server import build_server

from tests.catalogue.test_first_use import counts, init, set_tenant
from tests.mcp_server.conftest import call, call_error
from tests.mcp_server.test_transports import PERSONAS

pytestmark = pytest.mark.anyio


async def test_plan_sync_with_a_typo_tenant_changes_nothing(
    git_repo: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    init(database_url)
    before = counts(database_url)
    set_tenant(git_repo, "acme-typo")
    monkeypatch.setenv("PERSONAS_DATABASE_URL", database_url)
    monkeypatch.delenv("SCAIGRID_HOST", raising=False)
    async with Client(build_server(git_repo)) as client:
        message = await call_error(client, "plan_sync")
    assert "UNKNOWN_TENANT: tenant 'acme-typo' is not in the catalogue" in message
    assert "personas catalogue init" in message and "--tenant acme-typo" in message
    assert counts(database_url) == before


@pytest.mark.slow  # personas mcp as a process
async def test_no_catalogue_hides_plan_sync_and_creates_no_file(git_repo: Path) -> None:
    params = StdioServerParameters(
        command=PERSONAS, args=["mcp", "--repo", str(git_repo), "--no-catalogue"]
    )
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        view = await call(client, "get_persona", slug="support-agent")
        await call(client, "preview_persona", slug="support-agent")
    assert "plan_sync" not in names and {"get_persona", "patch_persona_draft"} <= names
    assert view["catalogue"] is None
    assert not (git_repo / ".personas").exists()


async def test_in_process_server_without_catalogue(git_repo: Path) -> None:
    async with Client(build_server(git_repo, with_catalogue=False)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert "plan_sync" not in names and "validate_personas" in names
    assert not (git_repo / ".personas").exists()


@pytest.mark.slow  # personas mcp as a process
def test_mcp_with_a_typo_tenant_fails_before_serving(git_repo: Path, sqlite_url: str) -> None:
    init(sqlite_url)
    before = counts(sqlite_url)
    set_tenant(git_repo, "acme-typo")
    done = subprocess.run(
        [PERSONAS, "mcp", "--repo", str(git_repo)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "PERSONAS_DATABASE_URL": sqlite_url},
    )
    assert done.returncode == 1
    assert "error UNKNOWN_TENANT: tenant 'acme-typo'" in done.stderr
    assert counts(sqlite_url) == before

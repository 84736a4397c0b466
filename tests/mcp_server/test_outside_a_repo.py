"""The MCP server started where there is no persona repo (issue 20): Claude Desktop starts
``personas mcp`` in ``/`` when ``--repo`` is left out.  The server starts, lists its
usual tools, answers every one with ``CONFIG_ERROR`` naming the folder and the fix, and
creates nothing in the folder (it used to crash on ``/`` with ``INTERNAL_ERROR``, and to
create ``.personas/catalogue.db`` and answer as an empty repo anywhere else)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from personas_as_code.mcp_server import build_server

from tests.mcp_server.conftest import call_error

pytestmark = pytest.mark.anyio
PERSONAS = str(Path(sys.executable).with_name("personas"))


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


async def test_every_tool_answers_config_error_and_nothing_is_created(
    tmp_path: Path, git_repo: Path
) -> None:
    (tmp_path / "notes.txt").write_text("not a persona repo\n")
    before = listing(tmp_path)
    async with Client(build_server(git_repo, with_catalogue=True)) as served:
        usual = {t.name for t in (await served.list_tools()).tools}
    async with Client(build_server(tmp_path)) as client:
        assert "no persona repo" in (client.instructions or "")
        tools = (await client.list_tools()).tools
        assert {t.name for t in tools} == usual
        for tool in tools:
            message = await call_error(client, tool.name, slug="support-agent")
            assert f"CONFIG_ERROR: {tmp_path} is not a persona repo (no personas.toml" in message
            assert "--repo" in message, message
        assert (await client.list_resources()).resources == []
    assert listing(tmp_path) == before


async def test_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    gone = tmp_path / "typo"
    async with Client(build_server(gone, read_only=True)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "patch_persona_draft" not in names and "get_persona" in names
        message = await call_error(client, "search_personas")
        assert f"CONFIG_ERROR: the folder {gone} does not exist" in message
    assert not gone.exists()


@pytest.mark.parametrize("where", ["empty", "root"])
async def test_personas_mcp_over_stdio_started_outside_a_repo(tmp_path: Path, where: str) -> None:
    """The real process, as Claude Desktop starts it: no --repo, in / or any folder."""
    folder = Path("/") if where == "root" else tmp_path
    before = listing(tmp_path), (Path("/") / ".personas").exists()
    params = StdioServerParameters(command=PERSONAS, args=["mcp"], cwd=str(folder))
    async with Client(params) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"get_persona", "plan_sync", "patch_persona_draft"} <= names
        message = await call_error(client, "get_persona", slug="support-agent")
        assert f"CONFIG_ERROR: {folder} is not a persona repo" in message
        assert "start the server with --repo" in message
    assert (listing(tmp_path), (Path("/") / ".personas").exists()) == before

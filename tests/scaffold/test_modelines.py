"""Files written by ``personas import`` and by MCP drafts carry a modeline that points at
the schema where it is in the repo, also with a personas folder nested two deep."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mcp import Client
from personas_as_code.mcp_server import build_server

from tests.mcp_server.conftest import call, git, init_git
from tests.scaffold.conftest import modeline_target, personas

NESTED = "team/personas"


@pytest.fixture
def nested_repo(new_repo: Path) -> Path:
    """An init'ed repo whose personas folder is ``team/personas``."""
    config = new_repo / "personas.toml"
    config.write_text(
        config.read_text().replace('personas_dir = "personas"', f'personas_dir = "{NESTED}"')
    )
    (new_repo / "team").mkdir()
    shutil.move(new_repo / "personas", new_repo / NESTED)
    return new_repo


def test_import_points_at_the_repo_schema_from_a_nested_folder(nested_repo: Path) -> None:
    applied = personas("apply", "--auto-approve", cwd=nested_repo)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    rel = f"{NESTED}/example-assistant.yaml"
    (nested_repo / rel).unlink()

    done = personas("import", "example-assistant", cwd=nested_repo)
    assert done.returncode == 0, done.stdout + done.stderr
    first = (nested_repo / rel).read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../schemas/persona.schema.json"
    assert modeline_target(nested_repo, rel) == (nested_repo / "schemas/persona.schema.json")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_drafted_persona_points_at_the_repo_schema(nested_repo: Path) -> None:
    init_git(nested_repo)
    async with Client(build_server(nested_repo)) as client:
        new = await call(
            client,
            "patch_persona_draft",
            slug="release-notes",
            new_persona=True,
            name="Release Notes",
            model="scaigrid/gpt-4o",
            system_prompt="Write release notes.",
        )
    rel = f"{NESTED}/release-notes.yaml"
    assert new["changed_files"] == [rel]
    git(nested_repo, "checkout", "-q", new["draft"]["branch"])
    first = (nested_repo / rel).read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../schemas/persona.schema.json"
    assert modeline_target(nested_repo, rel).is_file()

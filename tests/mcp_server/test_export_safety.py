"""export_personas never writes through a symlink: exports land in a folder the server made."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mcp import Client

from tests.mcp_server.conftest import call, call_error, git

pytestmark = pytest.mark.anyio


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


async def test_committed_personas_symlink_is_refused(
    client: Client, git_repo: Path, outside: Path
) -> None:
    os.symlink(outside, git_repo / ".personas")
    git(git_repo, "add", "-f", ".personas")
    git(git_repo, "commit", "-q", "-m", "a hostile .personas symlink")
    message = await call_error(client, "export_personas", file_name="pwned.csv")
    assert "WRITE_REFUSED" in message and "'.personas' is a symlink" in message
    assert list(outside.iterdir()) == []
    default_name = await call_error(client, "export_personas")
    assert "WRITE_REFUSED" in default_name
    assert list(outside.iterdir()) == []


async def test_symlinked_exports_folder_is_refused(
    client: Client, git_repo: Path, outside: Path
) -> None:
    (git_repo / ".personas").mkdir()
    os.symlink(outside, git_repo / ".personas" / "exports")
    message = await call_error(client, "export_personas", format="json", file_name="x.json")
    assert "WRITE_REFUSED" in message and "'.personas/exports'" in message
    assert list(outside.iterdir()) == []


async def test_symlinked_export_file_is_replaced_not_followed(
    client: Client, git_repo: Path, outside: Path
) -> None:
    victim = outside / "victim.txt"
    victim.write_text("precious\n")
    (git_repo / ".personas" / "exports").mkdir(parents=True)
    os.symlink(victim, git_repo / ".personas" / "exports" / "out.csv")
    result = await call(client, "export_personas", file_name="out.csv")
    written = git_repo / ".personas" / "exports" / "out.csv"
    assert not written.is_symlink() and written.read_bytes() == result["content"].encode()
    assert victim.read_text() == "precious\n"
    assert sorted(p.name for p in written.parent.iterdir()) == ["out.csv"]  # no temp left


@pytest.mark.parametrize("name", ["../x.csv", "a/b.csv", ".hidden", "..", "x\\y.csv"])
async def test_file_names_with_separators_are_refused(client: Client, name: str) -> None:
    assert "invalid file name" in await call_error(client, "export_personas", file_name=name)

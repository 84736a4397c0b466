"""A draft branch holding hostile YAML is reported, and the MCP server lives on.

Drafts are validated with the same loader through ``GitTreeFiles``; a 100 KB file
of ``[[[[…`` used to segfault the server on every validate of that draft.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import pytest
from git import Repo as GitRepo
from mcp import Client, StdioServerParameters
from personas_as_code.application.service import PersonaService
from personas_as_code.loader.repo import load_repo
from personas_as_code.sandbox.gitfiles import GitTreeFiles

from tests.mcp_server.conftest import call, git

pytestmark = pytest.mark.anyio
PERSONAS = str(Path(sys.executable).with_name("personas"))
DEEP = (
    "name: Translator\nmodel: scaigrid/gpt-4o\nmetadata: {a: " + "[" * 50_000 + "]" * 50_000 + "}\n"
)
DRAFT_ID = "hostile01"


def commit_draft(root: Path, content: str) -> str:
    """Commit ``content`` as translator.yaml on a draft branch, as a pushed draft would be."""
    base = git(root, "rev-parse", "HEAD")
    branch = f"persona-drafts/translator/{DRAFT_ID}"
    git(root, "checkout", "-q", "-b", branch)
    (root / "personas" / "translator.yaml").write_text(content)
    message = (
        "Deep metadata\n\nDraft-Version: 1\nDraft-Base: "
        f"{base}\nDraft-Slug: translator\nDraft-Path: personas/translator.yaml\n"
    )
    git(root, "commit", "-q", "-am", message)
    git(root, "checkout", "-q", "main")
    return branch


def test_the_loader_reports_deep_yaml_in_a_commit(git_repo: Path) -> None:
    branch = commit_draft(git_repo, DEEP)
    loaded = load_repo(files=GitTreeFiles(GitRepo(git_repo), branch))
    problems = [str(p) for p in loaded.problems]
    assert problems == ["personas/translator.yaml:3:54: nesting deeper than 40 levels"]
    assert "translator" not in loaded.personas and "support-agent" in loaded.personas


def test_the_loader_refuses_an_oversized_blob_by_its_size(git_repo: Path) -> None:
    branch = commit_draft(git_repo, "name: T\nmodel: m\ndescription: " + "x" * 300_000 + "\n")
    loaded = load_repo(files=GitTreeFiles(GitRepo(git_repo), branch))
    (problem,) = loaded.problems
    assert problem.code == "file_too_large" and "300,031 bytes" in problem.message


@pytest.mark.slow  # personas mcp as a process
async def test_the_server_survives_validating_a_deep_draft(git_repo: Path) -> None:
    commit_draft(git_repo, DEEP)
    params = StdioServerParameters(command=PERSONAS, args=["mcp", "--repo", str(git_repo)])
    async with Client(params) as c:
        for _ in range(2):  # the second validate used to crash again
            report = await call(c, "validate_personas", draft_id=DRAFT_ID)
            assert report["valid"] is False
            assert [p["message"] for p in report["problems"]] == ["nesting deeper than 40 levels"]
        assert (await call(c, "validate_personas"))["valid"] is True
        found = await call(c, "search_personas", query="translate")
        assert [r["slug"] for r in found["results"]] == ["translator"]


def test_a_huge_sparse_file_in_the_working_tree_is_refused_by_size(git_repo: Path) -> None:
    with (git_repo / "personas" / "huge.yaml").open("wb") as f:
        f.truncate(2**31)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = PersonaService(git_repo).validate()
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert [(p.path, p.code) for p in report.problems] == [("personas/huge.yaml", "file_too_large")]
    assert report.personas == 7
    assert (peak_after - peak_before) // 1024 < 300, "the file was read (2 GiB), not sized"


@pytest.mark.slow  # personas mcp as a process
async def test_patching_a_deep_draft_is_a_clear_refusal(git_repo: Path) -> None:
    """The round-trip editor is recursive: the bounded parser refuses the file first."""
    commit_draft(git_repo, DEEP)
    params = StdioServerParameters(command=PERSONAS, args=["mcp", "--repo", str(git_repo)])
    async with Client(params) as c:
        result = await c.call_tool(
            "patch_persona_draft",
            {
                "slug": "translator",
                "draft_id": DRAFT_ID,
                "expected_version": 1,
                "description": "shorter",
            },
        )
        assert result.is_error
        text = result.content[0].text
        assert "cannot be edited (line 3: nesting deeper than 40 levels)" in text, text
        assert (await call(c, "validate_personas"))["valid"] is True

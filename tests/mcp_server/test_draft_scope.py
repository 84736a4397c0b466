"""A persona draft writes only its own files: its YAML and prompt files nobody else uses.

Workflows, the repo config, other personas' files, anything outside the personas
directory, hidden or non-canonical paths and symlinks in the tree are refused with
a clear error, and no draft ref is written.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mcp import Client
from personas_as_code.application.draft_scope import DraftPathRefused
from personas_as_code.application.service import PersonaService
from personas_as_code.application.yaml_edit import PatchSpec

from tests.mcp_server.conftest import call, call_error, git

pytestmark = pytest.mark.anyio

WORKFLOW = ".github/workflows/apply.yml"
WORKFLOW_TEXT = "on: push\njobs: {}\n"


def draft_refs(root: Path) -> str:
    return git(root, "for-each-ref", "--format=%(refname)", "refs/heads/persona-drafts/")


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


@pytest.fixture
def tree(git_repo: Path) -> Path:
    """The examples plus a workflow, a symlinked prompt and a symlinked folder, committed."""
    (git_repo / WORKFLOW).parent.mkdir(parents=True)
    (git_repo / WORKFLOW).write_text(WORKFLOW_TEXT)
    os.symlink("onboarding-coach.md", git_repo / "personas/prompts/link.md")
    os.symlink("../.github/workflows", git_repo / "personas/flows")
    commit_all(git_repo, "workflow and symlinks")
    return git_repo


REFUSED = {
    WORKFLOW: "outside the personas directory",
    "personas.toml": "outside the personas directory",
    "schemas/persona.schema.json": "outside the personas directory",
    "personas/sql-helper.yaml": "persona file",
    "personas/other.yaml": "persona file",
    "personas/prompts/notes.yml": "persona file",
    "personas/sql-helper.tests.yaml": "another persona's tests file",
    "personas/prompts/onboarding-coach.md": "used by onboarding-coach",
    "personas/avatars/support-agent.png": "used by support-agent",
    "personas/prompts/link.md": "symlink",
    "personas/flows/x.md": "symlink",
    "personas/.hidden.md": "hidden",
    "personas/../personas.toml": "not a canonical",
    "personas//x.md": "not a canonical",
    "personas/./x.md": "not a canonical",
    "../outside.md": "not a canonical",
    "/etc/passwd": "not a canonical",
    "": "not a canonical",
}


@pytest.mark.parametrize("path", sorted(REFUSED))
def test_commit_level_rule_refuses_every_foreign_path(tree: Path, path: str) -> None:
    """The store refuses the write itself, whoever builds the changes."""
    store = PersonaService(tree).store()
    before = git(tree, "rev-parse", "HEAD")
    with pytest.raises(DraftPathRefused) as caught:
        store.write(
            slug="translator",
            draft_id="abcdef012345",
            parent=None,
            base=before,
            path="personas/translator.yaml",
            changes={"personas/translator.yaml": b"name: T\nmodel: m\n", path: b"pwned\n"},
            new_persona=False,
            summary="escape",
        )
    assert caught.value.code == "DRAFT_PATH_REFUSED"
    assert repr(path) in caught.value.message and REFUSED[path] in caught.value.message
    assert draft_refs(tree) == "" and git(tree, "rev-parse", "HEAD") == before


def test_commit_level_rule_allows_own_files(tree: Path) -> None:
    store = PersonaService(tree).store()
    written = store.write(
        slug="translator",
        draft_id="abcdef012345",
        parent=None,
        base=git(tree, "rev-parse", "HEAD"),
        path="personas/translator.yaml",
        changes={
            "personas/translator.yaml": b"name: T\nmodel: m\nsystem_prompt_file: prompts/t.md\n",
            "personas/prompts/t.md": b"Translate.\n",
        },
        new_persona=False,
        summary="own files",
    )
    assert written.tip.version == 1


async def test_issue_reproduction_workflow_prompt_file(tree: Path) -> None:
    """The issue: point system_prompt_file at a workflow, then patch system_prompt."""
    from personas_as_code.mcp_server import build_server

    async with Client(build_server(tree)) as client:
        message = await call_error(
            client,
            "patch_persona_draft",
            slug="translator",
            system_prompt_file="../.github/workflows/apply.yml",
            unset=["system_prompt"],
        )
        assert "DRAFT_PATH_REFUSED" in message and WORKFLOW in message
        assert draft_refs(tree) == ""


async def test_committed_foreign_prompt_file_is_not_written(tree: Path) -> None:
    """A persona file that already points outside its directory: the write is refused."""
    path = tree / "personas/translator.yaml"
    text = path.read_text()
    start, end = text.index("system_prompt: >"), text.index("publish:")
    path.write_text(
        text[:start] + "system_prompt_file: ../.github/workflows/apply.yml\n" + text[end:]
    )
    commit_all(tree, "translator reads its prompt from a workflow")
    from personas_as_code.mcp_server import build_server

    async with Client(build_server(tree)) as client:
        message = await call_error(
            client, "patch_persona_draft", slug="translator", system_prompt="on: pwned\n"
        )
    assert "DRAFT_PATH_REFUSED" in message and WORKFLOW in message
    assert "outside the personas directory" in message
    assert draft_refs(tree) == ""
    assert git(tree, "show", f"HEAD:{WORKFLOW}") + "\n" == WORKFLOW_TEXT


async def test_another_personas_prompt_then_a_prompt_patch(client: Client, git_repo: Path) -> None:
    first = await call(
        client,
        "patch_persona_draft",
        slug="translator",
        system_prompt_file="prompts/onboarding-coach.md",
        unset=["system_prompt"],
    )
    assert first["changed_files"] == ["personas/translator.yaml"]
    draft_id = first["draft"]["draft_id"]
    message = await call_error(
        client,
        "patch_persona_draft",
        slug="translator",
        draft_id=draft_id,
        expected_version=1,
        system_prompt="Overwritten.\n",
    )
    assert "DRAFT_PATH_REFUSED" in message
    assert "'personas/prompts/onboarding-coach.md'" in message and "onboarding-coach" in message
    view = await call(client, "get_persona", draft_id=draft_id)
    assert view["draft"]["version"] == 1
    branch = view["draft"]["branch"]
    prompt = git(git_repo, "show", f"{branch}:personas/prompts/onboarding-coach.md")
    assert prompt == git(git_repo, "show", "HEAD:personas/prompts/onboarding-coach.md")


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("system_prompt_file", "../personas.toml", "outside the personas directory"),
        ("system_prompt_file", "other.yaml", "persona file"),
        ("system_prompt_file", "sql-helper.yaml", "persona file"),
        ("system_prompt_file", "../../etc/passwd", "outside the repo"),
        ("system_prompt_file", "/etc/passwd", "absolute"),
        ("system_prompt_file", ".secret.md", "hidden"),
        ("avatar", "../.github/logo.png", "outside the personas directory"),
    ],
)
async def test_references_outside_own_files_are_refused(
    client: Client, git_repo: Path, field: str, value: str, reason: str
) -> None:
    message = await call_error(client, "patch_persona_draft", slug="translator", **{field: value})
    assert "DRAFT_PATH_REFUSED" in message and reason in message, message
    assert draft_refs(git_repo) == ""


async def test_pointing_at_another_personas_avatar_writes_only_the_yaml(
    client: Client,
) -> None:
    result = await call(
        client, "patch_persona_draft", slug="translator", avatar="avatars/support-agent.png"
    )
    assert result["changed_files"] == ["personas/translator.yaml"]


def test_forged_draft_path_trailer_is_refused(git_repo: Path) -> None:
    """A hand-made draft branch whose trailer names another persona's file is refused."""
    head = git(git_repo, "rev-parse", "HEAD")
    tree = git(git_repo, "rev-parse", "HEAD^{tree}")
    message = (
        "forged\n\nDraft-Version: 1\nDraft-Base: "
        f"{head}\nDraft-Slug: translator\nDraft-Path: personas/sql-helper.yaml\n"
    )
    commit = git(git_repo, "commit-tree", tree, "-p", head, "-m", message)
    git(git_repo, "update-ref", "refs/heads/persona-drafts/translator/f0f0f0f0f0f0", commit)
    service = PersonaService(git_repo)
    with pytest.raises(DraftPathRefused) as caught:
        service.patch_draft(
            "translator",
            PatchSpec(merge={"metadata": {"x": 1}}),
            draft_id="f0f0f0f0f0f0",
            expected_version=1,
        )
    assert "'personas/sql-helper.yaml'" in caught.value.message
    assert git(git_repo, "rev-parse", "persona-drafts/translator/f0f0f0f0f0f0") == commit


def test_files_of_an_invalid_persona_are_still_its_own(git_repo: Path) -> None:
    """A persona that fails validation at the base still owns the prompt it names."""
    (git_repo / "personas/prompts/broken.md").write_text("Broken's prompt.\n")
    (git_repo / "personas/broken.yaml").write_text(
        "name: Broken\nmodel: scaigrid/gpt-4o\nsystem_prompt_file: prompts/broken.md\nbogus: 1\n"
    )
    commit_all(git_repo, "an invalid persona")
    service = PersonaService(git_repo)
    first = service.patch_draft(
        "translator",
        PatchSpec(set={"system_prompt_file": "prompts/broken.md"}, unset=["system_prompt"]),
    )
    with pytest.raises(DraftPathRefused) as caught:
        service.patch_draft(
            "translator",
            PatchSpec(set={"system_prompt": "Taken over.\n"}),
            draft_id=first.draft.draft_id,
            expected_version=1,
        )
    assert "'personas/prompts/broken.md': it is used by broken" in caught.value.message

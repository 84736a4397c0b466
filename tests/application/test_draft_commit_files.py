"""A draft commit's files: the listing derived from the parent's equals git's own, the
tree is what git would write, and the focused validation equals a whole-repo load."""

from __future__ import annotations

import subprocess
from pathlib import Path

from git import Repo as GitRepo
from personas_as_code.application.commit_files import CommitFiles
from personas_as_code.application.service import PersonaService
from personas_as_code.application.yaml_edit import PatchSpec
from personas_as_code.loader.repo import PERSONA_SUFFIXES
from personas_as_code.sandbox.gitfiles import GitTreeFiles

from tests.mcp_server.conftest import git, init_git
from tests.repos import RepoBuilder

SUFFIXES = (PERSONA_SUFFIXES, (".md",), (".png", ".svg"))


def same_files(derived: CommitFiles, reference: GitTreeFiles, listed: CommitFiles) -> None:
    assert derived.entries == listed.entries and derived.dirs == listed.dirs
    for folder in (".", "personas", "personas/prompts", "personas/avatars", "nope"):
        for suffixes in SUFFIXES:
            expected = reference.list_files(folder, suffixes)
            assert derived.list_files(folder, suffixes) == expected, (folder, suffixes)
            assert listed.list_files(folder, suffixes) == expected
    for path in [*listed.entries, *listed.dirs, "personas/missing.yaml", "personas/x/y"]:
        assert derived.kind(path) == reference.kind(path), path
        assert derived.blob_id(path) == reference.blob_id(path), path
        if reference.blob_id(path) is not None:
            assert derived.read(path) == reference.read(path)
            assert derived.size(path) == reference.size(path)


def test_derived_listings_match_git(git_repo: Path) -> None:
    (git_repo / "personas/.hidden.yaml").write_text("name: H\nmodel: m\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "a hidden file")
    service = PersonaService(git_repo)
    store = service.store()
    store.files_at(store.head_sha()).list_files("personas", PERSONA_SUFFIXES)  # warm listing
    steps = [
        service.patch_draft("onboarding-coach", PatchSpec(set={"system_prompt": "New.\n"})),
        service.duplicate_draft("onboarding-coach", "coach-copy"),
        service.delete_draft("support-agent"),
        service.patch_draft(
            "brand-new", PatchSpec(set={"name": "N", "model": "m"}), new_persona=True
        ),
    ]
    repo = GitRepo(git_repo)
    for result in steps:
        head = result.draft.head
        derived = store.files_at(head)
        same_files(derived, GitTreeFiles(repo, head), CommitFiles.listed(repo, head, store.lock))
        # git itself finds the objects sound
        subprocess.run(["git", "fsck", "--no-dangling", "--strict"], cwd=git_repo, check=True)


def test_a_folder_emptied_by_a_delete_disappears(repo: RepoBuilder) -> None:
    repo.persona("solo", "name: Solo\nmodel: m\navatar: pics/solo.png\n")
    repo.write("personas/pics/solo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    repo.persona("other", "name: Other\nmodel: m\n")
    init_git(repo.root)
    service = PersonaService(repo.root)
    deleted = service.delete_draft("solo")
    files = service.store().files_at(deleted.draft.head)
    assert "personas/pics" not in files.dirs and files.kind("personas/pics") == "absent"
    listed = CommitFiles.listed(GitRepo(repo.root), deleted.draft.head, service.store().lock)
    assert files.entries == listed.entries and files.dirs == listed.dirs


def test_focused_validation_equals_the_whole_repo(repo: RepoBuilder) -> None:
    """A file that lost a clash on one slug still claims its other slugs."""
    repo.persona("alpha", "name: A\nmodel: m\nprevious_slugs: [shared]\n")
    repo.persona("beta", "name: B\nmodel: m\nprevious_slugs: [shared, lonely]\n")
    repo.persona("gamma", "name: G\nmodel: m\n")
    init_git(repo.root)
    service = PersonaService(repo.root)
    result = service.patch_draft("gamma", PatchSpec(set={"previous_slugs": ["lonely"]}))
    assert result.valid is False
    clash = [i for i in result.issues if i.code == "duplicate_slug"]
    assert clash and "personas/beta.yaml" in clash[0].message
    full = service.validate(result.draft_id)
    gamma = [p for p in full.problems if p.path == "personas/gamma.yaml"]
    assert [i for i in result.issues if i.path == "personas/gamma.yaml"] == gamma

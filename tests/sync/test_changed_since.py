"""``--changed-since REF``: only personas whose files changed, deletions included."""

from __future__ import annotations

from pathlib import Path

import git

from tests.sync.conftest import Sync


def commit_all(repo: git.Repo, message: str) -> str:
    repo.git.add(A=True)
    repo.index.commit(message)
    return repo.head.commit.hexsha


def test_changed_since_limits_the_plan_and_keeps_deletions(esync: Sync) -> None:
    root: Path = esync.root
    repo = git.Repo.init(root, initial_branch="main")
    (root / ".gitignore").write_text(".personas/\n")
    base = commit_all(repo, "examples")
    esync.apply()
    assert esync.persona("support-agent").metadata["personas_as_code"]["commit"] == base

    # edited through its prompt file only, one added, one deleted; plus drift elsewhere
    prompt = root / "personas/prompts/onboarding-coach.md"
    prompt.write_text(prompt.read_text().replace("friendly guide", "patient guide"))
    (root / "personas/new-one.yaml").write_text("name: New One\nmodel: scaigrid/gpt-4o\n")
    (root / "personas/translator.yaml").unlink()
    esync.edit("personas/sql-helper.yaml", "temperature: 0.0", "temperature: 0.1")
    repo.git.add(A=True)  # staged, not committed: still counts
    commit_all(repo, "feature")
    esync.edit("personas/support-agent.yaml", "weight: 1.5", "weight: 1.6")  # uncommitted

    plan = esync.plan(changed_since=base, prune=True)
    by_slug = {p.slug: p.action for p in plan.changed}
    assert by_slug == {
        "onboarding-coach": "update",
        "new-one": "create",
        "translator": "delete",
        "sql-helper": "update",
        "support-agent": "update",
    }
    full = esync.plan(prune=True)
    assert {p.slug for p in full.changed} == set(by_slug)

    head_plan = esync.plan(changed_since="HEAD", prune=True)
    assert {p.slug for p in head_plan.changed} == {"support-agent"}

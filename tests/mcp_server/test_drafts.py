"""Drafts: git plumbing branches, round-trip YAML, versions, conflicts, concurrency."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from mcp import Client
from personas_as_code.application.service import PersonaService
from personas_as_code.application.yaml_edit import PatchSpec
from personas_as_code.schemas.errors import DraftConflict

from tests.mcp_server.conftest import call, call_error, git

pytestmark = pytest.mark.anyio

NEW_PROMPT = "You are the support agent for Acme Cloud.\n\nBe brief.\nNever promise refunds.\n"


def state(root: Path) -> tuple[str, str, str, str]:
    """HEAD sha, current branch, index listing and working-tree status."""
    return (
        git(root, "rev-parse", "HEAD"),
        git(root, "symbolic-ref", "HEAD"),
        git(root, "ls-files", "-s"),
        git(root, "status", "--porcelain", "--untracked-files=all"),
    )


def branch_file(root: Path, branch: str, path: str) -> str:
    return git(root, "show", f"{branch}:{path}") + "\n"


async def test_round_trip(client: Client, git_repo: Path) -> None:
    before = state(git_repo)
    original = (git_repo / "personas/legal-reviewer.yaml").read_text()

    first = await call(
        client,
        "patch_persona_draft",
        slug="legal-reviewer",
        description="Flags risky clauses.",
        rag={"top_k": 7},
        unset=["rag.min_score"],
    )
    draft = first["draft"]
    assert first["created"] is True and draft["version"] == 1 and first["valid"] is True
    assert draft["branch"] == f"persona-drafts/legal-reviewer/{draft['draft_id']}"
    assert draft["base"] == before[0] and draft["base_is_head"] is True
    assert first["changed_files"] == ["personas/legal-reviewer.yaml"]
    assert "-description: Flags risky clauses in supplier" in first["diff"]
    assert "+  top_k: 7" in first["diff"] and "-  min_score: 0.5" in first["diff"]

    second = await call(
        client,
        "patch_persona_draft",
        slug="legal-reviewer",
        draft_id=draft["draft_id"],
        expected_version=1,
        system_prompt="Review contracts.\nFlag risky clauses.\n",
        metadata={"reviewed": True},
    )
    assert second["created"] is False and second["draft"]["version"] == 2
    assert second["draft"]["base"] == draft["base"]

    text = branch_file(git_repo, draft["branch"], "personas/legal-reviewer.yaml")
    # comments, key order, flow style and block scalars survive
    assert "protect: true            # deleting this persona" in text
    assert "system_prompt: |\n  Review contracts.\n  Flag risky clauses.\n" in text
    assert 'context_template: "Playbook rules:\\n$context"' in text
    assert "search_config: {search_type: hybrid, rerank: true}" in text
    assert "metadata: {team: legal, data_classification: confidential, reviewed: true}" in text
    keys = [line.split(":")[0] for line in text.splitlines() if line[:1].isalpha()]
    assert keys == [line.split(":")[0] for line in original.splitlines() if line[:1].isalpha()]

    # trailers record version and base
    message = git(git_repo, "log", "-1", "--format=%B", draft["branch"])
    assert "Draft-Version: 2" in message and f"Draft-Base: {draft['base']}" in message
    assert git(git_repo, "rev-list", "--count", f"{draft['base']}..{draft['branch']}") == "2"

    # the working tree, index, current branch and HEAD are untouched
    assert state(git_repo) == before
    assert (git_repo / "personas/legal-reviewer.yaml").read_text() == original

    # the draft is readable, previewable and listed
    view = await call(client, "get_persona", draft_id=draft["draft_id"])
    assert view["origin"] == "draft" and view["draft"]["version"] == 2
    assert view["fields"]["rag"]["top_k"] == 7 and view["fields"]["metadata"]["reviewed"] is True
    preview = await call(client, "preview_persona", draft_id=draft["draft_id"])
    assert preview["messages"][0]["content"] == "Review contracts.\nFlag risky clauses.\n"
    listed = await call(client, "list_persona_drafts", slug="legal-reviewer")
    assert [d["draft_id"] for d in listed["drafts"]] == [draft["draft_id"]]
    assert (await call(client, "validate_personas", draft_id=draft["draft_id"]))["valid"]

    # a stale version is a conflict naming the current version
    stale = await call_error(
        client,
        "patch_persona_draft",
        slug="legal-reviewer",
        draft_id=draft["draft_id"],
        expected_version=1,
        name="Lost update",
    )
    assert "DRAFT_VERSION_CONFLICT" in stale and "version 2" in stale
    missing = await call_error(
        client, "patch_persona_draft", slug="legal-reviewer", draft_id=draft["draft_id"], name="X"
    )
    assert "expected_version is required" in missing

    # discard: stale version refused, then the branch is gone
    assert "DRAFT_VERSION_CONFLICT" in await call_error(
        client, "discard_persona_draft", draft_id=draft["draft_id"], expected_version=1
    )
    gone = await call(
        client, "discard_persona_draft", draft_id=draft["draft_id"], expected_version=2
    )
    assert gone["discarded_version"] == 2
    assert git(git_repo, "branch", "--list", "persona-drafts/*") == ""
    assert "NOT_FOUND" in await call_error(client, "get_persona", draft_id=draft["draft_id"])
    assert state(git_repo) == before


async def test_prompt_file_is_patched_in_place(client: Client, git_repo: Path) -> None:
    result = await call(
        client, "patch_persona_draft", slug="onboarding-coach", system_prompt=NEW_PROMPT
    )
    assert result["changed_files"] == ["personas/prompts/onboarding-coach.md"]
    branch = result["draft"]["branch"]
    assert branch_file(git_repo, branch, "personas/prompts/onboarding-coach.md") == NEW_PROMPT
    assert any("prompts/onboarding-coach.md" in n for n in result["notes"])


async def test_invalid_patch_is_saved_with_issues(client: Client, git_repo: Path) -> None:
    result = await call(
        client,
        "patch_persona_draft",
        slug="support-agent",
        avatar="avatars/missing.png",
        rag={"status_messages": {"mode": "custom"}},
    )
    assert result["valid"] is False and result["draft"]["version"] == 1
    messages = " | ".join(i["message"] for i in result["issues"])
    assert "custom" in messages
    assert all(i["path"] == "personas/support-agent.yaml" for i in result["issues"])
    # saved: the next patch fixes it
    fixed = await call(
        client,
        "patch_persona_draft",
        slug="support-agent",
        draft_id=result["draft"]["draft_id"],
        expected_version=1,
        unset=["avatar"],
        rag={"status_messages": {"mode": "standard"}},
    )
    assert fixed["valid"] is True and fixed["issues"] == []
    invalid_view = await call(client, "get_persona", slug="support-agent")
    assert invalid_view["valid"] is True  # the working tree is unaffected


async def test_new_persona_and_cross_file_slug_clash(client: Client, git_repo: Path) -> None:
    new = await call(
        client,
        "patch_persona_draft",
        slug="sql-report",
        new_persona=True,
        name="SQL Report",
        model="scaigrid/gpt-4o",
        system_prompt="Write SQL reports.\nOne query per report.\n",
    )
    assert new["new_persona"] is True and new["valid"] is True
    assert new["changed_files"] == ["personas/sql-report.yaml"]
    text = branch_file(git_repo, new["draft"]["branch"], "personas/sql-report.yaml")
    assert text.startswith("# yaml-language-server: $schema=../schemas/persona.schema.json\n")
    assert "system_prompt: |\n  Write SQL reports.\n" in text
    assert "+name: SQL Report" in new["diff"] and "--- /dev/null" in new["diff"]

    # claiming another file's slug is found by the cross-file rule at the draft commit
    clash = await call(
        client,
        "patch_persona_draft",
        slug="sql-report",
        draft_id=new["draft"]["draft_id"],
        expected_version=1,
        previous_slugs=["translator"],
    )
    assert clash["valid"] is False
    dup = [i for i in clash["issues"] if i["code"] == "duplicate_slug"]
    assert (
        dup and "slug 'translator' is already used by personas/sql-report.yaml" in dup[0]["message"]
    )
    report = await call(client, "validate_personas", draft_id=new["draft"]["draft_id"])
    assert report["valid"] is False and report["error_count"] == 1


async def test_new_persona_needs_flag_and_unknown_slug(client: Client) -> None:
    message = await call_error(client, "patch_persona_draft", slug="nobody", name="N")
    assert "NOT_FOUND" in message and "new_persona" in message
    message = await call_error(
        client, "patch_persona_draft", slug="translator", new_persona=True, name="T"
    )
    assert "already exists" in message
    empty = await call_error(client, "patch_persona_draft", slug="translator")
    assert "empty" in empty


def test_concurrent_patches_never_lose_an_update(git_repo: Path) -> None:
    """Threads on two services (separate locks): the ref CAS alone keeps every update."""
    services = [PersonaService(git_repo), PersonaService(git_repo)]
    created = services[0].patch_draft("translator", PatchSpec(merge={"metadata": {"t0": 0}}))
    draft_id = created.draft.draft_id
    workers, per_worker = 4, 3
    errors: list[BaseException] = []

    def work(n: int) -> None:
        service = services[n % 2]
        try:
            for i in range(per_worker):
                while True:
                    version = service.store().get(draft_id).version
                    try:
                        service.patch_draft(
                            "translator",
                            PatchSpec(merge={"metadata": {f"w{n}_{i}": i}}),
                            draft_id=draft_id,
                            expected_version=version,
                        )
                        break
                    except DraftConflict:
                        continue
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    final = services[0].get_persona(draft_id=draft_id)
    assert final.draft is not None and final.draft.version == 1 + workers * per_worker
    metadata = final.fields["metadata"]  # type: ignore[index]
    for n in range(workers):
        for i in range(per_worker):
            assert metadata[f"w{n}_{i}"] == i
    count = git(git_repo, "rev-list", "--count", f"{final.draft.base}..{final.draft.branch}")
    assert count == str(1 + workers * per_worker)


def test_cas_refuses_a_stale_writer(git_repo: Path) -> None:
    """Two stores that both read version 1: the second update-ref loses, with a conflict."""
    a, b = PersonaService(git_repo), PersonaService(git_repo)
    created = a.patch_draft("translator", PatchSpec(set={"description": "v1"}))
    draft_id = created.draft.draft_id
    stale_tip = b.store().get(draft_id)
    a.patch_draft(
        "translator", PatchSpec(set={"description": "v2"}), draft_id=draft_id, expected_version=1
    )
    with pytest.raises(DraftConflict) as caught:
        b.store().write(
            slug="translator",
            draft_id=draft_id,
            parent=stale_tip,
            base=stale_tip.base,
            path=stale_tip.path,
            changes={stale_tip.path: b"name: lost\n"},
            new_persona=False,
            summary="stale",
        )
    assert caught.value.details["current_version"] == 2
    assert a.get_persona(draft_id=draft_id).fields["description"] == "v2"  # type: ignore[index]


async def test_the_draft_id_alone_names_the_draft(client: Client, git_repo: Path) -> None:
    """Seed 001's draft patch takes the draft id alone; a slug given with it must agree."""
    first = await call(client, "patch_persona_draft", slug="legal-reviewer", description="One.")
    draft_id = first["draft"]["draft_id"]
    second = await call(
        client,
        "patch_persona_draft",
        draft_id=draft_id,
        expected_version=1,
        description="Two.",
    )
    assert second["draft"]["version"] == 2 and second["draft"]["slug"] == "legal-reviewer"
    text = branch_file(git_repo, second["draft"]["branch"], "personas/legal-reviewer.yaml")
    assert "description: Two." in text
    assert "draft(legal-reviewer): description" in git(
        git_repo, "log", "-1", "--format=%s", second["draft"]["branch"]
    )
    # a slug given with the draft id must be the draft's
    other = await call_error(
        client,
        "patch_persona_draft",
        slug="translator",
        draft_id=draft_id,
        expected_version=2,
        description="Three.",
    )
    assert "INVALID_INPUT" in other
    assert f"draft '{draft_id}' is a draft of 'legal-reviewer', not 'translator'" in other
    same = await call(
        client,
        "patch_persona_draft",
        slug="legal-reviewer",
        draft_id=draft_id,
        expected_version=2,
        description="Three.",
    )
    assert same["draft"]["version"] == 3
    # without either there is nothing to patch
    neither = await call_error(client, "patch_persona_draft", description="x")
    assert "INVALID_INPUT: give a slug to start a draft, or a draft_id to patch one" in neither

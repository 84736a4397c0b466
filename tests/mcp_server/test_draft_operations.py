"""Draft operations beyond patch: duplicate, delete (needs prune), propose (push to a
real bare remote); the result shapes; who a draft commit is by."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.types import Implementation
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.mcp_server import build_server
from personas_as_code.sync.engine import apply_repo, compute_plan, load_valid_repo

from tests.mcp_server.conftest import call, call_error, git

pytestmark = pytest.mark.anyio


def drafts(root: Path) -> str:
    return git(root, "for-each-ref", "--format=%(refname)", "refs/heads/persona-drafts/")


def at(root: Path, branch: str, path: str) -> bytes:
    """The bytes of ``path`` on ``branch`` (``git cat-file``)."""
    import subprocess

    return subprocess.run(
        ["git", "cat-file", "blob", f"{branch}:{path}"], cwd=root, capture_output=True, check=True
    ).stdout


def tree(root: Path, branch: str) -> set[str]:
    return set(git(root, "ls-tree", "-r", "--name-only", branch).splitlines())


# --- shapes -----------------------------------------------------------------


async def test_patch_result_and_get_persona_shapes(client: Client, git_repo: Path) -> None:
    first = await call(client, "patch_persona_draft", slug="translator", description="Short.")
    assert first["success"] is True and first["new_version"] == 1
    assert first["draft_id"] == first["draft"]["draft_id"]
    assert first["branch"] == f"persona-drafts/translator/{first['draft_id']}"
    assert "version 1" in first["message"] and "valid" in first["message"]
    assert (
        first["valid"] is True and first["issues"] == [] and "+description: Short." in first["diff"]
    )

    second = await call(
        client,
        "patch_persona_draft",
        slug="translator",
        draft_id=first["draft_id"],
        expected_version=1,
        avatar="avatars/missing.png",
    )
    assert second["new_version"] == 2 and second["valid"] is False
    assert "invalid" in second["message"] and "expected_version=2" in second["message"]

    view = await call(client, "get_persona", draft_id=first["draft_id"])
    assert (view["persona_exists"], view["can_edit"], view["draft_version"]) == (True, True, 2)
    plain = await call(client, "get_persona", slug="translator")
    assert plain["persona_exists"] is True and plain["draft_version"] is None
    assert plain["can_edit"] is True and plain["disabled_reason"] is None


async def test_read_only_server_cannot_edit_or_propose(git_repo: Path) -> None:
    async with Client(build_server(git_repo, read_only=True)) as c:
        view = await call(c, "get_persona", slug="translator")
        assert view["can_edit"] is False and "read-only" in view["disabled_reason"]
        names = {t.name for t in (await c.list_tools()).tools}
        assert not names & {"propose_persona_draft", "duplicate_persona", "delete_persona"}


async def test_a_plain_directory_cannot_edit(example_repo: Path) -> None:
    async with Client(build_server(example_repo)) as c:
        view = await call(c, "get_persona", slug="translator")
    assert view["can_edit"] is False and "not a git repository" in view["disabled_reason"]


# --- duplicate ----------------------------------------------------------------


async def test_duplicate_copies_prompt_and_avatar(client: Client, git_repo: Path) -> None:
    before = git(git_repo, "status", "--porcelain")
    result = await call(
        client, "duplicate_persona", slug="onboarding-coach", new_slug="onboarding-buddy"
    )
    assert result["valid"] is True and result["new_persona"] is True
    branch = result["branch"]
    assert branch.startswith("persona-drafts/onboarding-buddy/")
    assert result["changed_files"] == [
        "personas/avatars/onboarding-buddy.svg",
        "personas/onboarding-buddy.yaml",
        "personas/prompts/onboarding-buddy.md",
    ]
    original = git_repo / "personas"
    assert (
        at(git_repo, branch, "personas/prompts/onboarding-buddy.md")
        == (original / "prompts/onboarding-coach.md").read_bytes()
    )
    assert (
        at(git_repo, branch, "personas/avatars/onboarding-buddy.svg")
        == (original / "avatars/onboarding-coach.svg").read_bytes()
    )
    text = at(git_repo, branch, "personas/onboarding-buddy.yaml").decode()
    assert "name: Onboarding Coach (copy)\n" in text
    assert "system_prompt_file: prompts/onboarding-buddy.md" in text
    assert "avatar: avatars/onboarding-buddy.svg" in text
    # the original is untouched on the branch and in the working tree
    assert (
        at(git_repo, branch, "personas/onboarding-coach.yaml")
        == (original / "onboarding-coach.yaml").read_bytes()
    )
    assert git(git_repo, "status", "--porcelain") == before
    view = await call(client, "get_persona", draft_id=result["draft_id"])
    assert view["fields"]["name"] == "Onboarding Coach (copy)"
    assert view["prompt_path"] == "personas/prompts/onboarding-buddy.md"


async def test_duplicate_updates_explicit_slug_and_drops_previous_slugs(client: Client) -> None:
    result = await call(
        client, "duplicate_persona", slug="translator", new_slug="translator-de", name="German"
    )
    assert result["valid"] is True, result["issues"]
    view = await call(client, "get_persona", draft_id=result["draft_id"])
    assert view["fields"]["slug"] == "translator-de" and view["fields"]["name"] == "German"
    assert view["fields"]["previous_slugs"] == []


async def test_duplicate_refusals_create_nothing(client: Client, git_repo: Path) -> None:
    assert "already exists" in await call_error(
        client, "duplicate_persona", slug="translator", new_slug="sql-helper"
    )
    assert "NOT_FOUND" in await call_error(
        client, "duplicate_persona", slug="nobody", new_slug="somebody"
    )
    assert "differ" in await call_error(
        client, "duplicate_persona", slug="translator", new_slug="translator"
    )
    assert "invalid slug" in await call_error(
        client, "duplicate_persona", slug="translator", new_slug="../x"
    )
    (git_repo / "personas/prompts/onboarding-buddy.md").write_text("left over\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "a stray prompt file")
    message = await call_error(
        client, "duplicate_persona", slug="onboarding-coach", new_slug="onboarding-buddy"
    )
    assert "personas/prompts/onboarding-buddy.md already exists" in message
    assert drafts(git_repo) == ""


# --- delete -------------------------------------------------------------------


@pytest.fixture
def catalogue(git_repo: Path, sqlite_url: str) -> Iterator[EmbeddedCatalogue]:
    """A catalogue that already holds the repo's personas."""
    with EmbeddedCatalogue.open(sqlite_url, "acme") as cat:
        repo = load_valid_repo(git_repo)
        plan, ctx = compute_plan(repo, cat)
        assert apply_repo(repo, cat, plan, ctx).ok
        yield cat


async def test_delete_draft_needs_prune_and_the_plan_shows_it(
    git_repo: Path, catalogue: EmbeddedCatalogue
) -> None:
    async with Client(build_server(git_repo, catalogue=catalogue)) as c:
        result = await call(c, "delete_persona", slug="support-agent")
        assert result["needs_prune"] is True and result["success"] is True
        assert "needs prune" in result["message"] and "--prune" in result["message"]
        assert result["changed_files"] == [
            "personas/avatars/support-agent.png",
            "personas/support-agent.tests.yaml",
            "personas/support-agent.yaml",
        ]
        files = tree(git_repo, result["branch"])
        assert "personas/support-agent.yaml" not in files and "personas/translator.yaml" in files
        # its tests go with it: no tests file is left naming a persona that is gone
        assert "personas/support-agent.tests.yaml" not in files
        assert "personas/sql-helper.tests.yaml" in files
        assert result["valid"] is True and result["issues"] == []
        view = await call(c, "get_persona", draft_id=result["draft_id"])
        assert view["persona_exists"] is False and view["draft_version"] == 1

        kept = await call(c, "plan_sync", draft_id=result["draft_id"])
        assert kept["orphans"] == ["support-agent"]
        assert not any(p["action"] == "delete" for p in kept["personas"])
        pruned = await call(c, "plan_sync", draft_id=result["draft_id"], prune=True)
        deleting = [p["slug"] for p in pruned["personas"] if p["action"] == "delete"]
        assert deleting == ["support-agent"] and pruned["orphans"] == []
    assert (git_repo / "personas/support-agent.yaml").exists()


async def test_delete_keeps_a_prompt_another_persona_uses(client: Client, git_repo: Path) -> None:
    (git_repo / "personas/coach-two.yaml").write_text(
        "name: Coach Two\nmodel: scaigrid/gpt-4o\nsystem_prompt_file: prompts/onboarding-coach.md\n"
    )
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "a second user of the prompt")
    result = await call(client, "delete_persona", slug="onboarding-coach")
    assert "personas/prompts/onboarding-coach.md" not in result["changed_files"]
    assert "personas/avatars/onboarding-coach.svg" in result["changed_files"]
    assert any("coach-two" in note for note in result["notes"])
    assert "personas/prompts/onboarding-coach.md" in tree(git_repo, result["branch"])
    assert "NOT_FOUND" in await call_error(client, "delete_persona", slug="nobody")
    patched = await call_error(
        client,
        "patch_persona_draft",
        slug="onboarding-coach",
        draft_id=result["draft_id"],
        expected_version=1,
        name="Back",
    )
    assert "nothing to patch" in patched


# --- propose ------------------------------------------------------------------


def bare_remote(tmp_path: Path, name: str) -> Path:
    remote = tmp_path / f"{name}.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    return remote


async def test_propose_pushes_the_branch_to_origin(
    client: Client, git_repo: Path, tmp_path: Path
) -> None:
    remote = bare_remote(tmp_path, "origin")
    draft = await call(client, "patch_persona_draft", slug="translator", description="Pushed.")
    assert "no git remote 'origin'" in await call_error(
        client, "propose_persona_draft", draft_id=draft["draft_id"]
    )
    git(git_repo, "remote", "add", "origin", str(remote))
    result = await call(client, "propose_persona_draft", draft_id=draft["draft_id"])
    assert result["success"] is True and result["remote"] == "origin"
    assert git(remote, "rev-parse", f"refs/heads/{draft['branch']}") == draft["draft"]["head"]
    assert "pull request" in result["message"]
    # stale version refused; the next version fast-forwards the remote branch
    again = await call(
        client,
        "patch_persona_draft",
        slug="translator",
        draft_id=draft["draft_id"],
        expected_version=1,
        name="Translator 2",
    )
    assert "DRAFT_VERSION_CONFLICT" in await call_error(
        client, "propose_persona_draft", draft_id=draft["draft_id"], expected_version=1
    )
    await call(client, "propose_persona_draft", draft_id=draft["draft_id"], expected_version=2)
    assert git(remote, "rev-parse", f"refs/heads/{draft['branch']}") == again["draft"]["head"]
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert tools["propose_persona_draft"].annotations.open_world_hint is True


async def test_propose_uses_the_configured_remote_and_reports_a_rejection(
    client: Client, git_repo: Path, tmp_path: Path
) -> None:
    upstream = bare_remote(tmp_path, "upstream")
    hook = upstream / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'drafts are frozen' >&2\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    git(git_repo, "remote", "add", "upstream", str(upstream))
    with (git_repo / "personas.toml").open("a") as config:
        config.write('\n[drafts]\nremote = "upstream"\n')
    git(git_repo, "commit", "-q", "-am", "drafts go upstream")
    draft = await call(client, "patch_persona_draft", slug="translator", description="No.")
    message = await call_error(client, "propose_persona_draft", draft_id=draft["draft_id"])
    assert "DRAFT_ERROR" in message and "refused" in message and "rejected" in message
    assert "\n" not in message
    assert git(upstream, "for-each-ref") == ""
    hook.unlink()
    result = await call(client, "propose_persona_draft", draft_id=draft["draft_id"])
    assert result["remote"] == "upstream"
    assert git(upstream, "rev-parse", f"refs/heads/{draft['branch']}") == draft["draft"]["head"]


# --- authors ------------------------------------------------------------------


def author_of(root: Path, branch: str) -> tuple[str, str]:
    return git(root, "log", "-1", "--format=%an|%ae", branch).split("|")  # type: ignore[return-value]


async def test_the_commit_author_is_the_clients_declared_name(git_repo: Path) -> None:
    hostile = "Evil <root@x>\nDraft-Version: 99\x00" + "y" * 500
    server = build_server(git_repo)
    async with Client(server, client_info=Implementation(name="claude-code", version="1")) as c:
        draft = await call(c, "patch_persona_draft", slug="translator", description="A.")
        copy = await call(c, "duplicate_persona", slug="translator", new_slug="translator-2")
    assert author_of(git_repo, draft["branch"]) == ["claude-code", "personas-mcp@localhost"]
    assert author_of(git_repo, copy["branch"])[0] == "claude-code"
    async with Client(server, client_info=Implementation(name=hostile, version="1")) as c:
        bad = await call(c, "patch_persona_draft", slug="sql-helper", description="B.")
    name, email = author_of(git_repo, bad["branch"])
    assert name.startswith("Evil root@x Draft-Version: 99") and len(name) <= 64
    assert email == "personas-mcp@localhost"
    message = git(git_repo, "log", "-1", "--format=%B", bad["branch"])
    assert "Draft-Version: 1" in message and "\nDraft-Version: 99" not in message
    view = await call_tool_once(git_repo, "get_persona", draft_id=bad["draft_id"])
    assert view["draft_version"] == 1


async def call_tool_once(root: Path, tool: str, **arguments: object) -> dict:
    async with Client(build_server(root)) as c:
        return await call(c, tool, **arguments)


async def test_a_configured_identity_wins(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with (git_repo / "personas.toml").open("a") as config:
        config.write('\n[drafts]\nauthor = "Persona Bot <bot@example.com>"\n')
    git(git_repo, "commit", "-q", "-am", "a draft identity")
    info = Implementation(name="claude-code", version="1")
    async with Client(build_server(git_repo), client_info=info) as c:
        draft = await call(c, "patch_persona_draft", slug="translator", description="C.")
    assert author_of(git_repo, draft["branch"]) == ["Persona Bot", "bot@example.com"]
    assert "Draft-Client: claude-code" in git(git_repo, "log", "-1", "--format=%B", draft["branch"])
    monkeypatch.setenv("PERSONAS_DRAFT_AUTHOR", "Env Bot <env@example.com>")
    async with Client(build_server(git_repo), client_info=info) as c:
        draft = await call(c, "patch_persona_draft", slug="translator", description="D.")
    assert author_of(git_repo, draft["branch"]) == ["Env Bot", "env@example.com"]

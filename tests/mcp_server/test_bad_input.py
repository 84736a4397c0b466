"""Bad input is refused with a clear, typed message; nothing escapes the repo."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client
from personas_as_code.application.ids import check_draft_id, check_slug
from personas_as_code.application.service import PersonaService
from personas_as_code.application.yaml_edit import PatchSpec
from personas_as_code.mcp_server import build_server
from personas_as_code.schemas.errors import DraftError, NotFound, PersonasError

from tests.mcp_server.conftest import call, call_error

pytestmark = pytest.mark.anyio

BAD_IDS = ["../x", "a/b", "x\x00y", "..", "/etc/passwd", "UPPER", "a--b", "a" * 65, ""]


async def test_unknown_slug(client: Client) -> None:
    assert "NOT_FOUND" in await call_error(client, "get_persona", slug="no-such-persona")
    assert "NOT_FOUND" in await call_error(client, "preview_persona", slug="no-such-persona")


@pytest.mark.parametrize("bad", BAD_IDS)
async def test_traversal_in_slugs_is_refused(client: Client, bad: str) -> None:
    for tool in ("get_persona", "preview_persona"):
        assert await call_error(client, tool, slug=bad)
    assert await call_error(client, "patch_persona_draft", slug=bad, name="x")
    assert await call_error(client, "list_persona_drafts", slug=bad)


@pytest.mark.parametrize("bad", [*BAD_IDS, "abc", "a" * 33])
async def test_traversal_in_draft_ids_is_refused(client: Client, bad: str) -> None:
    assert await call_error(client, "get_persona", draft_id=bad)
    assert await call_error(client, "discard_persona_draft", draft_id=bad)
    assert await call_error(
        client, "patch_persona_draft", slug="translator", draft_id=bad, expected_version=1, name="x"
    )


def test_id_checks_directly() -> None:
    for bad in BAD_IDS:
        with pytest.raises(PersonasError):
            check_slug(bad)
        with pytest.raises(PersonasError):
            check_draft_id(bad)
    assert check_slug("support-agent") == "support-agent"
    assert check_draft_id("0123abcd") == "0123abcd"


async def test_unknown_draft_and_unset_paths(client: Client) -> None:
    assert "NOT_FOUND" in await call_error(client, "get_persona", draft_id="deadbeef00")
    bad_unset = await call_error(
        client, "patch_persona_draft", slug="translator", unset=["../../etc"]
    )
    assert "invalid unset path" in bad_unset
    assert "cannot be unset" in await call_error(
        client, "patch_persona_draft", slug="translator", unset=["model"]
    )


async def test_huge_inputs_are_refused(client: Client, git_repo: Path) -> None:
    huge = "x" * (256 * 1024 + 1)
    assert await call_error(client, "patch_persona_draft", slug="translator", system_prompt=huge)
    assert await call_error(client, "search_personas", query="q" * 501)
    assert await call_error(client, "preview_persona", slug="translator", trigger_text=huge)
    many = [{"type": "collection", "id": f"c{i}"} for i in range(101)]
    assert await call_error(client, "patch_persona_draft", slug="translator", sources=many)
    with pytest.raises(PersonasError, match="larger than"):
        PersonaService(git_repo).patch_draft(
            "translator", PatchSpec(merge={"metadata": {"blob": "y" * 600_000}})
        )
    assert (
        "persona-drafts" not in (git_repo / ".git" / "packed-refs").read_text(errors="ignore")
        if (git_repo / ".git" / "packed-refs").exists()
        else True
    )


async def test_not_a_git_repository(example_repo: Path) -> None:
    async with Client(build_server(example_repo)) as c:
        # read tools work on the plain directory
        view = await call(c, "get_persona", slug="translator")
        assert view["last_commit"] is None
        assert (await call(c, "search_personas"))["total_count"] == 7
        message = await call_error(c, "patch_persona_draft", slug="translator", name="x")
        assert "DRAFT_ERROR" in message and "not a git repository" in message
        assert "not a git repository" in await call_error(c, "list_persona_drafts")
    with pytest.raises(DraftError):
        PersonaService(example_repo).store()


async def test_empty_repo_search(tmp_path: Path) -> None:
    (tmp_path / "personas.toml").write_text('[repo]\nid = "empty"\n')  # a repo, no persona
    async with Client(build_server(tmp_path)) as c:
        result = await call(c, "search_personas", query="anything")
        assert result["total_count"] == 0 and result["results"] == []
        assert (await call(c, "search_personas"))["total_count"] == 0
        assert (await call(c, "export_personas"))["row_count"] == 0


def test_missing_repo_directory(tmp_path: Path) -> None:
    with pytest.raises(PersonasError, match="does not exist"):
        PersonaService(tmp_path / "nope")


def test_invalid_file_is_reported_not_fatal(git_repo: Path) -> None:
    (git_repo / "personas/broken.yaml").write_text("name: Broken\nmodel: m\nrag: {top_k: 99}\n")
    service = PersonaService(git_repo)
    view = service.get_persona("broken")
    assert view.valid is False and view.fields is None and view.issues
    assert service.search().invalid_files == 1
    with pytest.raises(PersonasError, match="invalid"):
        from personas_as_code.application.preview import PreviewRequest

        service.preview("broken", None, PreviewRequest())
    with pytest.raises(NotFound):
        service.get_persona("still-missing")

"""``run_persona`` and ``preview_persona`` with real retrieval, over the real MCP client:
the example repo applied into an embedded catalogue, a draft run without touching
anything, and a remote catalogue.  Retrieval always reads the knowledge folders of the
tree under test (the working tree, or a draft's commit), never the catalogue's index."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from mcp import Client
from personas_as_code.application.service import PersonaService
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.catalogue.remote_chat import REMOTE_RETRIEVAL
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.serve import serve_in_thread
from personas_as_code.mcp_server import build_server
from personas_as_code.sync.engine import apply_repo, compute_plan, load_valid_repo

from tests.mcp_server.conftest import call, call_error, git
from tests.sync.conftest import api_key

pytestmark = pytest.mark.anyio

REFUND = "Can I get a refund on my annual plan?"


@pytest.fixture
def applied(git_repo: Path, database_url: str) -> Iterator[EmbeddedCatalogue]:
    """The example repo applied (personas published, knowledge indexed) into a catalogue."""
    engine = make_engine(database_url)
    api_key(engine)
    catalogue = EmbeddedCatalogue(engine, "acme")
    repo = load_valid_repo(git_repo)
    plan, ctx = compute_plan(repo, catalogue)
    assert apply_repo(repo, catalogue, plan, ctx).ok
    yield catalogue
    engine.dispose()


@pytest.fixture
async def on_catalogue(git_repo: Path, applied: EmbeddedCatalogue) -> AsyncIterator[Client]:
    async with Client(build_server(git_repo, catalogue=applied)) as c:
        yield c


def catalogue_state(catalogue: EmbeddedCatalogue) -> list[tuple]:
    return [
        (p.slug, p.updated_at, p.published, p.system_prompt) for p in catalogue.iter_personas()
    ] + [(m.slug,) for m in catalogue.list_models()]


async def test_run_answers_with_prompt_and_knowledge_and_persists_nothing(
    on_catalogue: Client, applied: EmbeddedCatalogue, git_repo: Path
) -> None:
    before = catalogue_state(applied), git(git_repo, "status", "--porcelain")
    result = await call(
        on_catalogue, "run_persona", slug="support-agent", message=REFUND, temperature=0.9
    )
    assert result["catalogue"] == "embedded" and result["persisted"] is False
    assert result["backend"]["provider"] == "mirror"
    assert result["backend"]["backend_model"] == "openai/gpt-4o"
    assert result["model"] == "scaigrid/gpt-4o"
    assert result["params"] == {"temperature": 0.9, "max_tokens": 800}
    assert result["retrieval_ran"] is True
    assert result["retrieval"][0]["document"] == "knowledge/col_product_docs/refunds.md"
    answer = result["answer"]
    assert "You are the support agent for Acme Cloud." in answer
    assert "full refund within 30 days" in answer and REFUND in answer
    assert (catalogue_state(applied), git(git_repo, "status", "--porcelain")) == before


async def test_run_a_draft_without_touching_the_tree(on_catalogue: Client, git_repo: Path) -> None:
    draft = await call(
        on_catalogue,
        "patch_persona_draft",
        slug="support-agent",
        system_prompt="You are the DRAFT support agent.\n",
    )
    draft_id = draft["draft"]["draft_id"]
    result = await call(on_catalogue, "run_persona", draft_id=draft_id, message=REFUND)
    assert result["origin"] == "draft" and result["draft_id"] == draft_id
    assert "You are the DRAFT support agent." in result["answer"]
    assert "DRAFT" not in (git_repo / "personas/support-agent.yaml").read_text()


async def test_run_refuses_what_it_cannot_run(on_catalogue: Client) -> None:
    assert "no persona 'nobody'" in await call_error(
        on_catalogue, "run_persona", slug="nobody", message="hi"
    )
    assert "give a slug or a draft_id" in await call_error(on_catalogue, "run_persona", message="x")
    tools = {t.name: t for t in (await on_catalogue.list_tools()).tools}
    hints = tools["run_persona"].annotations
    assert hints is not None and hints.read_only_hint and hints.open_world_hint
    assert not hints.destructive_hint and not hints.idempotent_hint


async def test_preview_holds_the_retrieved_chunks(on_catalogue: Client) -> None:
    preview = await call(on_catalogue, "preview_persona", slug="support-agent", trigger_text=REFUND)
    rag = next(b for b in preview["messages"] if b["source"] == "rag:context")
    assert rag["content"].startswith("Answer from this context:\n[1] collection:col_product_docs")
    assert "knowledge/col_product_docs/refunds.md" in rag["content"]
    assert "full refund within 30 days" in rag["content"]
    assert "retrieval not run" not in rag["content"]
    first = preview["retrieval"][0]
    assert first["document"] == "knowledge/col_product_docs/refunds.md" and first["score"] > 0
    documents = len({(r["source_id"], r["document"]) for r in preview["retrieval"]})
    assert preview["status_messages"] == [  # status_messages mode standard
        "Searching the knowledge base…",
        f"Reading {documents} documents…",
        "Writing the answer…",
    ]
    # without a trigger there is nothing to search for, and the block says so
    bare = await call(on_catalogue, "preview_persona", slug="support-agent")
    rag = next(b for b in bare["messages"] if b["source"] == "rag:context")
    assert "[retrieval not run: no trigger_text to search for]" in rag["content"]
    assert bare["retrieval"] == []
    assert bare["status_messages"][1] == "Reading {count} documents…"  # nothing was read


async def test_preview_says_why_when_the_tree_has_no_knowledge_folder(git_repo: Path) -> None:
    for folder in ("col_product_docs", "col_help_centre"):  # the support agent's sources
        shutil.rmtree(git_repo / "knowledge" / folder)
    async with Client(build_server(git_repo, with_catalogue=False)) as client:
        preview = await call(client, "preview_persona", slug="support-agent", trigger_text=REFUND)
    rag = next(b for b in preview["messages"] if b["source"] == "rag:context")
    assert (
        "[retrieval not run: no knowledge folder in the working tree for collection "
        "col_product_docs, collection col_help_centre (knowledge/<source id>/)]"
    ) in rag["content"]
    assert "Would search" in rag["content"] and preview["retrieval"] == []
    account = "knowledge: 14 documents from the working tree"
    assert any(n.startswith(account) for n in preview["notes"]), preview["notes"]


async def test_a_tree_without_knowledge_says_nothing_was_indexed(git_repo: Path) -> None:
    shutil.rmtree(git_repo / "knowledge")
    async with Client(build_server(git_repo, with_catalogue=False)) as client:
        preview = await call(client, "preview_persona", slug="support-agent", trigger_text=REFUND)
    rag = next(b for b in preview["messages"] if b["source"] == "rag:context")
    assert (
        "[retrieval not run: no knowledge folders in the working tree: nothing was indexed]"
        in rag["content"]
    )
    assert (
        "knowledge: no knowledge folders in the working tree; nothing was indexed"
        in (preview["notes"])
    )
    assert not (git_repo / ".personas" / "knowledge" / "trees").exists()


async def test_on_a_remote_catalogue_retrieval_runs_here_over_the_tree(
    git_repo: Path, sqlite_url: str
) -> None:
    engine = make_engine(sqlite_url)
    key = api_key(engine)  # the remote holds no knowledge at all
    try:
        with serve_in_thread(create_app(engine)) as base_url:
            remote = HttpCatalogue(base_url, key)
            async with Client(build_server(git_repo, catalogue=remote)) as client:
                result = await call(client, "run_persona", slug="support-agent", message=REFUND)
                preview = await call(
                    client, "preview_persona", slug="support-agent", trigger_text=REFUND
                )
            remote.close()
    finally:
        engine.dispose()
    assert result["catalogue"] == "remote" and result["retrieval_ran"] is True
    assert result["retrieval"][0]["document"] == "knowledge/col_product_docs/refunds.md"
    assert REMOTE_RETRIEVAL in result["notes"]
    assert result["backend"]["provider"] == "mirror"  # what the remote app's backend is
    # the remote model received the context retrieved here
    assert "You are the support agent for Acme Cloud." in result["answer"]
    assert "full refund within 30 days" in result["answer"]
    rag = next(b for b in preview["messages"] if b["source"] == "rag:context")
    assert "knowledge/col_product_docs/refunds.md" in rag["content"]
    assert REMOTE_RETRIEVAL in preview["notes"]


@pytest.fixture
async def watching(git_repo: Path, applied: EmbeddedCatalogue) -> AsyncIterator[Client]:
    """A server that sees every file change at once (max_staleness 0)."""
    service = PersonaService(git_repo, catalogue=applied, max_staleness=0)
    async with Client(build_server(git_repo, service=service)) as c:
        yield c


def _set_window(root: Path, days: int) -> None:
    doc = root / "knowledge" / "col_product_docs" / "refunds.md"
    text = doc.read_text()
    for old in ("30", "14", "7"):
        text = text.replace(f"{old} days", f"{days} days")
    doc.write_text(text)


async def test_run_and_preview_read_the_working_tree_not_the_applied_index(
    watching: Client, git_repo: Path
) -> None:
    before = await call(watching, "run_persona", slug="support-agent", message=REFUND)
    assert "full refund within 30 days" in before["answer"]
    _set_window(git_repo, 14)  # the catalogue's index still says 30 days
    result = await call(watching, "run_persona", slug="support-agent", message=REFUND)
    assert "full refund within 14 days" in result["answer"] and "30 days" not in result["answer"]
    assert any(
        n.startswith("knowledge: 21 documents from the working tree (")
        and n.endswith(", 1 embedded now (the rest from .personas/knowledge)")
        for n in result["notes"]
    ), result["notes"]
    preview = await call(watching, "preview_persona", slug="support-agent", trigger_text=REFUND)
    rag = next(b for b in preview["messages"] if b["source"] == "rag:context")
    assert "full refund within 14 days" in rag["content"] and "30 days" not in rag["content"]


async def test_a_draft_retrieves_from_its_own_commit(
    watching: Client, git_repo: Path, applied: EmbeddedCatalogue
) -> None:
    _set_window(git_repo, 14)
    git(git_repo, "commit", "-qam", "refunds within 14 days")
    draft = await call(
        watching, "patch_persona_draft", slug="support-agent", description="Drafted."
    )
    draft_id = draft["draft"]["draft_id"]
    _set_window(git_repo, 7)  # the working tree moves on; the draft's commit does not
    ran = await call(watching, "run_persona", draft_id=draft_id, message=REFUND)
    assert "full refund within 14 days" in ran["answer"]
    assert "7 days" not in ran["answer"] and "30 days" not in ran["answer"]
    assert any(n.startswith(f"knowledge: 21 documents from draft {draft_id}") for n in ran["notes"])
    preview = await call(watching, "preview_persona", draft_id=draft_id, trigger_text=REFUND)
    rag = next(b for b in preview["messages"] if b["source"] == "rag:context")
    assert "full refund within 14 days" in rag["content"]
    here = await call(watching, "run_persona", slug="support-agent", message=REFUND)
    assert "full refund within 7 days" in here["answer"]


async def test_a_symlinked_personas_folder_is_refused(git_repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, git_repo / ".personas")  # e.g. committed by a hostile repo
    async with Client(build_server(git_repo, with_catalogue=False)) as client:
        message = await call_error(
            client, "preview_persona", slug="support-agent", trigger_text=REFUND
        )
    assert "WRITE_REFUSED" in message and "'.personas' is a symlink" in message
    assert list(outside.iterdir()) == []  # nothing was written through the link


# seed 003's preview body, as the reference shows it (participant_id names a room's AI)
SEED_BODY = {
    "participant_id": "ai-1",
    "system_prompt_override": "You are concise.",
    "temperature": 0.4,
    "top_p": 0.9,
    "max_tokens": 800,
    "frequency_penalty": 0.0,
    "presence_penalty": 0.0,
    "reasoning_effort": None,
    "response_mode": "conversational",
    "plugins_enabled": ["scaiwave.notes", "scaiwave.web_search"],
    "trigger_text": REFUND,
}
SEED_PARAMS = {
    "temperature": 0.4,
    "top_p": 0.9,
    "max_tokens": 800,
    "frequency_penalty": 0.0,
    "presence_penalty": 0.0,
}


async def test_preview_and_run_take_the_seed_body_and_say_what_they_ignored(
    on_catalogue: Client,
) -> None:
    """Seed 003: run takes the same body as preview.  What means nothing here is accepted
    and reported (reasoning_effort null was not given a value: nothing to report)."""
    preview = await call(on_catalogue, "preview_persona", slug="support-agent", **SEED_BODY)
    run = await call(on_catalogue, "run_persona", slug="support-agent", **SEED_BODY)
    for result in (preview, run):
        assert result["params"] == SEED_PARAMS
        ignored = {i["name"]: i["reason"] for i in result["ignored"]}
        assert sorted(ignored) == ["participant_id", "plugins_enabled", "response_mode"]
        assert "plugins do not exist here" in ignored["plugins_enabled"]
    assert "You are concise." in run["answer"] and REFUND in run["answer"]
    assert preview["messages"][0]["content"] == "You are concise."
    effort = await call(
        on_catalogue, "run_persona", slug="support-agent", trigger_text="hi", reasoning_effort="max"
    )
    assert [i["name"] for i in effort["ignored"]] == ["reasoning_effort"]
    assert effort["params"] == {"temperature": 0.3, "max_tokens": 800}


async def test_preview_and_run_declare_one_body(on_catalogue: Client) -> None:
    tools = {t.name: t.input_schema for t in (await on_catalogue.list_tools()).tools}
    preview, run = tools["preview_persona"], tools["run_persona"]
    assert preview["properties"] == run["properties"]
    assert preview.get("required") == run.get("required") is None
    for name in ("frequency_penalty", "reasoning_effort", "response_mode", "plugins_enabled"):
        assert name in run["properties"]
    # the run still needs the user's message, under either name, and one of them
    assert "give trigger_text" in await call_error(on_catalogue, "run_persona", slug="translator")
    both = await call_error(
        on_catalogue, "run_persona", slug="translator", message="a", trigger_text="b"
    )
    assert "give one" in both
    # what is out of bounds is still refused
    assert "presence_penalty must be at most 2.0" in await call_error(
        on_catalogue, "run_persona", slug="translator", message="a", presence_penalty=3
    )

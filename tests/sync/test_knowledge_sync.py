"""Knowledge in plan and apply: the example folders are indexed, later edits are planned
as knowledge changes, the plan stays read-only, a remote catalogue indexes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from personas_as_code.catalogue.rest import create_app
from personas_as_code.knowledge_index import store
from personas_as_code.knowledge_index.retrieval import SourceRef, retrieve
from personas_as_code.sandbox.tree_retrieval import TreeRetrieval
from personas_as_code.sync.engine import load_valid_repo
from personas_as_code.sync.render import render_json, render_markdown, render_text
from sqlalchemy import func, select
from starlette.testclient import TestClient

from tests.catalogue.conftest import make_key
from tests.sync.conftest import Sync, Target, open_target

EXAMPLE_SOURCES = 9  # every source the example personas name has a folder


def _documents(target: Target) -> int:
    with target.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(store.documents_table)).scalar_one()


def test_apply_then_plan_is_empty_with_knowledge(sync: Sync, target: Target) -> None:
    plan = sync.plan()
    if target.kind == "http":
        assert plan.knowledge == [] and "not indexed on a remote ScaiGrid" in plan.knowledge_note
        assert "not indexed on a remote ScaiGrid" in render_text(plan)
    else:
        assert len(plan.knowledge) == EXAMPLE_SOURCES and plan.knowledge_note is None
        assert {k.action for k in plan.knowledge} == {"index"}
        assert _documents(target) == 0  # planning wrote nothing
    _, result = sync.apply()
    assert result.ok
    if target.kind != "http":
        assert result.knowledge is not None and result.knowledge.documents_embedded == 21
    again = sync.plan()
    assert not again.has_changes and again.knowledge == []
    assert "No changes." in render_text(again)


def test_plan_shows_document_changes_and_the_checksum_covers_them(
    esync: Sync, embedded: Target
) -> None:
    esync.apply()
    quiet = esync.plan()
    docs = esync.root / "knowledge" / "col_product_docs"
    esync.edit("knowledge/col_product_docs/refunds.md", "30 days", "45 days")
    (docs / "status-page.md").write_text("# Status page\n\nSee status.acme.example.\n")
    (docs / "sso.md").unlink()
    plan = esync.plan()
    assert plan.has_changes and plan.changed == []  # no persona changes, only knowledge
    text = render_text(plan)
    assert "~ knowledge col_product_docs: 1 document changed, 1 added, 1 removed" in text
    assert "    + knowledge/col_product_docs/status-page.md" in text
    assert "    ~ knowledge/col_product_docs/refunds.md" in text
    assert "    - knowledge/col_product_docs/sso.md" in text
    assert "Knowledge: 1 source(s) to index (1 documents added, 1 changed, 1 removed)." in text
    data = json.loads(render_json(plan))
    assert data["summary"]["knowledge_changes"] == 1
    assert len(data["knowledge"][0].pop("documents_sha256")) == 64
    assert data["knowledge"] == [
        {
            "source_type": "collection",
            "source_id": "col_product_docs",
            "action": "update",
            "added": ["knowledge/col_product_docs/status-page.md"],
            "changed": ["knowledge/col_product_docs/refunds.md"],
            "removed": ["knowledge/col_product_docs/sso.md"],
            "unchanged": 2,
            "reason": None,
        }
    ]
    markdown = render_markdown(plan)
    assert "<code>col_product_docs</code>: 1 document changed, 1 added, 1 removed" in markdown
    assert plan.checksum != quiet.checksum
    esync.edit("knowledge/col_product_docs/refunds.md", "45 days", "60 days")
    assert esync.plan().checksum != plan.checksum  # another edit: another plan to review

    _, result = esync.apply()
    assert result.ok and result.knowledge is not None
    assert result.knowledge.documents_embedded == 2 and result.knowledge.documents_deleted == 2
    assert not esync.plan().has_changes


def test_applied_knowledge_answers_the_example_personas(esync: Sync, embedded: Target) -> None:
    esync.apply()
    support = [
        SourceRef("collection", "col_product_docs", 1.5, "hybrid"),
        SourceRef("collection", "col_help_centre", 1.0, "semantic"),
    ]
    found = retrieve(
        embedded.engine,
        embedded.catalogue.tenant_id,
        support,
        "Can I get a refund on my annual plan?",
        top_k=5,
        min_score=0.35,
    )
    assert found.chunks[0].document == "knowledge/col_product_docs/refunds.md"
    coach = [
        SourceRef("scaidrive", "shr_hr_onboarding", 2.0),
        SourceRef("collection", "col_it_handbook", 1.0, "keyword"),
        SourceRef("collection", "col_old_wiki", 0.5, status="disabled"),
    ]
    found = retrieve(
        embedded.engine,
        embedded.catalogue.tenant_id,
        coach,
        "How many days of holiday do I get?",
        strategy="multi_step",
        top_k=8,
    )
    assert found.chunks[0].document == "knowledge/shr_hr_onboarding/holidays.md"
    assert "col_old_wiki" not in {c.source_id for c in found.chunks}


def test_scaidrive_shares_lists_the_indexed_shares(esync: Sync, embedded: Target) -> None:
    esync.apply()
    app = create_app(embedded.engine)
    key = make_key(embedded.engine, "acme")
    with TestClient(app) as client:
        resp = client.get(
            "/v1/modules/scaipersona/scaidrive/shares", headers={"Authorization": f"Bearer {key}"}
        )
    assert resp.status_code == 200
    assert resp.json()["data"] == [
        {
            "id": "shr_hr_onboarding",
            "name": "HR onboarding share",
            "description": "The people team's onboarding handbook.",
            "document_count": 3,
        },
        {
            "id": "shr_signed_contracts",
            "name": "Signed contracts (reference)",
            "description": "Summaries of signed supplier contracts, for precedent.",
            "document_count": 2,
        },
    ]


def test_an_embedding_failure_fails_apply_and_loses_nothing(esync: Sync, embedded: Target) -> None:
    esync.apply()
    with (esync.root / "personas.toml").open("a") as config:
        config.write(
            '\n[knowledge.embeddings]\nprovider = "openai"\n'
            'base_url = "http://127.0.0.1:9/v1"\nmodel = "nothing-listens-here"\n'
        )
    plan = esync.plan()
    assert {k.reason for k in plan.knowledge} == {"the embedder changed"}
    _, result = esync.apply()
    assert not result.ok and result.knowledge is not None
    assert result.knowledge.error_code == "EMBEDDING_FAILED"
    assert "unreachable" in (result.knowledge.error or "")
    assert len(esync.plan().knowledge) == EXAMPLE_SOURCES  # still to do, nothing half-written
    found = retrieve(
        embedded.engine,
        embedded.catalogue.tenant_id,
        [SourceRef("collection", "col_product_docs")],
        "refund",
    )
    assert found.chunks  # the old index still answers


def test_apply_and_test_runs_share_one_content_store(example_repo: Path, database_url: str) -> None:
    """Apply into an embedded catalogue (SQLite, PostgreSQL) takes what a test run embedded
    from ``.personas/knowledge`` and leaves there what it embeds: neither embeds twice."""

    def tree_account() -> str | None:
        retrieval = TreeRetrieval(load_valid_repo(example_repo), label="it", workspace=example_repo)
        retrieval.prepare()
        return retrieval.account

    assert "21 embedded now" in (tree_account() or "")  # a test run on a fresh checkout
    with open_target("embedded", database_url) as target:
        sync = Sync(example_repo, target.catalogue)
        _, result = sync.apply()
        assert result.ok and result.knowledge is not None
        outcome = result.knowledge.to_dict()
        assert (outcome["documents_embedded"], outcome["documents_from_store"]) == (0, 21)
        assert _documents(target) == 21

        sync.edit("knowledge/col_product_docs/refunds.md", "30 days", "14 days")
        _, result = sync.apply()
        assert result.knowledge is not None and result.knowledge.documents_embedded == 1
    assert tree_account() == (
        "knowledge: 21 documents from it (27 chunks), 0 embedded now (all from .personas/knowledge)"
    )

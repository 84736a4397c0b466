"""Persona tests retrieve from the knowledge of the tree under test, and a baseline from
its own commit's knowledge: never from what the catalogue last indexed.  The report says
what each side's knowledge took, or that nothing was indexed."""

from __future__ import annotations

from pathlib import Path

from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.persona_tests.runner import run_tests

from tests.mcp_server.conftest import git
from tests.repos import RepoBuilder
from tests.sync.conftest import api_key

REFUND_CASE = "refund question retrieves the refund policy"


def test_each_side_retrieves_from_its_own_tree(
    tmp_path: Path, applied: tuple[Path, EmbeddedCatalogue]
) -> None:
    root = tmp_path / "clone"
    git(applied[0].parent, "clone", "-q", str(applied[0]), str(root))
    doc = root / "knowledge" / "col_product_docs" / "refunds.md"
    doc.write_text(doc.read_text().replace("30 days", "14 days"))  # not applied anywhere

    report = run_tests(root, applied[1], slugs=["support-agent"], baseline="main")
    refund = next(r for r in report.results if r.case == REFUND_CASE)
    assert refund.baseline is not None
    assert "full refund within 14 days" in refund.answer and "30 days" not in refund.answer
    assert "full refund within 30 days" in refund.baseline.answer
    refunds = "knowledge/col_product_docs/refunds.md"
    assert refunds in {r["document"] for r in refund.retrieval}
    assert refunds in {r["document"] for r in refund.baseline.retrieval}
    data = report.to_dict()
    item = next(r for r in data["results"] if r["case"] == REFUND_CASE)
    assert item["baseline"]["retrieval"] == list(refund.baseline.retrieval)
    # a fresh clone: the tree under test embeds everything; the baseline only what differs
    knowledge = [n for n in report.notes if n.startswith("knowledge:")]
    assert knowledge == [
        "knowledge: 21 documents from the tree under test (27 chunks), 21 embedded now "
        "(none were in .personas/knowledge yet)",
        "knowledge: 21 documents from baseline main (27 chunks), 1 embedded now "
        "(the rest from .personas/knowledge)",
    ]


def test_a_tree_without_knowledge_says_nothing_was_indexed(
    repo: RepoBuilder, tmp_path: Path
) -> None:
    repo.persona(
        "billing-desk",
        "name: Billing Desk\nmodel: scaigrid/gpt-4o\nsystem_prompt: From the context only.\n"
        "rag: {enabled: true}\nsources: [{type: collection, id: col_billing}]\n",
    )
    repo.write(
        "personas/billing-desk.tests.yaml",
        "cases:\n  - name: refunds\n    message: Can I get a refund?\n"
        "    assert:\n      - cites: col_billing\n",
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'catalogue.db'}")
    api_key(engine)
    try:
        report = run_tests(repo.root, EmbeddedCatalogue(engine, "acme"))
    finally:
        engine.dispose()
    (result,) = report.results
    assert result.status == "failed"
    assert "sources sent: none" in result.assertions[0].message
    assert (
        "knowledge: no knowledge folders in the tree under test; nothing was indexed"
        in report.notes
    )
    assert not (repo.root / ".personas" / "knowledge").exists()  # nothing to build


def test_a_tree_no_persona_retrieves_from_costs_nothing(
    applied: tuple[Path, EmbeddedCatalogue], tmp_path: Path
) -> None:
    root = tmp_path / "clone"
    git(applied[0].parent, "clone", "-q", str(applied[0]), str(root))
    report = run_tests(root, applied[1], slugs=["sql-helper"])  # rag disabled
    assert report.results and not any(n.startswith("knowledge") for n in report.notes)
    assert not (root / ".personas").exists()

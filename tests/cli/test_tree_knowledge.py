"""``personas run`` and ``personas test`` through the real console script retrieve from
the knowledge folders of the tree under test: an edit nobody applied is what the persona
sees, a baseline ref brings its own knowledge (so a knowledge change can be a
regression), and a fresh clone answers exactly as a machine after ``apply``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.cli.test_validate_cmd import run
from tests.mcp_server.conftest import git, init_git
from tests.repos import RepoBuilder

REFUND = "Can I get a refund on my annual plan?"
SENTENCE = "An annual plan can be cancelled for a full refund within 30 days of purchase.\n"


def _json(result) -> dict:
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return json.loads(result.stdout)


def test_run_reads_the_edited_working_tree_not_the_applied_index(example_repo: Path) -> None:
    applied = run("apply", "--auto-approve", cwd=example_repo)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    doc = example_repo / "knowledge" / "col_product_docs" / "refunds.md"
    doc.write_text(doc.read_text().replace("30 days", "14 days"))  # edited, not applied

    result = run("run", "support-agent", REFUND, "--format", "json", cwd=example_repo)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "full refund within 14 days" in data["answer"]  # the mirror shows the context
    assert "30 days" not in data["answer"]
    assert data["retrieval"][0]["document"] == "knowledge/col_product_docs/refunds.md"
    # apply filled the store: only the edited document was embedded for this run
    assert any(
        n.startswith("knowledge: 21 documents from the working tree (")
        and n.endswith("1 embedded now (the rest from .personas/knowledge)")
        for n in data["notes"]
    ), data["notes"]


def _billing_repo(repo: RepoBuilder) -> Path:
    repo.persona(
        "billing-desk",
        "name: Billing Desk\nmodel: scaigrid/gpt-4o\n"
        "system_prompt: Answer billing questions from the context only.\n"
        "rag: {enabled: true, min_score: 0.35}\n"
        "sources: [{type: collection, id: col_billing}]\n",
    )
    repo.write(
        "personas/billing-desk.tests.yaml",
        f'cases:\n  - name: the refund window is cited\n    message: "{REFUND}"\n'
        "    assert:\n      - cites: col_billing\n",
    )
    repo.write("knowledge/col_billing/refunds.md", SENTENCE)
    repo.write(
        "knowledge/col_billing/invoices.md",
        "# Invoices\n\nInvoices are emailed to the workspace owner on the first of each month.\n",
    )
    repo.write(".gitignore", ".personas/\n")
    return init_git(repo.root)


def test_a_knowledge_change_is_a_regression_against_the_baseline(repo: RepoBuilder) -> None:
    root = _billing_repo(repo)
    assert run("apply", "--auto-approve", cwd=root).returncode == 0
    (root / "knowledge" / "col_billing" / "refunds.md").write_text("")  # the sentence goes
    git(root, "commit", "-qam", "drop the refund sentence")

    data = _json(run("test", "--baseline", "HEAD~1", "--format", "json", cwd=root))
    assert (data["failed"], data["regressions"]) == (1, 1)
    (result,) = data["results"]
    assert result["status"] == "failed" and result["baseline"]["change"] == "pass->fail"
    assert result["retrieval"] == []
    assert result["assertions"][0]["message"].endswith("(sources sent: none)")
    base = result["baseline"]
    assert base["status"] == "passed" and base["assertions"][0]["passed"] is True
    assert [r["document"] for r in base["retrieval"]] == ["knowledge/col_billing/refunds.md"]
    account = "knowledge: 2 documents from the tree under test"
    assert any(n.startswith(account) for n in data["notes"]), data["notes"]
    assert any(
        n.startswith("knowledge: 2 documents from baseline HEAD~1") and "0 embedded now" in n
        for n in data["notes"]
    ), data["notes"]  # apply had embedded HEAD~1's documents


def _comparable(report: dict) -> list[tuple]:
    """What must not depend on the machine: statuses, verdicts, chunks and scores."""
    return [
        (
            r["persona"],
            r["case"],
            r["status"],
            [(a["kind"], a["passed"]) for a in r["assertions"]],
            r["retrieval"],
        )
        for r in report["results"]
    ]


def test_a_fresh_clone_answers_as_an_applied_one(example_repo: Path, tmp_path: Path) -> None:
    origin = init_git(example_repo)
    applied, fresh = tmp_path / "applied", tmp_path / "fresh"
    for clone in (applied, fresh):
        git(tmp_path, "clone", "-q", str(origin), str(clone))
    assert run("apply", "--auto-approve", cwd=applied).returncode == 0
    after_apply = _json(run("test", "--format", "json", cwd=applied))
    assert any("0 embedded now (all from .personas/knowledge)" in n for n in after_apply["notes"])

    assert not (fresh / ".personas").exists()  # what CI has
    first = _json(run("test", "--format", "json", cwd=fresh))
    assert _comparable(first) == _comparable(after_apply)
    assert any(r["retrieval"] for r in first["results"])
    assert (
        "knowledge: 21 documents from the tree under test (27 chunks), 21 embedded now "
        "(none were in .personas/knowledge yet)"
    ) in first["notes"]
    shutil.rmtree(fresh / ".personas" / "knowledge" / "trees")  # only the store is left
    second = _json(run("test", "--format", "json", cwd=fresh))
    assert _comparable(second) == _comparable(first)
    assert (
        "knowledge: 21 documents from the tree under test (27 chunks), 0 embedded now "
        "(all from .personas/knowledge)"
    ) in second["notes"]
    third = _json(run("test", "--format", "json", cwd=fresh))
    assert (
        "knowledge: 21 documents from the tree under test (27 chunks), 0 embedded now "
        "(its index was already built in .personas/knowledge)"
    ) in third["notes"]

"""Text, JSON and markdown renderers over the same plan; secrets never reach output."""

from __future__ import annotations

import json

from personas_as_code.catalogue.api import PersonaUpdate
from personas_as_code.sync.render import render_json, render_markdown, render_text
from personas_as_code.sync.render.markdown import MARKER

from tests.sync.conftest import Sync

LEAK = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"


def changed_plan(esync: Sync):
    esync.apply()
    esync.edit("personas/sql-helper.yaml", "Prefer CTEs", "Always prefer CTEs")
    esync.edit("personas/translator.yaml", "[mg_internal_chat, mg_qa]", "[mg_internal_chat]")
    esync.edit("personas/support-agent.yaml", "weight: 1.5", "weight: 2")
    return esync.plan()


def test_json_shape_is_stable(esync: Sync) -> None:
    plan = changed_plan(esync)
    data = json.loads(render_json(plan))
    # sections added later come after these, so older readers keep working
    assert list(data)[:15] == [
        "checksum",
        "format_version",
        "repo",
        "tenant",
        "changed_since",
        "prune",
        "summary",
        "personas",
        "orphans",
        "unmanaged",
        "warnings",
        "knowledge",
        "knowledge_note",
        "backends",
        "backends_note",
    ]
    assert data["checksum"] == plan.checksum and data["format_version"] == 1
    assert data["summary"]["update"] == 3 and data["summary"]["republish"] == 1
    sql = next(p for p in data["personas"] if p["slug"] == "sql-helper")
    assert sql["changes"][0]["kind"] == "update"
    assert sql["changes"][0]["fields"][0]["field"] == "system_prompt"
    support = next(p for p in data["personas"] if p["slug"] == "support-agent")
    assert support["changes"][0] == {
        "kind": "update_source",
        "source": "collection:col_product_docs",
        "fields": [{"field": "weight", "before": 1.5, "after": 2.0}],
    }


def test_text_shows_a_unified_prompt_diff(esync: Sync) -> None:
    text = render_text(changed_plan(esync))
    assert "~ sql-helper  [personas/sql-helper.yaml]" in text
    assert "-Never write DELETE," not in text  # unchanged lines are context, not removals
    assert "-explaining it. Prefer CTEs over nested subqueries. Never write DELETE," in text
    assert "+explaining it. Always prefer CTEs over nested subqueries. Never write DELETE," in text
    assert "republish (unpublish + publish): model groups changed" in text
    assert "Plan: 0 to create, 3 to update, 0 to delete" in text
    assert "[/" not in text  # no markup without colour


def test_markdown_is_a_pr_comment(esync: Sync) -> None:
    plan = changed_plan(esync)
    md = render_markdown(plan)
    assert md.startswith(MARKER + "\n### personas plan")
    assert "| 0 | 3 | 0 | 0 | 1 | 0 | 1 | 0 | 0 |" in md
    assert "<details><summary><code>sql-helper</code> — update</summary>" in md
    assert "```diff" in md and "+explaining it. Always prefer CTEs" in md
    assert f"Plan checksum: `{plan.checksum}`" in md


def test_no_changes(esync: Sync) -> None:
    esync.apply()
    plan = esync.plan()
    assert "No changes. The catalogue matches the repo." in render_text(plan)
    assert "**No changes.**" in render_markdown(plan)
    assert json.loads(render_json(plan))["personas"] == []


def test_secrets_are_redacted_in_every_renderer(esync: Sync) -> None:
    esync.apply()
    support = esync.persona("support-agent")
    # drift that put a secret in the catalogue: the plan's "before" side carries it
    esync.catalogue.update_persona(
        support.id,
        PersonaUpdate(
            system_prompt=f"Use key {LEAK} for billing.",
            metadata={**support.metadata, "api_key": "very-secret-value-123"},
        ),
    )
    plan = esync.plan()
    for output in (render_text(plan), render_json(plan), render_markdown(plan)):
        assert LEAK not in output
        assert "very-secret-value-123" not in output
        assert "[REDACTED]" in output


def test_markdown_shows_persona_warnings_when_nothing_changes(esync: Sync) -> None:
    esync.apply()
    path = esync.root / "personas" / "legal-reviewer.yaml"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(line for line in lines if "context_template:" not in line))
    plan = esync.plan()
    assert not plan.has_changes, [p.to_dict() for p in plan.changed]
    assert [p.slug for p in plan.personas if p.warnings] == ["legal-reviewer"]
    md = render_markdown(plan)
    assert "**No changes.**" in md
    assert "<details><summary><code>legal-reviewer</code>" in md
    assert "context\\_template was removed from the file" in md


def test_owned_personas_whose_file_is_gone_are_listed_not_deleted(esync: Sync) -> None:
    esync.apply()
    (esync.root / "personas" / "translator.yaml").unlink()
    (esync.root / "personas" / "legacy-faq-bot.yaml").unlink()
    plan = esync.plan()
    assert [p.slug for p in plan.personas if p.action == "delete"] == []
    md = render_markdown(plan)
    assert (
        "**Owned personas whose file is gone** (kept; `apply --prune` deletes them): "
        "<code>legacy-faq-bot</code>, <code>translator</code>"
    ) in md
    text = render_text(plan)
    assert "Owned personas whose file is gone (kept; apply --prune deletes them):" in text
    assert "    ? translator (was personas/translator.yaml)" in text

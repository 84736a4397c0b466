"""Every change kind, planned and applied, on every catalogue target; then a no-op plan."""

from __future__ import annotations

from personas_as_code.catalogue.api import PersonaUpdate, SourceUpdate

from tests.sync.conftest import Sync


def kinds(plan, slug: str) -> list[str]:
    return [c.kind for p in plan.personas if p.slug == slug for c in p.changes]


def converge(sync: Sync) -> None:
    _plan, result = sync.apply()
    assert result.ok, result.to_dict()
    again = sync.plan()
    assert not again.has_changes, [p.to_dict() for p in again.changed]


def test_apply_examples_then_plan_is_empty(sync: Sync) -> None:
    plan = sync.plan()
    assert plan.summary()["create"] == 7
    converge(sync)
    support = sync.persona("support-agent")
    assert support.published and support.model_slug == "scaigrid/gpt-4o"
    assert support.metadata["personas_as_code"]["repo"] == "acme/personas"
    assert support.metadata["personas_as_code"]["path"] == "personas/support-agent.yaml"
    assert support.metadata["team"] == "support"
    assert [s.source_id for s in support.sources] == ["col_product_docs", "col_help_centre"]
    coach = sync.persona("onboarding-coach")
    assert {s.source_id: s.status for s in coach.sources}["col_old_wiki"] == "disabled"
    assert coach.avatar_sha256
    assert not sync.persona("release-notes-writer").published


def test_field_update_shows_before_and_after(sync: Sync) -> None:
    converge(sync)
    sync.edit("personas/sql-helper.yaml", "temperature: 0.0", "temperature: 0.4")
    sync.edit("personas/sql-helper.yaml", "Prefer CTEs", "Always prefer CTEs")
    plan = sync.plan()
    (p,) = plan.changed
    assert p.slug == "sql-helper" and p.action == "update"
    (update,) = p.changes
    fields = {d.field: (d.before, d.after) for d in update.diffs}
    assert fields["default_params"][0]["temperature"] == 0.0
    assert fields["default_params"][1]["temperature"] == 0.4
    assert "Always prefer CTEs" in fields["system_prompt"][1]
    converge(sync)
    assert sync.persona("sql-helper").default_params["temperature"] == 0.4


def test_source_add_update_remove_and_identity_change(sync: Sync) -> None:
    converge(sync)
    path = "personas/support-agent.yaml"
    sync.edit(path, "weight: 1.5", "weight: 2.5")
    sync.edit(
        path, "search_config: {search_type: semantic}", "search_config: {search_type: hybrid}"
    )
    sync.edit(path, "id: col_help_centre", "id: col_help_centre_v2")  # identity change
    sync.edit(
        path,
        "default_params:",
        "  - type: scaidrive\n    id: shr_faq\n    name: FAQ share\n    status: disabled\n"
        "default_params:",
    )
    plan = sync.plan()
    changes = next(p for p in plan.changed if p.slug == "support-agent").changes
    described = sorted((c.kind, c.source.source_id) for c in changes if hasattr(c, "source"))
    assert described == [
        ("add_source", "col_help_centre_v2"),
        ("add_source", "shr_faq"),
        ("remove_source", "col_help_centre"),
        ("update_source", "col_product_docs"),
    ]
    converge(sync)
    sources = {s.source_id: s for s in sync.persona("support-agent").sources}
    assert set(sources) == {"col_product_docs", "col_help_centre_v2", "shr_faq"}
    assert sources["col_product_docs"].weight == 2.5
    assert sources["shr_faq"].status == "disabled"


def test_source_name_change_is_remove_and_add(sync: Sync) -> None:
    converge(sync)
    sync.edit("personas/support-agent.yaml", "name: Product docs", "name: Product manuals")
    assert kinds(sync.plan(), "support-agent") == ["remove_source", "add_source"]
    converge(sync)


def test_avatar_change_uploads_once(sync: Sync) -> None:
    converge(sync)
    svg = sync.root / "personas/avatars/onboarding-coach.svg"
    svg.write_text(svg.read_text().replace("#16a34a", "#dc2626"))
    assert kinds(sync.plan(), "onboarding-coach") == ["update", "avatar"] or kinds(
        sync.plan(), "onboarding-coach"
    ) == ["avatar"]
    converge(sync)
    data, mime = sync.catalogue.get_avatar(sync.persona("onboarding-coach").id)
    assert b"#dc2626" in data and mime.startswith("image/svg+xml")


def test_publish_unpublish_and_republish_on_group_change(sync: Sync) -> None:
    converge(sync)
    sync.edit(
        "personas/release-notes-writer.yaml", "enabled: false", "enabled: true\n  groups: [mg_qa]"
    )
    sync.edit("personas/sql-helper.yaml", "enabled: true", "enabled: false")
    sync.edit(
        "personas/translator.yaml", "[mg_internal_chat, mg_qa]", "[mg_internal_chat, mg_support]"
    )
    plan = sync.plan()
    assert kinds(plan, "release-notes-writer") == ["publish"]
    assert kinds(plan, "sql-helper") == ["unpublish"]
    (republish,) = [c for p in plan.changed if p.slug == "translator" for c in p.changes]
    assert republish.kind == "republish" and "model groups changed" in republish.reason
    assert republish.groups_before == ("mg_internal_chat", "mg_qa")
    assert republish.groups_after == ("mg_internal_chat", "mg_support")
    converge(sync)
    groups = {g.id: g.model_slugs for g in sync.catalogue.list_model_groups()}
    assert "tenant/acme/translator" in groups["mg_support"]
    assert "tenant/acme/translator" not in groups["mg_qa"]
    assert "tenant/acme/sql-helper" not in groups["mg_internal_chat"]
    assert sync.persona("release-notes-writer").published


def test_model_change_on_published_persona_republishes(sync: Sync) -> None:
    converge(sync)
    sync.edit("personas/translator.yaml", "scaigrid/llama-3.1-8b", "scaigrid/mistral-large")
    plan = sync.plan()
    assert kinds(plan, "translator") == ["update", "republish"]
    converge(sync)
    models = {m.slug: m for m in sync.catalogue.list_models()}
    assert models["tenant/acme/translator"].context_window == 32000


def test_rename_with_previous_slugs_is_not_delete_and_create(sync: Sync) -> None:
    converge(sync)
    original_id = sync.persona("sql-helper").id
    (sync.root / "personas/sql-helper.yaml").rename(sync.root / "personas/query-helper.yaml")
    sync.edit(
        "personas/query-helper.yaml",
        "name: SQL Helper",
        "name: SQL Helper\nprevious_slugs: [sql-helper]",
    )
    plan = sync.plan(prune=True)
    (p,) = plan.changed
    assert (p.action, p.previous_slug, p.slug) == ("rename", "sql-helper", "query-helper")
    assert [c.kind for c in p.changes] == ["update", "ownership", "republish"]
    converge(sync)
    renamed = sync.persona("query-helper")
    assert renamed.id == original_id
    assert renamed.metadata["personas_as_code"]["path"] == "personas/query-helper.yaml"
    assert "tenant/acme/query-helper" in {m.slug for m in sync.catalogue.list_models()}
    assert "tenant/acme/sql-helper" not in {m.slug for m in sync.catalogue.list_models()}


def test_removed_file_is_kept_until_prune_then_deleted(sync: Sync) -> None:
    converge(sync)
    (sync.root / "personas/translator.yaml").unlink()
    plan = sync.plan()
    assert not plan.has_changes
    assert [o.slug for o in plan.orphans] == ["translator"]
    pruned = sync.plan(prune=True)
    assert kinds(pruned, "translator") == ["delete"]
    _plan, result = sync.apply(prune=True)
    assert result.ok
    assert "translator" not in {p.slug for p in sync.catalogue.iter_personas()}
    assert "tenant/acme/translator" not in {m.slug for m in sync.catalogue.list_models()}
    assert not sync.plan(prune=True).has_changes


def test_drift_in_the_catalogue_is_planned_and_restored(sync: Sync) -> None:
    converge(sync)
    support = sync.persona("support-agent")
    sync.catalogue.update_persona(
        support.id, PersonaUpdate(system_prompt="Hacked prompt", rag_top_k=9)
    )
    docs = next(s for s in support.sources if s.source_id == "col_product_docs")
    sync.catalogue.update_source(support.id, docs.id, SourceUpdate(status="disabled"))
    plan = sync.plan()
    (p,) = plan.changed
    assert [c.kind for c in p.changes] == ["update", "update_source"]
    assert {d.field for d in p.changes[0].diffs} == {"system_prompt", "rag_top_k"}
    converge(sync)
    assert sync.persona("support-agent").rag_top_k == 5


def test_unclearable_fields(sync: Sync) -> None:
    converge(sync)
    path = "personas/support-agent.yaml"
    sync.edit(path, '  context_template: "Answer from this context:\\n$context"\n', "")
    sync.edit(path, "  min_score: 0.35\n", "")
    plan = sync.plan()
    (p,) = plan.changed
    (update,) = p.changes
    assert [(d.field, d.after) for d in update.diffs] == [("rag_min_score", None)]
    assert any("context_template was removed" in w for w in p.warnings)
    converge(sync)  # min_score is sent as 0.0 (filters nothing); the template warning is no change
    assert sync.persona("support-agent").rag_min_score == 0.0
    support = next(p for p in sync.plan().personas if p.slug == "support-agent")
    assert not support.changes and support.warnings

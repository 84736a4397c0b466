"""Safety thresholds, protection, ownership, checksums and per-persona failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from personas_as_code.catalogue.api import PersonaCreate, PersonaUpdate
from personas_as_code.schemas.config import SafetySection
from personas_as_code.schemas.errors import LockHeld, StalePlan, UnsafePlan
from personas_as_code.sync.engine import apply_repo, compute_plan
from personas_as_code.sync.marker import MARKER_KEY

from tests.sync.conftest import Sync


def generate(root: Path, count: int) -> None:
    for i in range(count):
        (root / "personas" / f"bulk-{i:03d}.yaml").write_text(
            f"name: Bulk {i}\nmodel: scaigrid/gpt-4o-mini\nstatus: active\n"
            f"system_prompt: You are bulk persona {i}.\n"
        )


def bump_all(root: Path, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        path = root / "personas" / f"bulk-{i:03d}.yaml"
        path.write_text(path.read_text().replace("You are", "You really are"))


def test_update_threshold_refuses_without_force(esync: Sync) -> None:
    generate(esync.root, 13)
    esync.apply()
    bump_all(esync.root, 6)  # 6 of 20 managed = 30%: allowed
    esync.plan().raise_if_unsafe(esync.load().config.safety)
    bump_all(esync.root, 1, start=6)  # 7 of 20 = 35%
    plan = esync.plan()
    with pytest.raises(UnsafePlan, match="7 of 20 managed personas would be updated"):
        plan.raise_if_unsafe(esync.load().config.safety)
    _plan, result = esync.apply(force=True)
    assert result.ok and len(result.results) == 7


def test_thresholds_do_not_apply_below_the_minimum(esync: Sync) -> None:
    esync.apply()
    for path in (esync.root / "personas").glob("*.yaml"):
        path.write_text(path.read_text().replace("name: ", "name: New ", 1))
    plan = esync.plan()
    assert len(plan.changed) == 7
    plan.raise_if_unsafe(esync.load().config.safety)  # 7 < min_existing 10


def test_delete_every_managed_persona_needs_force(esync: Sync) -> None:
    esync.edit("personas/legal-reviewer.yaml", "protect: true", "protect: false")
    esync.apply()
    for path in (esync.root / "personas").glob("*.yaml"):
        path.unlink()
    plan = esync.plan(prune=True)
    assert plan.summary()["delete"] == 7
    with pytest.raises(UnsafePlan) as info:
        plan.raise_if_unsafe(SafetySection(min_existing=100, max_deletes=100))
    assert "every managed persona (7) would be deleted" in str(info.value)
    plan.raise_if_unsafe(SafetySection(min_existing=100, max_deletes=100), force=True)


def test_unpublish_every_published_persona_needs_force(esync: Sync) -> None:
    esync.apply()
    for path in (esync.root / "personas").glob("*.yaml"):
        path.write_text(
            path.read_text().replace("  enabled: true\n  groups", "  enabled: false\n  groups")
        )
    plan = esync.plan()
    assert plan.summary()["unpublish"] == 5
    with pytest.raises(UnsafePlan, match="every published managed persona"):
        plan.raise_if_unsafe(SafetySection())


def test_absolute_delete_cap(esync: Sync) -> None:
    generate(esync.root, 5)
    esync.apply()
    for i in range(3):
        (esync.root / "personas" / f"bulk-{i:03d}.yaml").unlink()
    plan = esync.plan(prune=True)
    with pytest.raises(UnsafePlan, match="3 deletions exceed the cap of 2"):
        plan.raise_if_unsafe(SafetySection(max_deletes=2, min_existing=100))


def test_protection_lives_in_the_catalogue(esync: Sync) -> None:
    esync.apply()
    assert esync.persona("legal-reviewer").metadata[MARKER_KEY]["protect"] is True
    (esync.root / "personas/legal-reviewer.yaml").unlink()
    plan = esync.plan(prune=True)
    assert not plan.has_changes
    assert plan.orphans[0].protected
    assert any("protected" in w for w in plan.warnings)


def test_unmanaged_personas_are_listed_and_untouched(esync: Sync) -> None:
    hand_made = esync.catalogue.create_persona(
        PersonaCreate(name="Hand made", slug="hand-made", model_slug="scaigrid/gpt-4o")
    )
    esync.apply()
    plan = esync.plan(prune=True)
    assert plan.unmanaged == ["hand-made"]
    assert not plan.has_changes
    assert esync.catalogue.get_persona(hand_made.id).updated_at == hand_made.updated_at


def test_same_slug_unmanaged_or_owned_by_another_repo_is_an_error(esync: Sync) -> None:
    esync.catalogue.create_persona(
        PersonaCreate(name="Mine", slug="sql-helper", model_slug="scaigrid/gpt-4o")
    )
    other = esync.catalogue.create_persona(
        PersonaCreate(
            name="Theirs",
            slug="translator",
            model_slug="scaigrid/gpt-4o",
            metadata={MARKER_KEY: {"repo": "other/repo", "path": "personas/translator.yaml"}},
        )
    )
    plan = esync.plan()
    errors = {p.slug: p.error for p in plan.errors}
    assert "run `personas import sql-helper` to adopt it" in errors["sql-helper"]
    assert "managed by repo 'other/repo'" in errors["translator"]
    _plan, result = esync.apply()
    assert {r.slug for r in result.results} == {
        "legacy-faq-bot",
        "legal-reviewer",
        "onboarding-coach",
        "release-notes-writer",
        "support-agent",
    }
    assert esync.catalogue.get_persona(other.id).name == "Theirs"


def test_unknown_model_and_group_name_the_file_and_line(esync: Sync) -> None:
    esync.edit("personas/sql-helper.yaml", "scaigrid/gpt-4o-mini", "scaigrid/gpt-9")
    esync.edit("personas/translator.yaml", "mg_qa]", "mg_nope]")
    errors = {p.slug: p.error for p in esync.plan().errors}
    assert errors["sql-helper"] == (
        "personas/sql-helper.yaml:3: model 'scaigrid/gpt-9' does not exist in the catalogue"
    )
    assert errors["translator"].startswith("personas/translator.yaml:11: model group(s) mg_nope")


def test_stale_checksum_is_refused(esync: Sync) -> None:
    reviewed = esync.plan()
    reviewed.verify_checksum(esync.plan().checksum)
    esync.edit("personas/sql-helper.yaml", "temperature: 0.0", "temperature: 0.1")
    with pytest.raises(StalePlan, match="changed since it was reviewed"):
        esync.plan().verify_checksum(reviewed.checksum)


def test_one_failing_persona_does_not_stop_the_others(esync: Sync) -> None:
    esync.apply()
    for slug in ("sql-helper", "translator"):
        esync.edit(f"personas/{slug}.yaml", "temperature: 0.", "temperature: 1.")
    repo = esync.load()
    plan, ctx = compute_plan(repo, esync.catalogue)
    # someone deletes a persona between plan and apply
    esync.catalogue.delete_persona(esync.persona("sql-helper").id)
    result = apply_repo(repo, esync.catalogue, plan, ctx)
    by_slug = {r.slug: r for r in result.results}
    assert by_slug["sql-helper"].error_code == "PERSONA_NOT_FOUND"
    assert by_slug["translator"].ok
    assert not result.ok
    _plan, again = esync.apply()  # converges: recreated
    assert again.ok and not esync.plan().has_changes


def test_a_second_apply_cannot_interleave(esync: Sync) -> None:
    with esync.catalogue.lock("personas-apply"), pytest.raises(LockHeld):
        esync.apply()


def test_user_metadata_is_merged_never_lost(esync: Sync) -> None:
    esync.apply()
    support = esync.persona("support-agent")
    esync.edit("personas/support-agent.yaml", "team: support,", "team: customer-support,")
    esync.apply()
    metadata = esync.persona("support-agent").metadata
    assert metadata["team"] == "customer-support"
    assert metadata["owner"] == "support-leads@acme.example"
    assert metadata[MARKER_KEY]["repo"] == "acme/personas"
    assert support.metadata[MARKER_KEY]["spec_hash"] != metadata[MARKER_KEY]["spec_hash"]
    # a key added in the catalogue by hand is drift: plan shows it, apply removes it
    esync.catalogue.update_persona(support.id, PersonaUpdate(metadata={**metadata, "x": 1}))
    (p,) = esync.plan().changed
    assert p.changes[0].diffs[0].field == "metadata"


def test_groups_outside_the_key_scope_are_skipped_once_not_forever(esync: Sync) -> None:
    esync.edit(
        "personas/sql-helper.yaml",
        "groups: [mg_internal_chat]",
        "groups: [mg_internal_chat, mg_partner_shared]",
    )
    _plan, result = esync.apply()
    assert result.ok
    groups = {g.id: g.model_slugs for g in esync.catalogue.list_model_groups()}
    assert "tenant/acme/sql-helper" in groups["mg_internal_chat"]
    assert "tenant/acme/sql-helper" not in groups["mg_partner_shared"]  # tenant admin: skipped
    marker = esync.persona("sql-helper").metadata[MARKER_KEY]
    assert marker["skipped_groups"] == ["mg_partner_shared"]
    plan = esync.plan()
    assert not plan.has_changes
    (sql,) = [p for p in plan.personas if p.slug == "sql-helper"]
    assert "skipped group(s) mg_partner_shared" in sql.warnings[0]
    # a later edit keeps the record, so the skipped group does not become a perpetual diff
    esync.edit("personas/sql-helper.yaml", "temperature: 0.0", "temperature: 0.2")
    _plan, result = esync.apply()
    assert result.ok
    assert esync.persona("sql-helper").metadata[MARKER_KEY]["skipped_groups"] == [
        "mg_partner_shared"
    ]
    assert not esync.plan().has_changes

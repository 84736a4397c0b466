"""Issue 20, in the engine: what a reviewer sees before the merge — the plan's safety
refusals, targeted plans, adoption shown in the plan, and renames without
``previous_slugs`` — on a real SQLite catalogue (the same through the console entry
point: ``tests/cli/test_plan_before_merge.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from personas_as_code.catalogue.api import PersonaUpdate
from personas_as_code.schemas.errors import NotFound
from personas_as_code.sync.marker import Marker, with_marker
from personas_as_code.sync.render import render_json, render_markdown, render_text

from tests.sync.conftest import Sync
from tests.sync.test_safety import generate


def test_plan_carries_the_refusal_apply_would_give(esync: Sync) -> None:
    generate(esync.root, 6)  # 13 managed personas
    esync.apply()
    for i in range(5):
        (esync.root / "personas" / f"bulk-{i:03d}.yaml").unlink()
    plan = esync.plan(prune=True)
    reason = "5 of 13 managed personas would be deleted (limit 30%)"
    assert plan.refusals == (reason,)
    assert plan.override_command == "personas apply --prune --force"
    assert (
        f"warning: apply would refuse this plan ([safety] in personas.toml): {reason}. If it "
        "is intended, pass --force: personas apply --prune --force"
    ) in render_text(plan)
    md = render_markdown(plan)
    assert "`personas apply` would refuse this plan" in md
    assert md.index("would refuse") < md.index("| create |")
    assert "<code>personas apply --prune --force</code>" in md
    assert json.loads(render_json(plan))["safety"]["reasons"] == [reason]
    assert "safety" not in json.loads(render_json(esync.plan()))  # no prune: nothing refused


def test_prune_to_zero_is_shown_in_the_plan(esync: Sync) -> None:
    esync.edit("personas/legal-reviewer.yaml", "protect: true", "protect: false")
    esync.apply()
    for path in (esync.root / "personas").glob("*.yaml"):
        path.unlink()
    plan = esync.plan(prune=True)
    assert "every managed persona (7) would be deleted" in plan.refusals
    from personas_as_code.sync.render import render_text

    assert "pass --force: personas apply --prune --force" in render_text(plan)


def test_targeted_plan_indexes_only_the_sources_its_personas_use(esync: Sync) -> None:
    esync.apply()
    for path in (esync.root / "knowledge").rglob("*.md"):
        path.write_text(path.read_text() + "\nOne more line.\n")
    full = {k.source_id for k in esync.plan().knowledge}
    assert len(full) >= 2
    support = esync.load().personas["support-agent"]
    used = {s.id for s in support.spec.sources}
    assert {k.source_id for k in esync.plan(targets=("support-agent",)).knowledge} == full & used
    assert esync.plan(targets=("translator",)).knowledge == []  # it names no source


def _git_mv(root: Path, old: str, new: str, *, edit: tuple[str, str] | None = None) -> None:
    source = root / "personas" / f"{old}.yaml"
    text = source.read_text().replace(f"slug: {old}", f"slug: {new}")
    text = "\n".join(line for line in text.splitlines() if "previous_slugs" not in line) + "\n"
    if edit:
        text = text.replace(*edit)
    (root / "personas" / f"{new}.yaml").write_text(text)
    source.unlink()


@pytest.mark.parametrize(
    ("edit", "how"),
    [
        (None, "same content apart from the slug"),
        (("Output only the translation.", "Output the translation only."), "very similar"),
    ],
)
def test_a_rename_without_previous_slugs_is_named_in_the_plan(
    esync: Sync, edit: tuple[str, str] | None, how: str
) -> None:
    esync.apply()
    _git_mv(esync.root, "translator", "interpreter", edit=edit)
    plan = esync.plan()
    (create,) = [p for p in plan.personas if p.slug == "interpreter"]
    assert create.action == "create" and create.rename_of == "translator"
    assert any(how in w and "`previous_slugs: [translator]`" in w for w in create.warnings)
    from personas_as_code.sync.render import render_json, render_markdown, render_text

    text = render_text(plan)
    assert "previous_slugs: [translator]` to personas/interpreter.yaml" in text
    assert "\\`previous\\_slugs\\: \\[translator\\]\\`" in render_markdown(plan)
    (entry,) = [p for p in json.loads(render_json(plan))["personas"] if p["slug"] == "interpreter"]
    assert entry["looks_like_rename_of"] == "translator"

    # with the line the plan names, it is a rename
    path = esync.root / "personas" / "interpreter.yaml"
    path.write_text(
        path.read_text().replace(
            "slug: interpreter", "slug: interpreter\nprevious_slugs: [translator]"
        )
    )
    (renamed,) = [p for p in esync.plan().personas if p.slug == "interpreter"]
    assert renamed.action == "rename" and renamed.previous_slug == "translator"


def test_an_unrelated_new_persona_gets_no_rename_hint(esync: Sync) -> None:
    esync.apply()
    (esync.root / "personas" / "translator.yaml").unlink()
    (esync.root / "personas" / "poet.yaml").write_text(
        "name: Poet\nmodel: scaigrid/gpt-4o\nstatus: active\n"
        "system_prompt: Write a short poem about the user's topic.\n"
    )
    (create,) = [p for p in esync.plan().personas if p.slug == "poet"]
    assert create.rename_of is None and create.warnings == []


def _edit(root: Path, slug: str) -> None:
    path = root / "personas" / f"{slug}.yaml"
    path.write_text(path.read_text().replace("status: active", "status: draft", 1))


def test_targeted_plan_is_partial_and_has_its_own_checksum(esync: Sync) -> None:
    esync.apply()
    _edit(esync.root, "translator")
    partial, full = esync.plan(targets=("translator",)), esync.plan()
    assert [p.slug for p in partial.changed] == [p.slug for p in full.changed] == ["translator"]
    assert partial.checksum != full.checksum
    assert render_text(partial).startswith("Partial plan: only translator (and the knowledge")
    assert "Partial plan" not in render_text(full)
    assert "**Partial plan:** only <code>translator</code>" in render_markdown(partial)
    assert json.loads(render_json(partial))["targets"] == ["translator"]
    assert "targets" not in json.loads(render_json(full))


def test_targeted_plan_never_prunes_what_it_was_not_given(esync: Sync) -> None:
    esync.apply()
    (esync.root / "personas" / "translator.yaml").unlink()
    _edit(esync.root, "sql-helper")
    plan = esync.plan(targets=("sql-helper",), prune=True)
    assert [(p.slug, p.action) for p in plan.changed] == [("sql-helper", "update")]
    assert plan.orphans == []
    named = esync.plan(targets=("translator",), prune=True)
    assert [(p.slug, p.action) for p in named.changed] == [("translator", "delete")]
    kept = esync.plan(targets=("translator",))  # [safety] prune is never implied
    assert kept.changed == [] and [o.slug for o in kept.orphans] == ["translator"]


def test_unknown_target_is_not_found_naming_it(esync: Sync) -> None:
    with pytest.raises(NotFound, match="'no-such'") as info:
        esync.plan(targets=("translator", "no-such"))
    assert "'translator'" not in info.value.message


def test_adopt_is_an_explicit_change_in_the_plan(esync: Sync) -> None:
    esync.apply()
    persona = esync.persona("translator")
    other = Marker(repo="newrepo", path="personas/translator.yaml")
    esync.catalogue.update_persona(
        persona.id, PersonaUpdate(metadata=with_marker(persona.metadata, other))
    )
    (refused,) = [p for p in esync.plan().personas if p.slug == "translator"]
    assert "managed by repo 'newrepo'" in refused.error
    assert "--adopt translator" in refused.error
    plan = esync.plan(adopt=("translator",))
    (adopting,) = [p for p in plan.personas if p.slug == "translator"]
    assert adopting.error is None and [c.kind for c in adopting.changes] == ["adopt"]
    assert "adopt: takes over from repo 'newrepo'" in render_text(plan)
    assert "adopt\\: takes over from repo 'newrepo'" in render_markdown(plan)
    entry = next(p for p in json.loads(render_json(plan))["personas"] if p["slug"] == "translator")
    assert entry["changes"][0]["from_repo"] == "newrepo"
    esync.apply(adopt=("translator",))
    assert not esync.plan().has_changes


def _pair(i: int, words: int, *, tweak: bool) -> tuple[SimpleNamespace, SimpleNamespace]:
    prompt = " ".join(f"w{i}-{j}" for j in range(words))
    new_prompt = prompt.replace(f"w{i}-3 ", "changed ") if tweak else prompt
    create = SimpleNamespace(
        slug=f"new-{i}",
        path=f"personas/new-{i}.yaml",
        desired=SimpleNamespace(fields={"name": f"P{i}", "system_prompt": new_prompt}),
    )
    gone = SimpleNamespace(id=f"per_{i}", slug=f"old-{i}", fields=dict(create.desired.fields))
    gone.fields["system_prompt"] = prompt
    return create, gone


def test_rename_hints_pair_each_orphan_once_and_stay_bounded() -> None:
    from personas_as_code.sync.renames import MAX_PAIRS, find_renames

    pairs = [_pair(i, 400, tweak=True) for i in range(60)]  # 3,600 comparisons: similar ones
    hints = find_renames([c for c, _ in pairs], [g for _, g in pairs])  # type: ignore[arg-type]
    assert [(h.old_slug, h.new_slug, h.identical) for h in hints] == [
        (f"old-{i}", f"new-{i}", False) for i in range(60)
    ]
    many = int(MAX_PAIRS**0.5) + 1  # past the cap: only identical content is recognised
    pairs = [_pair(i, 50, tweak=i % 2 == 1) for i in range(many)]
    hints = find_renames([c for c, _ in pairs], [g for _, g in pairs])  # type: ignore[arg-type]
    assert {h.new_slug for h in hints} == {f"new-{i}" for i in range(0, many, 2)}


def test_import_adopt_takes_over_with_or_without_a_file(esync: Sync, tmp_path: Path) -> None:
    from personas_as_code.loader.repo import load_repo
    from personas_as_code.sync.importer import import_personas

    esync.apply()
    fresh = tmp_path / "fresh"
    (fresh / "personas").mkdir(parents=True)
    (fresh / "personas.toml").write_text('[repo]\nid = "newrepo"\ntenant = "acme"\n')
    kept = (esync.root / "personas" / "sql-helper.yaml").read_text()
    (fresh / "personas" / "sql-helper.yaml").write_text(kept)

    skipped = import_personas(load_repo(fresh), esync.catalogue, ["translator", "sql-helper"])
    assert skipped.others == {"translator": "acme/personas", "sql-helper": "acme/personas"}
    assert "`personas import --adopt translator` takes it over" in skipped.skipped["translator"]
    assert not (fresh / "personas" / "translator.yaml").exists()

    both = frozenset({"translator", "sql-helper"})
    adopted = import_personas(load_repo(fresh), esync.catalogue, sorted(both), adopt=both)
    assert adopted.adopted == {"translator": "acme/personas", "sql-helper": "acme/personas"}
    assert adopted.written == ["personas/translator.yaml"]  # sql-helper's file is kept
    assert (fresh / "personas" / "sql-helper.yaml").read_text() == kept
    for slug in both:
        marker = esync.persona(slug).metadata["personas_as_code"]
        assert marker["repo"] == "newrepo" and marker["path"] == f"personas/{slug}.yaml"

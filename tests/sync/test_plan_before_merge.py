"""Issue 20: what a reviewer sees before the merge — the plan's safety refusals, targeted
plans and applies, adoption from another repo, and renames without ``previous_slugs`` —
through the real console entry point and the engine, on a real SQLite catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sync.conftest import Sync
from tests.sync.test_cli import personas
from tests.sync.test_safety import generate


def _db_env(repo: Path) -> dict[str, str]:
    return {"PERSONAS_DATABASE_URL": f"sqlite:///{repo / '.personas' / 'catalogue.db'}"}


# -- safety before the merge -------------------------------------------------------------


def test_plan_shows_the_refusal_apply_would_give_in_every_format(example_repo: Path) -> None:
    generate(example_repo, 6)  # 13 personas
    assert personas("apply", "--auto-approve", cwd=example_repo).returncode == 0
    for i in range(5):
        (example_repo / "personas" / f"bulk-{i:03d}.yaml").unlink()

    md = personas("plan", "--prune", "--format", "markdown", cwd=example_repo)
    assert md.returncode == 0, md.stderr  # a refusal warns; the plan's exit code is unchanged
    assert "`personas apply` would refuse this plan" in md.stdout
    assert "5 of 13 managed personas would be deleted \\(limit 30%\\)" in md.stdout
    assert "<code>personas apply --prune --force</code>" in md.stdout
    # shown before the changes: a reviewer reads it first
    assert md.stdout.index("would refuse") < md.stdout.index("| create |")

    text = personas("plan", "--prune", "--detailed-exitcode", cwd=example_repo)
    assert text.returncode == 2
    assert (
        "warning: apply would refuse this plan ([safety] in personas.toml): 5 of 13 managed "
        "personas would be deleted (limit 30%). If it is intended, pass --force: "
        "personas apply --prune --force"
    ) in text.stdout

    data = json.loads(personas("plan", "--prune", "--format", "json", cwd=example_repo).stdout)
    assert data["safety"] == {
        "apply_refuses": True,
        "reasons": ["5 of 13 managed personas would be deleted (limit 30%)"],
        "override_flag": "--force",
        "command": "personas apply --prune --force",
    }

    # what the plan said is what apply does
    refused = personas("apply", "--auto-approve", "--prune", cwd=example_repo)
    assert refused.returncode == 1 and "UNSAFE_PLAN" in refused.stderr
    assert "5 of 13 managed personas would be deleted" in refused.stderr
    # without --prune nothing is deleted: no refusal, no safety member
    safe = json.loads(personas("plan", "--format", "json", cwd=example_repo).stdout)
    assert "safety" not in safe
    forced = personas("apply", "--auto-approve", "--prune", "--force", cwd=example_repo)
    assert forced.returncode == 0, forced.stderr


def test_prune_to_zero_is_shown_in_the_plan(esync: Sync) -> None:
    esync.edit("personas/legal-reviewer.yaml", "protect: true", "protect: false")
    esync.apply()
    for path in (esync.root / "personas").glob("*.yaml"):
        path.unlink()
    plan = esync.plan(prune=True)
    assert "every managed persona (7) would be deleted" in plan.refusals
    from personas_as_code.sync.render import render_text

    assert "pass --force: personas apply --prune --force" in render_text(plan)


# -- targeted plan and apply -------------------------------------------------------------


def _edit_two(root: Path) -> None:
    for slug in ("translator", "sql-helper"):
        path = root / "personas" / f"{slug}.yaml"
        path.write_text(path.read_text().replace("status: active", "status: draft", 1))


def test_targeted_plan_is_partial_in_every_format(example_repo: Path) -> None:
    assert personas("apply", "--auto-approve", cwd=example_repo).returncode == 0
    _edit_two(example_repo)

    data = json.loads(personas("plan", "translator", "--format", "json", cwd=example_repo).stdout)
    assert data["targets"] == ["translator"]
    assert [p["slug"] for p in data["personas"]] == ["translator"]
    full = json.loads(personas("plan", "--format", "json", cwd=example_repo).stdout)
    assert "targets" not in full
    assert sorted(p["slug"] for p in full["personas"]) == ["sql-helper", "translator"]

    text = personas("plan", "translator", "--detailed-exitcode", cwd=example_repo)
    assert text.returncode == 2
    assert text.stdout.startswith("Partial plan: only translator ")
    assert "sql-helper" not in text.stdout
    md = personas("plan", "translator", "--format", "markdown", cwd=example_repo).stdout
    assert "**Partial plan:** only <code>translator</code> (and the" in md.replace("\\", "")


def test_partial_and_full_plan_checksums_differ(example_repo: Path) -> None:
    assert personas("apply", "--auto-approve", cwd=example_repo).returncode == 0
    path = example_repo / "personas" / "translator.yaml"
    path.write_text(path.read_text().replace("status: active", "status: draft", 1))
    partial = json.loads(personas("plan", "translator", "-f", "json", cwd=example_repo).stdout)
    full = json.loads(personas("plan", "-f", "json", cwd=example_repo).stdout)
    assert partial["personas"] == full["personas"]  # the same change …
    assert partial["checksum"] != full["checksum"]  # … reviewed as a partial plan
    stale = personas("apply", "--auto-approve", "--checksum", partial["checksum"], cwd=example_repo)
    assert stale.returncode == 1 and "STALE_PLAN" in stale.stderr
    ok = personas(
        "apply", "translator", "--auto-approve", "--checksum", partial["checksum"], cwd=example_repo
    )
    assert ok.returncode == 0, ok.stderr
    assert "Partial plan: only translator" in ok.stdout


def test_targeted_apply_changes_only_its_targets(example_repo: Path) -> None:
    assert personas("apply", "--auto-approve", cwd=example_repo).returncode == 0
    _edit_two(example_repo)
    applied = personas("apply", "translator", "--auto-approve", cwd=example_repo)
    assert applied.returncode == 0, applied.stderr
    after = json.loads(personas("plan", "-f", "json", cwd=example_repo).stdout)
    assert [p["slug"] for p in after["personas"]] == ["sql-helper"]


def test_targeted_apply_never_prunes_what_it_was_not_given(example_repo: Path) -> None:
    config = example_repo / "personas.toml"
    config.write_text(config.read_text().replace("prune = false", "prune = true"))
    assert personas("apply", "--auto-approve", cwd=example_repo).returncode == 0
    (example_repo / "personas" / "translator.yaml").unlink()
    _edit = example_repo / "personas" / "sql-helper.yaml"
    _edit.write_text(_edit.read_text().replace("status: active", "status: draft", 1))

    # [safety] prune = true is not implied, and --prune reaches only the targets
    for args in (("sql-helper",), ("sql-helper", "--prune")):
        plan = json.loads(personas("plan", *args, "-f", "json", cwd=example_repo).stdout)
        assert [p["action"] for p in plan["personas"]] == ["update"]
        assert plan["orphans"] == [] and plan["summary"]["delete"] == 0
    applied = personas("apply", "sql-helper", "--prune", "--auto-approve", cwd=example_repo)
    assert applied.returncode == 0, applied.stderr
    full = json.loads(personas("plan", "-f", "json", cwd=example_repo).stdout)
    assert [(p["slug"], p["action"]) for p in full["personas"]] == [("translator", "delete")]

    # a targeted orphan is kept without --prune, deleted with it
    kept = json.loads(personas("plan", "translator", "-f", "json", cwd=example_repo).stdout)
    assert kept["personas"] == [] and [o["slug"] for o in kept["orphans"]] == ["translator"]
    gone = personas("apply", "translator", "--prune", "--auto-approve", cwd=example_repo)
    assert gone.returncode == 0, gone.stderr
    assert personas("plan", "--detailed-exitcode", cwd=example_repo).returncode == 0


def test_unknown_target_is_an_error_naming_it(example_repo: Path) -> None:
    result = personas("plan", "translator", "no-such-persona", cwd=example_repo)
    assert result.returncode == 1
    assert "NOT_FOUND" in result.stderr and "'no-such-persona'" in result.stderr
    assert "'translator'" not in result.stderr
    applied = personas("apply", "no-such-persona", "--auto-approve", cwd=example_repo)
    assert applied.returncode == 1 and "'no-such-persona'" in applied.stderr


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


# -- adoption ------------------------------------------------------------------------------


def _adopting_repo(tmp_path: Path) -> Path:
    fresh = tmp_path / "fresh"
    (fresh / "personas").mkdir(parents=True)
    (fresh / "personas.toml").write_text('[repo]\nid = "newrepo"\ntenant = "acme"\n')
    return fresh


def test_import_adopt_takes_over_a_persona_of_another_repo(
    example_repo: Path, tmp_path: Path
) -> None:
    assert personas("apply", "--auto-approve", cwd=example_repo).returncode == 0
    fresh, env = _adopting_repo(tmp_path), _db_env(example_repo)

    skipped = personas("import", "translator", cwd=fresh, env=env)
    assert skipped.returncode == 1, skipped.stdout
    assert "managed by repo 'acme/personas'" in skipped.stdout
    assert "pass --adopt translator to take them over" in skipped.stderr
    assert not (fresh / "personas" / "translator.yaml").exists()

    adopted = personas("import", "--adopt", "translator", cwd=fresh, env=env)
    assert adopted.returncode == 0, adopted.stderr
    assert "adopt translator: takes over from repo 'acme/personas'" in adopted.stdout
    assert (fresh / "personas" / "translator.yaml").exists()
    assert personas("plan", "--detailed-exitcode", cwd=fresh, env=env).returncode == 0

    # the former owner now sees it as another repo's, with the way back
    back = personas("plan", "-f", "json", cwd=example_repo)
    (entry,) = [p for p in json.loads(back.stdout)["personas"] if p["slug"] == "translator"]
    assert "managed by repo 'newrepo'" in entry["error"]
    assert "--adopt translator" in entry["error"]


def test_plan_shows_the_takeover_before_apply_adopts(example_repo: Path, tmp_path: Path) -> None:
    assert personas("apply", "--auto-approve", cwd=example_repo).returncode == 0
    fresh, env = _adopting_repo(tmp_path), _db_env(example_repo)
    assert personas("import", "--adopt", "translator", cwd=fresh, env=env).returncode == 0

    data = json.loads(
        personas("plan", "--adopt", "translator", "-f", "json", cwd=example_repo).stdout
    )
    (entry,) = [p for p in data["personas"] if p["slug"] == "translator"]
    assert entry["error"] is None
    (adopt,) = [c for c in entry["changes"] if c["kind"] == "adopt"]
    assert adopt["from_repo"] == "newrepo"
    assert adopt["after"]["repo"] == "acme/personas"
    text = personas("plan", "--adopt", "translator", cwd=example_repo).stdout
    assert "adopt: takes over from repo 'newrepo'" in text
    md = personas("plan", "--adopt", "translator", "-f", "markdown", cwd=example_repo).stdout
    assert "adopt: takes over from repo \\'newrepo\\'" in md or "takes over from repo" in md

    done = personas("apply", "--adopt", "translator", "--auto-approve", cwd=example_repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert personas("plan", "--detailed-exitcode", cwd=example_repo).returncode == 0
    assert personas("plan", "--detailed-exitcode", cwd=fresh, env=env).returncode == 1


# -- renames -------------------------------------------------------------------------------


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

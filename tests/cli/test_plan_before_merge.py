"""Issue 20 through the real console entry point: the plan shows the refusal ``apply``
would give, ``plan|apply SLUG…`` are partial, and ``import|plan|apply --adopt SLUG``
take over a persona another repo manages (engine-level cases:
``tests/sync/test_plan_before_merge.py``)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.sync.test_cli import personas
from tests.sync.test_safety import generate


def _db_env(repo: Path) -> dict[str, str]:
    return {"PERSONAS_DATABASE_URL": f"sqlite:///{repo / '.personas' / 'catalogue.db'}"}


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
    assert "adopt\\: takes over from repo 'newrepo'" in md

    done = personas("apply", "--adopt", "translator", "--auto-approve", cwd=example_repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert personas("plan", "--detailed-exitcode", cwd=example_repo).returncode == 0
    assert personas("plan", "--detailed-exitcode", cwd=fresh, env=env).returncode == 1

"""``personas init`` makes a working persona repo, and never overwrites what it did not write."""

from __future__ import annotations

import subprocess
from pathlib import Path

from personas_as_code.scaffold.init import starter_files
from personas_as_code.scaffold.schema_files import packaged_schemas

from tests.gitops.conftest import require_tool
from tests.gitops.test_lint import describe, run_actionlint, run_zizmor
from tests.scaffold.conftest import modeline_target, personas, tree

EXPECTED = {
    "personas.toml",
    "personas/example-assistant.yaml",
    "personas/prompts/example-assistant.md",
    "schemas/persona.schema.json",
    "schemas/config.schema.json",
    "schemas/test-persona.schema.json",
    "schemas/persona-tests.schema.json",
    "schemas/collection.schema.json",
    ".github/workflows/personas-plan.yml",
    ".github/workflows/personas-apply.yml",
    ".github/workflows/personas-drift.yml",
    ".github/workflows/personas-promote.yml",
    ".pre-commit-config.yaml",
    ".gitignore",
}


def test_init_then_validate_plan_apply_plan(new_repo: Path) -> None:
    assert set(tree(new_repo)) == EXPECTED
    assert ".personas/" in (new_repo / ".gitignore").read_text().splitlines()
    assert 'id = "acme-personas"' in (new_repo / "personas.toml").read_text()

    valid = personas("validate", cwd=new_repo)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "1 persona(s) valid." in valid.stdout

    first = personas("plan", "--detailed-exitcode", cwd=new_repo)
    assert first.returncode == 2, first.stdout + first.stderr
    assert "Plan: 1 to create" in first.stdout

    applied = personas("apply", "--auto-approve", cwd=new_repo)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete: 1 persona(s) applied, 0 failed." in applied.stdout

    second = personas("plan", "--detailed-exitcode", cwd=new_repo)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "No changes." in second.stdout


def test_the_modelines_point_at_the_schemas_it_wrote(new_repo: Path) -> None:
    target = modeline_target(new_repo, "personas/example-assistant.yaml")
    assert target == (new_repo / "schemas" / "persona.schema.json").resolve()
    assert target.read_bytes() == packaged_schemas()["schemas/persona.schema.json"]
    config_first = (new_repo / "personas.toml").read_text().splitlines()[0]
    assert config_first == "#:schema ./schemas/config.schema.json"


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "personas").mkdir()
    (tmp_path / "personas.toml").write_text("# mine\n")
    (tmp_path / ".gitignore").write_text("node_modules/\n")
    before = tree(tmp_path)
    done = personas("init", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith(
        "error WRITE_REFUSED: 2 file(s) exist: .gitignore, personas.toml;"
    )
    assert "nothing written" in done.stderr and "Traceback" not in done.stderr
    assert tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gitignore", "personas", "personas.toml"]


def test_force_overwrites_only_the_files_init_writes(new_repo: Path) -> None:
    (new_repo / "personas.toml").write_text("# broken by hand\n")
    (new_repo / "schemas" / "persona.schema.json").unlink()
    mine = {
        "personas/mine.yaml": b"name: Mine\nmodel: scaigrid/gpt-4o\n",
        "README.md": b"# our personas\n",
        "schemas/other.json": b"{}\n",
        ".github/workflows/ci.yml": b"name: ours\n",
    }
    for rel, data in mine.items():
        (new_repo / rel).write_bytes(data)

    done = personas("init", "--force", cwd=new_repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "overwrote personas.toml" in done.stdout
    assert "created schemas/persona.schema.json" in done.stdout
    after = tree(new_repo)
    assert {rel: after[rel] for rel in mine} == mine
    assert set(after) == EXPECTED | set(mine)
    generated = starter_files("acme-personas")
    assert {rel: after[rel] for rel in EXPECTED} == generated


def test_a_symlinked_folder_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "personas").symlink_to(outside, target_is_directory=True)
    done = personas("init", str(repo), cwd=tmp_path)
    assert done.returncode == 1
    assert (
        "error WRITE_REFUSED:" in done.stderr and "personas is a file or a symlink" in done.stderr
    )
    assert list(outside.iterdir()) == []
    assert [p.name for p in repo.iterdir()] == ["personas"]


def test_a_bad_tenant_is_a_clear_error_and_no_folder(tmp_path: Path) -> None:
    done = personas("init", "new", "--tenant", "Not A Slug", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("error CONFIG_ERROR: cannot init with repo id 'new'")
    assert not (tmp_path / "new").exists()


def test_a_repo_id_with_quotes_stays_one_toml_string(tmp_path: Path) -> None:
    done = personas("init", "r", "--repo-id", 'acme/"x" # y', cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    valid = personas("validate", "--format", "json", cwd=tmp_path / "r")
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert 'id = "acme/\\"x\\" # y"' in (tmp_path / "r" / "personas.toml").read_text()


def test_the_workflows_it_writes_lint_clean(new_repo: Path) -> None:
    workflows = sorted((new_repo / ".github" / "workflows").glob("*.yml"))
    assert [p.name for p in workflows] == [
        "personas-apply.yml",
        "personas-drift.yml",
        "personas-plan.yml",
        "personas-promote.yml",
    ]
    assert (findings := run_actionlint(*workflows, cwd=new_repo)) == [], describe(findings)
    assert (findings := run_zizmor(*workflows, cwd=new_repo)) == [], describe(findings)
    # the adopter repo has no zizmor config of its own: the defaults pass too
    bare = subprocess.run(
        [require_tool("zizmor", "zizmor"), "--offline", "--no-progress", "--no-config", "."],
        cwd=new_repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bare.returncode == 0, bare.stdout + bare.stderr


def test_schema_write_restores_the_schemas(new_repo: Path) -> None:
    (new_repo / "schemas" / "persona.schema.json").unlink()
    (new_repo / "schemas" / "config.schema.json").write_text("{}")
    done = personas("schema", "--write", cwd=new_repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "wrote schemas/persona.schema.json" in done.stdout
    after = tree(new_repo)
    assert {rel: after[rel] for rel in packaged_schemas()} == packaged_schemas()


def test_schema_write_outside_a_repo_names_the_missing_config(tmp_path: Path) -> None:
    done = personas("schema", "--write", cwd=tmp_path)
    assert done.returncode == 1
    assert (
        done.stderr.startswith("error CONFIG_ERROR:") and "personas.toml not found" in done.stderr
    )
    assert list(tmp_path.iterdir()) == []


def test_schema_prints_one_schema(tmp_path: Path) -> None:
    done = personas("schema", "persona-tests", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.encode() == packaged_schemas()["schemas/persona-tests.schema.json"]
    unknown = personas("schema", "nope", cwd=tmp_path)
    assert unknown.returncode == 1 and "error NOT_FOUND: no schema 'nope'" in unknown.stderr

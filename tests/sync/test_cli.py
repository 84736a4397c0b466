"""``personas plan`` / ``apply`` / ``import`` through the real console entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def personas(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None):
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_DATABASE"))
    }
    full_env["PYTHONPATH"] = str(ROOT)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "personas_as_code.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        input=stdin,
        timeout=120,
    )


@pytest.fixture
def repo_dir(example_repo: Path) -> Path:
    return example_repo


def test_plan_apply_plan_on_the_embedded_catalogue(repo_dir: Path) -> None:
    first = personas("plan", "--detailed-exitcode", cwd=repo_dir)
    assert first.returncode == 2, first.stderr
    assert "Plan: 7 to create" in first.stdout
    assert (repo_dir / ".personas" / "catalogue.db").exists()

    refused = personas("apply", cwd=repo_dir, stdin="")
    assert refused.returncode == 1
    assert "pass --auto-approve" in refused.stderr

    applied = personas("apply", "--auto-approve", cwd=repo_dir)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete: 7 persona(s) applied, 0 failed." in applied.stdout

    second = personas("plan", "--detailed-exitcode", cwd=repo_dir)
    assert second.returncode == 0
    assert "No changes." in second.stdout


def test_edit_one_file_plans_exactly_that_change(repo_dir: Path) -> None:
    personas("apply", "--auto-approve", cwd=repo_dir)
    path = repo_dir / "personas" / "translator.yaml"
    path.write_text(path.read_text().replace("temperature: 0.2", "temperature: 0.25"))
    plan = personas("plan", "--format", "json", "--detailed-exitcode", cwd=repo_dir)
    assert plan.returncode == 2
    data = json.loads(plan.stdout)
    assert [p["slug"] for p in data["personas"]] == ["translator"]
    (change,) = data["personas"][0]["changes"]
    assert change["fields"][0]["field"] == "default_params"

    stale = personas("apply", "--auto-approve", "--checksum", "0" * 64, cwd=repo_dir)
    assert stale.returncode == 1 and "STALE_PLAN" in stale.stderr
    ok = personas("apply", "--auto-approve", "--checksum", data["checksum"], cwd=repo_dir)
    assert ok.returncode == 0, ok.stderr
    assert personas("plan", "--detailed-exitcode", cwd=repo_dir).returncode == 0


def test_markdown_plan_written_to_a_file(repo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.md"
    result = personas("plan", "--format", "markdown", "--out", str(out), cwd=repo_dir)
    assert result.returncode == 0
    assert out.read_text() == result.stdout
    assert result.stdout.startswith("<!-- personas-plan -->")


def test_invalid_repo_fails_plan_with_problems(repo_dir: Path) -> None:
    path = repo_dir / "personas" / "translator.yaml"
    path.write_text(path.read_text().replace("status: active", "status: live"))
    result = personas("plan", "--detailed-exitcode", cwd=repo_dir)
    assert result.returncode == 1
    assert "REPO_INVALID" in result.stderr
    assert "personas/translator.yaml:7:9: status:" in result.stderr


def test_unknown_model_fails_plan_naming_the_file(repo_dir: Path) -> None:
    path = repo_dir / "personas" / "translator.yaml"
    path.write_text(path.read_text().replace("scaigrid/llama-3.1-8b", "scaigrid/nope"))
    result = personas("plan", "--detailed-exitcode", cwd=repo_dir)
    assert result.returncode == 1
    assert "personas/translator.yaml:5: model 'scaigrid/nope' does not exist" in result.stdout


def test_unsafe_apply_is_refused_without_force(repo_dir: Path) -> None:
    personas("apply", "--auto-approve", cwd=repo_dir)
    for path in (repo_dir / "personas").glob("*.yaml"):
        path.write_text(
            path.read_text().replace("  enabled: true\n  groups", "  enabled: false\n  groups")
        )
    refused = personas("apply", "--auto-approve", cwd=repo_dir)
    assert refused.returncode == 1 and "UNSAFE_PLAN" in refused.stderr
    forced = personas("apply", "--auto-approve", "--force", cwd=repo_dir)
    assert forced.returncode == 0, forced.stderr


def test_import_adopts_existing_catalogue_personas(repo_dir: Path, tmp_path: Path) -> None:
    personas("apply", "--auto-approve", cwd=repo_dir)
    fresh = tmp_path / "fresh"
    (fresh / "personas").mkdir(parents=True)
    (fresh / "personas.toml").write_text('[repo]\nid = "acme/adopted"\ntenant = "acme"\n')
    env = {"PERSONAS_DATABASE_URL": f"sqlite:///{repo_dir / '.personas' / 'catalogue.db'}"}
    # the personas belong to acme/personas: import skips them
    skipped = personas("import", "--all", cwd=fresh, env=env)
    assert skipped.returncode == 0 and "managed by repo 'acme/personas'" in skipped.stdout
    # a hand-made persona is imported and adopted
    from personas_as_code.catalogue.api import PersonaCreate, SourceCreate
    from personas_as_code.catalogue.embedded import EmbeddedCatalogue

    with EmbeddedCatalogue.open(env["PERSONAS_DATABASE_URL"], "acme") as cat:
        made = cat.create_persona(
            PersonaCreate(
                name="Hand made",
                slug="hand-made",
                model_slug="scaigrid/gpt-4o",
                system_prompt="Line one.\nLine two.\n",
                rag_enabled=True,
                rag_context_template="Context:\n$context",
                metadata={"description": "Made by hand", "team": "ops"},
            )
        )
        cat.add_source(made.id, SourceCreate(source_type="collection", source_id="col_x", weight=2))
        cat.upload_avatar(
            made.id, (ROOT / "personas/avatars/support-agent.png").read_bytes(), "image/png"
        )
        cat.publish_persona(made.id, ["mg_qa"])
    imported = personas("import", "hand-made", cwd=fresh, env=env)
    assert imported.returncode == 0, imported.stderr
    text = (fresh / "personas" / "hand-made.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=../schemas/persona.schema.json")
    assert "system_prompt: |\n  Line one.\n  Line two.\n" in text
    assert (fresh / "personas" / "avatars" / "hand-made.png").exists()
    assert personas("validate", cwd=fresh).returncode == 0
    plan = personas("plan", "--detailed-exitcode", cwd=fresh, env=env)
    assert plan.returncode == 0, plan.stdout


def _run_on_terminal(cwd: Path, answer: bytes) -> tuple[int, str]:
    """``personas apply`` with a pseudo-terminal for stdin/stdout; answer its question."""
    import pty
    import select

    controller, terminal = pty.openpty()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_DATABASE"))
    }
    env.update(PYTHONPATH=str(ROOT), COLUMNS="200")
    proc = subprocess.Popen(
        [sys.executable, "-m", "personas_as_code.cli.main", "apply"],
        cwd=cwd,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    output, answered = b"", False
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if not answered and b"Apply these changes?" in output:
            os.write(controller, answer)
            answered = True
    os.close(controller)
    return proc.wait(timeout=60), output.decode(errors="replace")


def test_apply_on_a_terminal_asks_first(repo_dir: Path) -> None:
    code, output = _run_on_terminal(repo_dir, b"n\n")
    assert code == 1 and "Apply cancelled." in output
    assert personas("plan", "--detailed-exitcode", cwd=repo_dir).returncode == 2
    code, output = _run_on_terminal(repo_dir, b"y\n")
    assert code == 0, output
    assert "Apply complete: 7 persona(s) applied, 0 failed." in output
    assert personas("plan", "--detailed-exitcode", cwd=repo_dir).returncode == 0

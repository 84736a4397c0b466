"""Promotion and rollback across two environments, with real git, the real CLI as
processes, a SQLite staging catalogue and a PostgreSQL production catalogue.

v1 is applied to staging (what a merge does), production's plan is reviewed and applied
with its checksum; v2 goes the same way, and a stale checksum (v1's) is refused on the
way; then production is rolled back by checking out v1, showing its plan, and applying
exactly that plan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import git
from personas_as_code.catalogue.embedded import EmbeddedCatalogue

V1 = "Answer in English."
V2 = "Answer in English, in two sentences at most."

PERSONA = """name: Helper
model: scaigrid/gpt-4o
status: active
system_prompt: {prompt}
publish: {{enabled: true, groups: [mg_support]}}
"""


def cli() -> list[str]:
    script = Path(sys.executable).parent / "personas"
    return [str(script)] if script.exists() else [sys.executable, "-m", "personas_as_code.cli.main"]


def personas(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_"))}
    return subprocess.run(
        [*cli(), *args], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


def prompts(database_url: str) -> dict[str, tuple[str | None, bool]]:
    """Each persona's system prompt and whether it is published, as the catalogue has it."""
    catalogue = EmbeddedCatalogue.open(database_url, "acme")
    try:
        return {
            p.slug: (p.system_prompt, p.published_model_id is not None)
            for p in catalogue.iter_personas()
        }
    finally:
        catalogue.close()


def reviewed_checksum(root: Path, env: str) -> tuple[str, dict]:
    """Production's plan, as a reviewer reads it (JSON here), and its checksum."""
    shown = personas(root, "plan", "--env", env, "--format", "json", "--detailed-exitcode")
    assert shown.returncode == 2, shown.stderr
    plan = json.loads(shown.stdout)
    assert plan["environment"] == env
    return plan["checksum"], plan


def commit(repo: git.Repo, root: Path, prompt: str, tag: str) -> None:
    (root / "personas" / "helper.yaml").write_text(PERSONA.format(prompt=prompt))
    repo.git.add(A=True)
    repo.index.commit(tag)
    repo.create_tag(tag)


def test_promote_v1_and_v2_then_roll_back_production(tmp_path: Path, pg_url: str) -> None:
    root = tmp_path / "repo"
    (root / "personas").mkdir(parents=True)
    (root / ".gitignore").write_text(".personas/\n*.plan.md\n")
    (root / "personas.toml").write_text(
        '[repo]\nid = "acme/personas"\ntenant = "acme"\n\n'
        '[environments.staging]\ndatabase = "sqlite:///.personas/staging.db"\n\n'
        f'[environments.production]\ndatabase = "{pg_url}"\n\n'
        '[environments.production.overrides]\npublish_groups = ["mg_qa"]\n'
    )
    staging = f"sqlite:///{root / '.personas' / 'staging.db'}"
    init = personas(root, "catalogue", "init", "--database", pg_url, "--tenant", "acme")
    assert init.returncode == 0, init.stderr
    repo = git.Repo.init(root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "T").set_value("user", "email", "t@example.com")
    commit(repo, root, V1, "v1")

    # v1 merged: applied to the first environment only
    applied = personas(root, "apply", "--env", "staging", "--auto-approve")
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.startswith("Environment: staging (tenant acme)\n")
    assert "Applied to environment staging:" in applied.stdout
    assert prompts(staging) == {"helper": (V1, True)}
    assert prompts(pg_url) == {}

    # promotion: production's plan shows the change; exactly that plan is applied
    v1_checksum, plan = reviewed_checksum(root, "production")
    assert plan["summary"]["create"] == 1
    promoted = personas(
        root, "apply", "--env", "production", "--auto-approve", "--checksum", v1_checksum
    )
    assert promoted.returncode == 0, promoted.stderr
    assert prompts(pg_url) == {"helper": (V1, True)}
    assert "mg_qa" in promoted.stdout and "mg_support" not in promoted.stdout

    # v2: staging first; production keeps v1 until promoted
    commit(repo, root, V2, "v2")
    assert personas(root, "apply", "--env", "staging", "--auto-approve").returncode == 0
    assert prompts(staging) == {"helper": (V2, True)}
    assert prompts(pg_url) == {"helper": (V1, True)}
    stale = personas(
        root, "apply", "--env", "production", "--auto-approve", "--checksum", v1_checksum
    )
    assert stale.returncode == 1
    assert "error STALE_PLAN: the plan changed since it was reviewed" in stale.stderr
    assert prompts(pg_url) == {"helper": (V1, True)}  # nothing applied
    v2_checksum, plan = reviewed_checksum(root, "production")
    assert plan["summary"]["update"] == 1
    promoted = personas(
        root, "apply", "--env", "production", "--auto-approve", "--checksum", v2_checksum
    )
    assert promoted.returncode == 0, promoted.stderr
    assert prompts(pg_url) == {"helper": (V2, True)}

    # rollback: check out v1, show its plan first, apply exactly that plan
    repo.git.checkout("v1")
    shown = personas(root, "plan", "--env", "production")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Environment: production (tenant acme)\n")
    assert f'~ system_prompt: "{V2}" → "{V1}"' in shown.stdout
    rollback_checksum, _ = reviewed_checksum(root, "production")
    assert shown.stdout.rstrip().endswith(f"Plan checksum: {rollback_checksum}")
    rolled_back = personas(
        root, "apply", "--env", "production", "--auto-approve", "--checksum", rollback_checksum
    )
    assert rolled_back.returncode == 0, rolled_back.stderr
    assert prompts(pg_url) == {"helper": (V1, True)}
    assert prompts(staging) == {"helper": (V2, True)}  # staging was not rolled back
    again = personas(root, "plan", "--env", "production", "--detailed-exitcode")
    assert again.returncode == 0 and "No changes." in again.stdout

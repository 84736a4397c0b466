"""The README's promotion and rollback flow ("Usage by role" → "Promoting between
environments"), read from README.md and run as written, line by line, in a git repo
whose ``personas.toml`` holds the README's ``[environments]`` block.

``.venv/bin/personas`` in that repo points at this environment's ``personas``; every
other word of each command runs exactly as the README has it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import git
from personas_as_code.catalogue.embedded import EmbeddedCatalogue

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "### Promoting between environments"
FENCED_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)

V1 = "Answer in English."
V2 = "Answer in English, in two sentences at most."
PERSONA = (
    "name: Helper\nmodel: scaigrid/gpt-4o\nstatus: active\nsystem_prompt: {}\n"
    "publish: {{enabled: true, groups: [mg_support]}}\n"
)


def section_blocks(text: str) -> dict[str, str]:
    """The first fenced block of each language in the README's promotion section."""
    start = text.index(SECTION)
    end = text.find("\n## ", start)
    end = min(e for e in (end, text.find("\n### ", start + 1)) if e != -1)
    blocks: dict[str, str] = {}
    for match in FENCED_BLOCK.finditer(text[start:end]):
        blocks.setdefault(match.group(1), match.group(2))
    return blocks


def commands(block: str) -> list[str]:
    """The block's commands, one a line (a README line is one command), comments kept:
    bash ignores them."""
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def prompts(database: Path) -> dict[str, str | None]:
    catalogue = EmbeddedCatalogue.open(f"sqlite:///{database}", "acme")
    try:
        return {p.slug: p.system_prompt for p in catalogue.iter_personas()}
    finally:
        catalogue.close()


def test_the_readme_section_has_the_config_and_the_commands() -> None:
    blocks = section_blocks(README.read_text(encoding="utf-8"))
    assert "[environments.staging]" in blocks["toml"]
    lines = commands(blocks["bash"])
    assert lines[0].startswith("git checkout") and "git checkout v1" in lines[4]
    assert sum("--checksum" in line for line in lines) == 2


def test_the_readme_promotion_and_rollback_run_as_written(tmp_path: Path) -> None:
    blocks = section_blocks(README.read_text(encoding="utf-8"))
    root = tmp_path / "repo"
    (root / "personas").mkdir(parents=True)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "personas").symlink_to(Path(sys.executable).parent / "personas")
    (root / ".gitignore").write_text(".venv/\n.personas/\n*.plan.md\n")
    (root / "personas.toml").write_text(
        '[repo]\nid = "acme/personas"\ntenant = "acme"\n\n' + blocks["toml"]
    )
    repo = git.Repo.init(root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "T").set_value("user", "email", "t@example.com")
    for tag, prompt in (("v1", V1), ("v2", V2)):
        (root / "personas" / "helper.yaml").write_text(PERSONA.format(prompt))
        repo.git.add(A=True)
        repo.index.commit(tag)
        repo.create_tag(tag)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_"))}
    staging, production = root / ".personas/staging.db", root / ".personas/production.db"

    outputs = []
    for number, line in enumerate(commands(blocks["bash"]), start=1):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", line],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"README line {number}: {line}\n{done.stderr}"
        outputs.append(done.stdout)
        if number == 2:  # the merge's apply: staging only
            assert prompts(staging) == {"helper": V2} and not production.exists()
        if number == 4:  # promoted with the reviewed plan's checksum
            assert prompts(production) == {"helper": V2}
    # rolled back: production as v1 has it, staging left at v2
    assert prompts(production) == {"helper": V1}
    assert prompts(staging) == {"helper": V2}
    promote, rollback = (
        (root / "promote.plan.md").read_text(),
        (root / "rollback.plan.md").read_text(),
    )
    for plan in (promote, rollback):
        assert "### personas plan: <code>production</code> (tenant <code>acme</code>)" in plan
    assert "mg\\_qa" in promote and "mg\\_support" not in promote  # production override
    assert V2 in rollback and V1 in rollback
    assert "Applied to environment production:" in outputs[-1]

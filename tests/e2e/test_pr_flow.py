"""The GitOps loop end to end, with real git and the real CLI.

A bare "origin", a developer clone, and fresh CI clones for each workflow run
(plan on the pull request, apply on merge) against one catalogue: our REST app
on a loopback port, reached the way CI reaches ScaiGrid (SCAIGRID_HOST and
SCAIGRID_API_KEY).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import git
import pytest
from mcp import Client

from catalogue.client import HttpCatalogue
from catalogue.db import make_engine
from catalogue.rest import create_app
from catalogue.serve import serve_in_thread
from mcp_server import build_server
from tests.sync.conftest import api_key

ROOT = Path(__file__).resolve().parents[2]


def cli() -> list[str]:
    script = Path(sys.executable).parent / "personas"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]


@dataclass
class World:
    """Origin, a developer clone, and a catalogue that CI runs reach over HTTP."""

    tmp: Path
    origin: Path
    dev: git.Repo
    env: dict[str, str]
    catalogue: HttpCatalogue
    runs: int = 0

    def ci_checkout(self, branch: str) -> Path:
        """A fresh full clone at ``branch``, as actions/checkout with fetch-depth 0 makes."""
        self.runs += 1
        path = self.tmp / f"ci-run-{self.runs}"
        git.Repo.clone_from(self.origin, path, branch=branch)
        return path

    def personas(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli(), *args], cwd=cwd, env=self.env, capture_output=True, text=True, timeout=180
        )

    def ci_apply(self) -> None:
        workdir = self.ci_checkout("main")
        result = self.personas("apply", "--auto-approve", cwd=workdir)
        assert result.returncode == 0, result.stdout + result.stderr
        assert self.personas("plan", "--detailed-exitcode", cwd=workdir).returncode == 0

    def ci_plan(self, branch: str) -> str:
        workdir = self.ci_checkout(branch)
        assert self.personas("validate", cwd=workdir).returncode == 0
        result = self.personas(
            "plan",
            "--changed-since",
            "origin/main",
            "--format",
            "markdown",
            "--detailed-exitcode",
            cwd=workdir,
        )
        assert result.returncode == 2, result.stdout + result.stderr
        return result.stdout

    def merge(self, branch: str) -> None:
        self.dev.git.checkout("main")
        self.dev.git.fetch("origin")
        self.dev.git.merge(f"origin/{branch}", "--no-ff", "-m", f"Merge {branch}")
        self.dev.git.push("origin", "main")

    def slugs(self) -> set[str]:
        return {p.slug for p in self.catalogue.iter_personas()}


def table_rows(markdown: str) -> dict[str, str]:
    """persona slug -> change symbol, from the plan comment's table."""
    rows = re.findall(r"^\| ([+~\-!]) \| <code>([a-z0-9-]+)", markdown, flags=re.MULTILINE)
    return {slug: symbol for symbol, slug in rows}


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str, example_repo: Path) -> Iterator[World]:
    origin = tmp_path / "origin.git"
    git.Repo.init(origin, bare=True, initial_branch="main")
    dev_path = tmp_path / "dev"
    shutil.copytree(example_repo, dev_path)
    config = dev_path / "personas.toml"
    config.write_text(config.read_text().replace("prune = false", "prune = true"))
    (dev_path / ".gitignore").write_text(".personas/\n")
    dev = git.Repo.init(dev_path, initial_branch="main")
    with dev.config_writer() as cw:
        cw.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    dev.git.add(A=True)
    dev.index.commit("Persona examples")
    dev.create_remote("origin", str(origin)).push("main")

    engine = make_engine(sqlite_url)
    key = api_key(engine)
    with serve_in_thread(create_app(engine)) as base_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONAS_DATABASE")}
        env.update(SCAIGRID_HOST=base_url, SCAIGRID_API_KEY=key, PYTHONPATH=str(ROOT))
        with HttpCatalogue(base_url, key) as catalogue:
            yield World(tmp_path, origin, dev, env, catalogue)
    engine.dispose()


def test_pull_request_plan_merge_apply(world: World) -> None:
    world.ci_apply()
    assert len(world.slugs()) == 7

    # a feature branch: edit one persona, add one, delete one
    dev_root = Path(world.dev.working_tree_dir)
    world.dev.git.checkout("-b", "feature/personas")
    support = dev_root / "personas/support-agent.yaml"
    support.write_text(support.read_text().replace("Keep answers short", "Keep answers very short"))
    (dev_root / "personas/faq-helper.yaml").write_text(
        "# yaml-language-server: $schema=../schemas/persona.schema.json\n"
        "name: FAQ Helper\nmodel: scaigrid/gpt-4o-mini\nstatus: active\n"
        "system_prompt: Answer FAQ questions in one sentence.\n"
    )
    (dev_root / "personas/translator.yaml").unlink()
    world.dev.git.add(A=True)
    world.dev.index.commit("Shorter support answers; add FAQ helper; retire translator")
    world.dev.git.push("origin", "feature/personas")

    markdown = world.ci_plan("feature/personas")
    assert markdown.startswith("<!-- personas-plan -->")
    assert table_rows(markdown) == {"support-agent": "~", "faq-helper": "+", "translator": "-"}
    assert "+- Keep answers very short: three sentences" in markdown
    assert "Limited to personas changed since <code>origin/main</code>." in markdown

    world.merge("feature/personas")
    world.ci_apply()
    assert world.slugs() == {
        "faq-helper",
        "legacy-faq-bot",
        "legal-reviewer",
        "onboarding-coach",
        "release-notes-writer",
        "sql-helper",
        "support-agent",
    }
    support_now = next(p for p in world.catalogue.iter_personas() if p.slug == "support-agent")
    assert "Keep answers very short" in support_now.system_prompt
    models = {m.slug for m in world.catalogue.list_models()}
    assert "tenant/acme/translator" not in models and "tenant/acme/support-agent" in models


async def _patch_draft(workspace: Path) -> dict:
    async with Client(build_server(workspace, catalogue=None)) as client:
        result = await client.call_tool(
            "patch_persona_draft",
            {
                "slug": "sql-helper",
                "system_prompt": "You are a PostgreSQL expert.\nAnswer with one query and one "
                "paragraph.\n",
            },
        )
        assert not result.is_error, result.content
        return result.structured_content


def test_an_assistant_draft_goes_through_the_same_flow(world: World) -> None:
    world.ci_apply()
    # the assistant works in its own clone; its draft is a branch made by the MCP server
    workspace = world.ci_checkout("main")
    draft = anyio.run(_patch_draft, workspace)
    branch = draft["draft"]["branch"]
    assert draft["valid"] and branch.startswith("persona-drafts/sql-helper/")
    assert git.Repo(workspace).active_branch.name == "main"
    git.Repo(workspace).git.push("origin", branch)

    markdown = world.ci_plan(branch)
    assert table_rows(markdown) == {"sql-helper": "~"}
    assert "+Answer with one query and one paragraph." in markdown

    world.merge(branch)
    world.ci_apply()
    sql = next(p for p in world.catalogue.iter_personas() if p.slug == "sql-helper")
    assert (
        sql.system_prompt
        == "You are a PostgreSQL expert.\nAnswer with one query and one paragraph."
    )

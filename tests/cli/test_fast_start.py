"""A fast CLI start: help, --version and validate import none of the heavy libraries
(the catalogue's database and web stack, the MCP SDK, numpy, git, HTTP clients).

Each case runs the CLI in a fresh interpreter and lists the modules it imported;
timing lives in ``bench/cli_bench.py``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.repos import MINIMAL, RepoBuilder

ROOT = Path(__file__).resolve().parents[2]
HEAVY = {
    "sqlalchemy",
    "sqlmodel",
    "fastapi",
    "starlette",
    "uvicorn",
    "mcp",
    "numpy",
    "httpx",
    "git",
}
OWN_HEAVY = {
    "personas_as_code.sync.engine",
    "personas_as_code.sync.plan",
    "personas_as_code.catalogue.db",
    "personas_as_code.mcp_server.server",
}
MARK = "--modules--"
PROBE = f"""
import json, sys
from personas_as_code.cli.main import app
try:
    app(sys.argv[1:], prog_name="personas")
except SystemExit as exit:
    code = exit.code
print({MARK!r} + json.dumps([code, sorted(sys.modules)]))
"""


def imported_by(*args: str, cwd: Path) -> tuple[int, set[str], str]:
    """Exit code, the modules imported and the output of ``personas <args>``."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    output, _, listing = done.stdout.rpartition(MARK)
    assert listing, done.stderr
    code, modules = json.loads(listing)
    return code, set(modules), output


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["plan", "--help"],
        ["mcp", "--help"],
        ["catalogue", "serve", "--help"],
    ],
)
def test_help_and_version_import_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    code, modules, output = imported_by(*args, cwd=tmp_path)
    assert code in (0, None) and output.strip(), output
    assert not {m.split(".")[0] for m in modules} & HEAVY, sorted(HEAVY & modules)
    assert not modules & OWN_HEAVY
    if len(args) == 1:  # a command's own help goes through typer's (pydantic) coercion
        assert "pydantic" not in modules


def test_validate_imports_only_what_validation_needs(repo: RepoBuilder) -> None:
    for n in range(10):
        repo.persona(f"p{n}", MINIMAL)
    code, modules, output = imported_by("validate", cwd=repo.root)
    assert code == 0 and "10 persona(s) valid." in output, output
    assert "personas_as_code.schemas.loader" in modules  # it did validate
    assert not {m.split(".")[0] for m in modules} & HEAVY, sorted(HEAVY & modules)
    assert not modules & OWN_HEAVY

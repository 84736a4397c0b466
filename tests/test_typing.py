"""The package type-checks: mypy over the whole of ``personas_as_code`` finds no error.

mypy runs as CI runs it (``.venv/bin/mypy`` from the repository root, configured by
pyproject's ``[tool.mypy]``) and reads the package through the link tree of the strict
editable install. A module added after that install is missing from the tree, and without
the tree mypy checks ``personas_as_code/__init__.py`` alone and succeeds: so the test also
counts the files mypy checked against the package's files.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "setuptools"
]["package-dir"]
MYPY_TIMEOUT = 900


def _package_files() -> list[Path]:
    """Every Python file of the package, in the folders pyproject maps under it."""
    folders = {"personas_as_code", *(d.split("/")[0] for d in PACKAGE_DIR.values())}
    return [path for folder in sorted(folders) for path in (ROOT / folder).rglob("*.py")]


@pytest.mark.slow
def test_mypy_finds_no_error_in_the_package() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mypy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=MYPY_TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"no issues found in (\d+) source files?", done.stdout)
    assert found, done.stdout + done.stderr
    files = _package_files()
    # namespace folders (scaffold's templates) count as sources too, hence at least
    assert int(found.group(1)) >= len(files), (
        f"mypy checked {found.group(1)} files of the package's {len(files)}: a module added "
        "since the editable install is not in its link tree; run the README's pip install -e "
        "again (or the tree is missing: install with --config-settings editable_mode=strict)"
    )

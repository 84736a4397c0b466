"""The package type-checks: mypy over the whole of ``personas_as_code`` finds no error.

mypy runs as CI runs it (``.venv/bin/mypy`` from the repository root, configured by
pyproject's ``[tool.mypy]``) and reads the package through the link tree of the strict
editable install. A module added after that install is missing from the tree, and without
the tree mypy checks ``personas_as_code/__init__.py`` alone and succeeds: so the tree is
checked to hold every module, and mypy to have checked at least as many files.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGE = "personas_as_code"
MYPY_TIMEOUT = 900


def _modules() -> dict[Path, Path]:
    """Every Python file of the package (in the folders pyproject maps under it), and
    where the link tree that ``[tool.mypy] mypy_path`` names must hold it."""
    tree = Path(PYPROJECT["tool"]["mypy"]["mypy_path"].replace("$MYPY_CONFIG_FILE_DIR", str(ROOT)))
    folders = {PACKAGE: ROOT / PACKAGE}
    for package, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items():
        folders[package] = ROOT / folder
    return {
        path: tree / package.replace(".", "/") / path.relative_to(folder)
        for package, folder in folders.items()
        for path in folder.rglob("*.py")
    }


def test_the_link_tree_holds_every_module() -> None:
    """The strict editable install links files when it runs: a module added later is
    missing from the tree (and from mypy's check) until the next install."""
    missing = [str(p.relative_to(ROOT)) for p, linked in _modules().items() if not linked.is_file()]
    assert not missing, (
        f"{len(missing)} modules not in the editable install's link tree ({missing[:5]}); run "
        "the README's pip install -e ... --config-settings editable_mode=strict again (or "
        "[tool.mypy] mypy_path names another version's tree)"
    )


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
    # namespace folders (scaffold's templates) count as sources too, hence at least
    assert int(found.group(1)) >= len(_modules()), done.stdout

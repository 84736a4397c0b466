"""The wheel installs one import package, ``personas_as_code``, with its data files.

It is built from a copy of the package folders (the working tree stays untouched),
installed with ``pip --target`` beside explosion's ``catalogue`` from PyPI, and both
are imported in a fresh interpreter: neither shadows the other.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.tool_cache import tool_cache

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PACKAGE = "personas_as_code"
# explosion's catalogue (a spaCy dependency), the import name this project once shadowed
CATALOGUE_PIN = "catalogue==2.0.10"
PIP_TIMEOUT = 300


def _pip(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _source_copy(dest: Path) -> Path:
    """The files the build reads: pyproject, README and the mapped package folders."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    folders = {PACKAGE, *(d.split("/")[0] for d in SETUPTOOLS["package-dir"].values())}
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in sorted(folders):
        shutil.copytree(ROOT / folder, dest / folder, ignore=ignore)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = _source_copy(work / "src")
    # Built in an isolated environment with pyproject's build requirements, as users
    # build it (the venv's own setuptools may be older than those requirements).
    _pip("wheel", "--no-deps", "-w", str(work / "dist"), str(source))
    (built,) = (work / "dist").glob("personas_as_code-*.whl")
    return built


@pytest.fixture(scope="module")
def catalogue_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """explosion's catalogue installed alone into a folder (its wheel cached between runs)."""
    cache = tool_cache("pypi-catalogue")
    if not list(cache.glob("catalogue-*.whl")):
        _pip("download", "--no-deps", "-d", str(cache), CATALOGUE_PIN)
    (cached,) = cache.glob("catalogue-*.whl")
    target = tmp_path_factory.mktemp("catalogue")
    _pip("install", "--no-deps", "--no-index", "--target", str(target), str(cached))
    return target


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("installed")
    _pip("install", "--no-deps", "--target", str(target), str(wheel))
    return target


def _run_isolated(code: str, *path: Path, cwd: Path) -> dict:
    """Run ``code`` (which prints JSON) in a fresh interpreter with only ``path`` added."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join(map(str, path))
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_the_wheel_holds_one_top_level_package_and_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {PACKAGE, f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    for data in (
        "schemas/persona.schema.json",
        "schemas/config.schema.json",
        "schemas/test-persona.schema.json",
        "schemas/persona-tests.schema.json",
        "schemas/collection.schema.json",
        "scaffold/starter/personas.toml",
        "scaffold/starter/example-assistant.yaml",
        "scaffold/templates/pre-commit-config.yaml",
        "scaffold/templates/workflows/personas-plan.yml",
        "scaffold/templates/workflows/personas-apply.yml",
        "scaffold/templates/workflows/personas-drift.yml",
    ):
        assert f"{PACKAGE}/{data}" in names, data


def test_the_wheel_marks_the_package_typed(wheel: Path) -> None:
    """PEP 561: with ``py.typed`` type checkers read the installed package's hints."""
    assert f"{PACKAGE}/py.typed" in zipfile.ZipFile(wheel).namelist()


CHECK_BOTH = """
import json, catalogue
from importlib import resources
import personas_as_code
from personas_as_code.catalogue import db
from personas_as_code.scaffold.init import starter_files
schema = resources.files("personas_as_code.schemas").joinpath("persona.schema.json")
print(json.dumps({
    "catalogue": catalogue.__file__,
    "catalogue_create": callable(getattr(catalogue, "create", None)),
    "ours": personas_as_code.__file__,
    "db": db.__file__,
    "schema": str(schema),
    "schema_id": json.loads(schema.read_text("utf-8"))["$id"],
    "init_files": sorted(starter_files("acme")),
}))
"""


def test_the_wheel_installs_beside_explosions_catalogue(
    installed: Path, catalogue_dir: Path, tmp_path: Path
) -> None:
    found = _run_isolated(CHECK_BOTH, installed, catalogue_dir, cwd=tmp_path)
    assert found["catalogue"].startswith(str(catalogue_dir))
    assert found["catalogue_create"] is True
    assert found["ours"].startswith(str(installed))
    assert found["db"].startswith(str(installed / PACKAGE / "catalogue"))
    assert found["schema"].startswith(str(installed / PACKAGE / "schemas"))
    assert found["schema_id"] == "urn:personas-as-code:schema:persona"
    assert ".github/workflows/personas-plan.yml" in found["init_files"]
    assert "schemas/persona.schema.json" in found["init_files"]


def test_init_runs_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    code = (
        "import json, sys\n"
        "from personas_as_code.scaffold.init import init_repo\n"
        "print(json.dumps(init_repo(__import__('pathlib').Path('repo')).created))\n"
    )
    created = _run_isolated(code, installed, cwd=tmp_path)
    assert "personas/example-assistant.yaml" in created
    assert (tmp_path / "repo" / "schemas" / "persona.schema.json").is_file()


def test_every_python_folder_is_a_listed_package() -> None:
    """A folder with ``__init__.py`` missing from pyproject would silently not ship."""
    mapped = {f"{PACKAGE}.{d.replace('/', '.')}" for d in SETUPTOOLS["package-dir"].values()}
    found = {PACKAGE}
    for folder in SETUPTOOLS["package-dir"].values():
        for init in (ROOT / folder).rglob("__init__.py"):
            found.add(f"{PACKAGE}." + init.parent.relative_to(ROOT).as_posix().replace("/", "."))
    assert mapped <= found
    assert found == set(SETUPTOOLS["packages"])
    top_level = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench", PACKAGE}
    assert {f"{PACKAGE}.{name}" for name in top_level} == mapped

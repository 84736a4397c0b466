"""Fixtures of the persona tests' tests: the example repo in git, applied into a real
embedded catalogue (personas published, knowledge indexed) whose backends are the offline
mirror (``applied``) or a loopback model (``applied_with_model``), and a loopback judge."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.sync.engine import apply_repo, compute_plan, load_valid_repo
from sqlalchemy import Engine

from tests.mcp_server.conftest import git, init_git
from tests.persona_tests.prompt_model import configure_in_toml, serve_prompt_model
from tests.repos import EXAMPLES, example_repo, repo  # noqa: F401  (fixtures)
from tests.sync.conftest import api_key


def copy_examples(target: Path) -> Path:
    """A copy of the shipped example repo at ``target``."""
    target.mkdir(parents=True)
    for name in ("personas.toml", ".gitignore"):
        shutil.copy(EXAMPLES / name, target / name)
    for folder in ("personas", "test-personas", "knowledge"):
        shutil.copytree(EXAMPLES / folder, target / folder)
    return target


def apply_into(root: Path, engine: Engine) -> EmbeddedCatalogue:
    """Apply the repo at ``root`` into ``engine``'s catalogue (tenant acme)."""
    catalogue = EmbeddedCatalogue(engine, "acme")
    loaded = load_valid_repo(root)
    plan, ctx = compute_plan(loaded, catalogue)
    assert apply_repo(loaded, catalogue, plan, ctx).ok
    return catalogue


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, EmbeddedCatalogue]]:
    """The example repo (a git repo on ``main``) applied into a SQLite catalogue that the
    repo's own personas.toml names, so the CLI finds it too.  Tests must not change it."""
    root = copy_examples(tmp_path_factory.mktemp("applied") / "repo")
    init_git(root)
    engine = make_engine(f"sqlite:///{root / '.personas' / 'catalogue.db'}")
    api_key(engine)
    catalogue = apply_into(root, engine)
    assert git(root, "status", "--porcelain") == ""
    yield root, catalogue
    engine.dispose()


@pytest.fixture(scope="module")
def applied_with_model(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, EmbeddedCatalogue]]:
    """As ``applied``, but personas.toml's ``[backends]`` send the example personas' calls
    to a loopback model (``prompt_model``: it answers with the prompt it received), so
    their answers are a model's.  Tests must not change it."""
    with serve_prompt_model() as (base_url, _):
        root = copy_examples(tmp_path_factory.mktemp("applied-model") / "repo")
        configure_in_toml(root, base_url)
        init_git(root)
        engine = make_engine(f"sqlite:///{root / '.personas' / 'catalogue.db'}")
        api_key(engine)
        catalogue = apply_into(root, engine)
        assert git(root, "status", "--porcelain") == ""
        yield root, catalogue
        engine.dispose()

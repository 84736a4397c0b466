"""Builders and fixtures for small persona repos in temp dirs (re-exported by conftests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

MINIMAL = "name: Minimal\nmodel: scaigrid/gpt-4o\n"


class RepoBuilder:
    """A temp persona repo that tests fill file by file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "personas").mkdir(parents=True)
        (root / "personas.toml").write_text('[repo]\nid = "test/repo"\ntenant = "acme"\n')

    def write(self, rel: str, content: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def persona(self, slug: str, content: str) -> Path:
        return self.write(f"personas/{slug}.yaml", content)


@pytest.fixture
def repo(tmp_path: Path) -> RepoBuilder:
    return RepoBuilder(tmp_path / "repo")


@pytest.fixture
def example_repo(tmp_path: Path) -> Path:
    """A copy of the shipped example repo."""
    return copy_examples(tmp_path / "examples")


def copy_examples(target: Path) -> Path:
    """Copy the shipped example repo into the new directory ``target``."""
    target.mkdir()
    shutil.copy(EXAMPLES / "personas.toml", target / "personas.toml")
    shutil.copy(EXAMPLES / ".gitignore", target / ".gitignore")
    shutil.copytree(EXAMPLES / "personas", target / "personas")
    shutil.copytree(EXAMPLES / "test-personas", target / "test-personas")
    shutil.copytree(
        EXAMPLES / "schemas",
        target / "schemas",
        ignore=shutil.ignore_patterns("*.py", "__pycache__"),
    )
    shutil.copytree(EXAMPLES / "knowledge", target / "knowledge")
    return target

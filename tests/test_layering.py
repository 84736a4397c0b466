"""The house is layered: no import runs back up.

cli → mcp_server → persona_tests → sandbox → sync → catalogue → inference →
knowledge_index → schemas.  A module may import its own package and those to its
right, never one to its left.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    "cli",
    "mcp_server",
    "persona_tests",
    "sandbox",
    "sync",
    "catalogue",
    "inference",
    "knowledge_index",
    "schemas",
]


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


@pytest.mark.parametrize("package", LAYERS)
def test_no_import_runs_back_up(package: str) -> None:
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for module in _imports(path)
        if rank.get(module.split(".")[0], len(LAYERS)) < rank[package]
    ]
    assert upward == []


def test_every_package_has_a_layer() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages - {"tests", "bench"} == set(LAYERS)

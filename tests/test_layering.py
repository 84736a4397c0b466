"""The house is layered: no import runs back up.

cli → scaffold → mcp_server → application → persona_tests → sandbox → sync → catalogue →
inference → knowledge_index → loader → untrusted → schemas.  A module may import its own package
and those to its right, never one to its left.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "personas_as_code"
LAYERS = [
    "cli",
    "scaffold",
    "mcp_server",
    "application",
    "persona_tests",
    "sandbox",
    "sync",
    "catalogue",
    "inference",
    "knowledge_index",
    "loader",
    "untrusted",
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
        if rank.get(_layer(module), len(LAYERS)) < rank[package]
    ]
    assert upward == []


def _layer(module: str) -> str:
    """The layer a module belongs to: ``personas_as_code.sync.plan`` -> ``sync``."""
    parts = module.split(".")
    return parts[1] if parts[0] == PACKAGE and len(parts) > 1 else ""


def test_nothing_imports_a_folder_by_its_bare_name() -> None:
    """Installed, the folders exist only as ``personas_as_code.<folder>``: a bare
    ``import sync`` would work in a checkout and fail (or import another
    distribution's ``catalogue``) once installed."""
    bare = [
        f"{path.relative_to(ROOT)} imports {module}"
        for folder in [*LAYERS, "tests", "bench"]
        for path in sorted((ROOT / folder).rglob("*.py"))
        for module in _imports(path)
        if module.split(".")[0] in LAYERS
    ]
    assert bare == []


def test_no_code_in_a_string_imports_a_folder_by_its_bare_name() -> None:
    """Scripts handed to ``python -c`` or ``-m`` name the installed package too."""
    bare_name = "|".join(LAYERS)
    pattern = re.compile(rf"(?:\bfrom|\bimport|-m)\s+(?:{bare_name})(?:\.[a-z_]+|\s+import\b)")
    bare = [
        f"{path.relative_to(ROOT)}: {match.group(0)!r}"
        for folder in [*LAYERS, "tests", "bench"]
        for path in sorted((ROOT / folder).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        for match in pattern.finditer(node.value)
    ]
    assert bare == []


def test_every_package_has_a_layer() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages - {"tests", "bench", PACKAGE} == set(LAYERS)


def test_only_the_mcp_command_imports_the_mcp_server() -> None:
    """The CLI calls the application layer; only ``personas mcp`` starts the server, and
    the server (an adapter) imports no CLI module."""
    assert any(_layer(m) == "mcp_server" for m in _imported(ROOT / "cli" / "mcp_cmd.py"))
    cli_into_server = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "cli").rglob("*.py"))
        if path.name != "mcp_cmd.py"
        for module in _imported(path)
        if _layer(module) == "mcp_server"
    ]
    server_into_cli = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / "mcp_server").rglob("*.py"))
        for module in _imported(path)
        if _layer(module) == "cli"
    ]
    assert cli_into_server + server_into_cli == []


def _imported(path: Path) -> list[str]:
    """``_imports``, with ``from personas_as_code import mcp_server`` read as the module
    it names."""
    found = _imports(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == PACKAGE and node.level == 0:
            found += [f"{PACKAGE}.{alias.name}" for alias in node.names]
    return found

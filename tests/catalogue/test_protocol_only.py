"""Code outside the catalogue package holds a ``Catalogue`` and calls it.

It never asks which catalogue it holds (``isinstance``, ``hasattr``, ``getattr``, the
implementations' names, their engine, caller or raw ``call``), never types one
``Any``, and never reads the catalogue's tables with SQL: where the embedded and the
remote catalogue differ, each says so in its own code (``catalogue.protocol``).  Read
from the source with ``ast``, over every product package (``tests/test_layering.py``).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path

from personas_as_code.catalogue import db

from tests.test_layering import LAYERS, PACKAGE, ROOT

CATALOGUE = "catalogue"
KINDS = {"EmbeddedCatalogue", "HttpCatalogue", "Catalogue", "as_embedded"}
INTERNALS = {"engine", "caller", "call"}
"""What only an implementation has: reaching for it is asking which catalogue it is."""
OWN_TABLES = {"knowledge_index"}
"""Packages with tables of their own (the knowledge index store), where SQL on them is
theirs to write."""
TABLES = {
    name
    for name, value in vars(db).items()
    if inspect.isclass(value) and hasattr(value, "__table__")
}
SQL = ("sqlalchemy", "sqlmodel")

Finding = tuple[int, str]


def _names(node: ast.AST) -> set[str]:
    """Every name and attribute name in ``node`` (``self.catalogue`` -> both)."""
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
    return found


def _is_catalogue(node: ast.AST) -> bool:
    """Whether ``node`` reads like a catalogue (``catalogue``, ``self.catalogue``, ``cat``)."""
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return "catalogue" in name.lower() or name == "cat"


def probes(tree: ast.AST) -> list[Finding]:
    """Where ``tree`` asks which catalogue it holds."""
    found: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            fn = node.func.id
            if fn in ("isinstance", "issubclass") and _names(node.args[-1]) & KINDS:
                found.append((node.lineno, f"{fn}(…, a catalogue kind)"))
            elif fn in ("hasattr", "getattr") and _is_catalogue(node.args[0]):
                found.append((node.lineno, f"{fn}(catalogue, …)"))
        elif isinstance(node, ast.ImportFrom):
            named = {a.name for a in node.names} & (KINDS - {"Catalogue"})
            if named:
                found.append((node.lineno, f"imports {', '.join(sorted(named))}"))
        elif (
            isinstance(node, ast.Attribute) and node.attr in INTERNALS and _is_catalogue(node.value)
        ):
            found.append((node.lineno, f"reads catalogue.{node.attr}"))
    return found


def untyped(tree: ast.AST) -> list[Finding]:
    """Where ``tree`` types a catalogue parameter ``Any`` (or ``object``)."""
    found: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            a = node.args
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs]:
                annotation = arg.annotation
                if "catalogue" in arg.arg and annotation and _names(annotation) & {"Any", "object"}:
                    found.append((arg.lineno, f"{node.name}({arg.arg}: Any)"))
    return found


def sql(tree: ast.AST) -> list[Finding]:
    """Where ``tree`` imports SQL (SQLAlchemy or SQLModel other than their error types,
    or the catalogue's table rows)."""
    found: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, f"imports {a.name}")
                for a in node.names
                if a.name.split(".")[0] in SQL
            ]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = {a.name for a in node.names}
            if node.module.split(".")[0] in SQL:
                used = sorted(n for n in names if not n.endswith("Error"))
                if used:
                    found.append((node.lineno, f"imports {', '.join(used)} from {node.module}"))
            elif node.module == f"{PACKAGE}.{CATALOGUE}.db" and names & TABLES:
                found.append(
                    (node.lineno, f"imports the tables {', '.join(sorted(names & TABLES))}")
                )
    return found


def _scan(packages: list[str], check: Callable[[ast.AST], list[Finding]]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line} {what}"
        for path in _files(packages)
        for line, what in check(ast.parse(path.read_text(encoding="utf-8")))
    ]


def _files(packages: list[str]) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_no_code_outside_the_catalogue_asks_which_catalogue_it_holds() -> None:
    assert _scan([p for p in LAYERS if p != CATALOGUE], probes) == []


def test_no_catalogue_is_typed_any() -> None:
    assert _scan(LAYERS, untyped) == []


def test_no_sql_outside_the_catalogue() -> None:
    """SQLAlchemy and SQLModel are the embedded catalogue's (and the knowledge index
    store's, on its own tables); elsewhere only their error types may be caught."""
    outside = [p for p in LAYERS if p != CATALOGUE and p not in OWN_TABLES]
    assert _scan(outside, sql) == []


SAMPLE = """
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.catalogue.kinds import as_embedded
from personas_as_code.catalogue.db import PersonaRow, make_engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
import sqlmodel

def f(catalogue: Any, other_catalogue: object | None, index: Index) -> None:
    isinstance(catalogue, EmbeddedCatalogue)
    isinstance(index, dict)
    hasattr(catalogue, "call")
    getattr(self.catalogue, "lock", None)
    getattr(index, "engine", None)
    Session(catalogue.engine)
    index.engine
"""


def test_the_checks_see_what_they_forbid() -> None:
    """Each check finds every probe of a sample (so an empty answer means something)."""
    tree = ast.parse(SAMPLE)
    assert [line for line, _ in probes(tree)] == [2, 3, 10, 12, 13, 15]
    assert [line for line, _ in untyped(tree)] == [9, 9]
    assert [what for _, what in sql(tree)] == [
        "imports the tables PersonaRow",
        "imports Session from sqlalchemy.orm",
        "imports sqlmodel",
    ]

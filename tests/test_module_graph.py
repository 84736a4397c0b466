"""The modules of the package form no import cycle, keep their private names to
themselves, and none of them looks like a test to pytest.

The import graph holds every import a module runs, at module level or inside a
function (a late import that breaks a cycle still is one); only the imports under
``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "personas_as_code"
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "setuptools"
]


def product_modules() -> dict[str, Path]:
    """Every module of the installed package, by dotted name, and its file."""
    modules = {PACKAGE: ROOT / PACKAGE / "__init__.py"}
    for package, folder in SETUPTOOLS["package-dir"].items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


MODULES = product_modules()


def _type_checking_only(tree: ast.AST) -> set[int]:
    """The ids of the nodes under ``if TYPE_CHECKING:`` (imports that never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (
            (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
            or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
        ):
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def _module_of(name: str) -> str | None:
    """The product module ``name`` is, or the one it is an attribute of."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> Iterator[tuple[str, str | None]]:
    """(imported product module, name imported from it or None) for each import that
    ``module`` runs."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _module_of(alias.name)
                if target:
                    yield target, None
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            source = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in MODULES:
                    yield submodule, None
                elif (target := _module_of(source)) is not None:
                    yield target, alias.name


def import_graph() -> dict[str, set[str]]:
    """Each product module and the product modules it imports."""
    return {
        module: {target for target, _ in _imports(module) if target != module} for module in MODULES
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` (its modules, the first repeated at the end), or []."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        while stack:
            following = next(stack[-1], None)
            if following is None:
                done.add(path.pop())
                stack.pop()
            elif following in path:
                return [*path[path.index(following) :], following]
            elif following not in done:
                path.append(following)
                stack.append(iter(sorted(graph.get(following, ()))))
    return []


def test_the_package_has_no_import_cycle() -> None:
    assert find_cycle(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_module_imports_a_private_name_of_another() -> None:
    """``_name`` is its module's own business: a name another module needs is public."""
    private = [
        f"{module} imports {name} from {target}"
        for module in MODULES
        for target, name in _imports(module)
        if name and name.startswith("_") and not name.startswith("__") and target != module
    ]
    assert private == []


def _relative(module: str) -> str:
    return str(MODULES[module].relative_to(ROOT))


def test_no_product_module_is_named_like_a_test() -> None:
    """pytest collects ``test_*.py`` and ``*_test.py``: ``pytest catalogue`` once
    imported a product module a second time under another name and failed on its tables."""
    named_like_tests = [
        _relative(module)
        for module, path in MODULES.items()
        if path.stem.startswith("test_") or path.stem.endswith("_test")
    ]
    assert named_like_tests == []


def test_no_product_class_opts_out_of_pytest() -> None:
    """A class that needs ``__test__ = False`` is named like a test: name it for what it
    is (the test personas of the code are simulated users)."""
    opted_out = [
        f"{_relative(module)}: {node.name}"
        for module, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
        for stmt in node.body
        for target in (
            stmt.targets
            if isinstance(stmt, ast.Assign)
            else [stmt.target]
            if isinstance(stmt, ast.AnnAssign)
            else []
        )
        if isinstance(target, ast.Name) and target.id == "__test__"
    ]
    assert opted_out == []

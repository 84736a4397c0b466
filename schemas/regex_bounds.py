"""Bounds on the regular expressions and JSON Schemas of persona tests, checked before
anything is compiled or run.

A 20-character pattern can ask for gigabytes: the ``regex`` module unrolls counted
repeats when it compiles, so ``(?:x{65535}){1000}`` becomes 65 million nodes.
``check_pattern`` estimates the compiled size from the pattern's structure (read by the
standard library's parser, ``re._parser``, which builds no program) and refuses a
pattern above ``MAX_REGEX_SIZE`` before ``regex.compile`` sees it.  A pattern that
parser cannot read (syntax only ``regex`` knows) is estimated crudely, as if every
counted repeat were nested in every other.

``check_schema_bounds`` bounds a ``json_schema`` assertion's schema: its size and depth,
and every ``pattern`` and ``patternProperties`` key in it, like a ``regex`` assertion.
"""

from __future__ import annotations

import importlib
import re
import warnings
from collections.abc import Iterator
from typing import Any

MAX_REGEX_CHARS = 500
MAX_REGEX_SIZE = 100_000  # about 30 MB once compiled by the regex module
MAX_SCHEMA_NODES = 5_000
MAX_SCHEMA_DEPTH = 32
# keywords whose values are data, not schemas: a "pattern" inside them is no pattern
_DATA_KEYWORDS = frozenset({"const", "enum", "examples", "default"})
_COUNT = re.compile(r"\{\s*(\d*)\s*(?:,\s*(\d*)\s*)?\}")
# regex's Unicode property escapes (\p{L}, \PL), one item each, as the stdlib parser's \w;
# an escaped backslash before them (\\p{5}) is no escape, hence the even run of them
_PROPERTY = re.compile(r"(?<!\\)((?:\\\\)*)\\[pP](?:\{[^}]*\}|[A-Za-z])")

# the stdlib's private regex parser, which typeshed does not describe: imported by name
_sre_constants: Any
_sre_parser: Any
try:
    _sre_constants = importlib.import_module("re._constants")
    _sre_parser = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover - another Python's layout: the crude estimate only
    _sre_parser = _sre_constants = None


def check_pattern(pattern: str, what: str = "the pattern") -> None:
    """Raise ``ValueError`` when compiling ``pattern`` could take more than the bounds
    allow (too long, or repeats that expand past ``MAX_REGEX_SIZE``); ``what`` names it
    in the message."""
    if len(pattern) > MAX_REGEX_CHARS:
        raise ValueError(f"{what} is {len(pattern):,} characters; the limit is {MAX_REGEX_CHARS:,}")
    if compiled_size(pattern) > MAX_REGEX_SIZE:
        raise ValueError(
            f"{what} would expand to more than {MAX_REGEX_SIZE:,} items when compiled "
            "(nested repeat counts multiply); use smaller repeat counts"
        )


def compile_pattern(pattern: str, what: str | None = None) -> Any:
    """``regex.compile(pattern)`` once ``check_pattern`` allows it; ``ValueError`` with a
    readable reason when it is refused or invalid (about ``what``: the pattern at …)."""
    import regex  # imported on use: only repos with persona tests need it

    check_pattern(pattern, what or "the pattern")
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        subject = f"{what} is " if what else ""
        raise ValueError(f"{subject}not a valid regular expression: {exc}") from None
    except (MemoryError, RecursionError, OverflowError):
        raise ValueError(f"{what or 'the pattern'} is too large to compile") from None


def compiled_size(pattern: str) -> int:
    """About how many items compiling ``pattern`` makes: every counted repeat multiplies
    what it repeats by its largest count (its smallest when unbounded).  Stops counting
    once past ``MAX_REGEX_SIZE``."""
    if _sre_parser is not None:
        for readable in dict.fromkeys((pattern, _PROPERTY.sub(r"\1\\w", pattern))):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    parsed = _sre_parser.parse(readable)
            except (re.error, OverflowError, RecursionError, ValueError):
                continue
            return _size(parsed)
    return _crude_size(pattern)


def _size(items: Any) -> int:
    """The size of a parsed (sub)pattern: the sum of its items' sizes."""
    total = 0
    for op, av in items:
        if op in (
            _sre_constants.MAX_REPEAT,
            _sre_constants.MIN_REPEAT,
            getattr(_sre_constants, "POSSESSIVE_REPEAT", None),
        ):
            low, high, inner = av
            count = high if high != _sre_constants.MAXREPEAT else max(low, 1)
            total += max(count, 1) * _size(inner)
        else:
            total += 1 + sum(_size(sub) for sub in _subpatterns(av))
        if total > MAX_REGEX_SIZE:
            break
    return total


def _subpatterns(av: Any) -> Iterator[Any]:
    """The subpatterns inside an item's argument (a group's body, a branch's choices)."""
    if isinstance(av, _sre_parser.SubPattern):
        yield av
    elif isinstance(av, tuple | list):
        for part in av:
            if isinstance(part, _sre_parser.SubPattern | tuple | list):
                yield from _subpatterns(part)


def _crude_size(pattern: str) -> int:
    """An upper bound that needs no parser: the pattern's length times every counted
    repeat's count, as if each were nested in all the others."""
    size = max(len(pattern), 1)
    for found in _COUNT.finditer(pattern):
        digits = found.group(2) or found.group(1)
        if not digits:
            continue
        size *= max(int(digits), 1) if len(digits) <= 9 else MAX_REGEX_SIZE + 1
        if size > MAX_REGEX_SIZE:
            break
    return size


def schema_patterns(schema: Any) -> Iterator[tuple[str, str]]:
    """Every regular expression of a JSON Schema, as ``(where, pattern)``: the values of
    ``pattern`` and the keys of ``patternProperties``, wherever a schema can be."""
    pending: list[tuple[Any, str]] = [(schema, "")]
    while pending:
        node, where = pending.pop()
        if isinstance(node, list):
            pending += [(item, f"{where}/{i}") for i, item in enumerate(node)]
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            at = f"{where}/{key}"
            if key in _DATA_KEYWORDS:
                continue
            if key == "pattern" and isinstance(value, str):
                yield at, value
            elif key == "patternProperties" and isinstance(value, dict):
                yield from ((f"{at}/{k}", k) for k in value if isinstance(k, str))
            pending.append((value, at))


def check_schema_bounds(schema: Any) -> None:
    """Raise ``ValueError`` when a ``json_schema`` assertion's schema is too large or too
    deep, holds a pattern ``check_pattern`` refuses or that does not compile, or asks
    for what cannot be checked in bounded time (``unevaluatedProperties`` beside
    ``patternProperties``: the validator matches those with Python's ``re``, which has
    no timeout)."""
    nodes, depth = _extent(schema)
    if nodes > MAX_SCHEMA_NODES:
        raise ValueError(f"the schema has more than {MAX_SCHEMA_NODES:,} values; that is the limit")
    if depth > MAX_SCHEMA_DEPTH:
        raise ValueError(f"the schema nests deeper than {MAX_SCHEMA_DEPTH} levels")
    keys = _keys(schema)
    if "unevaluatedProperties" in keys and "patternProperties" in keys:
        raise ValueError(
            "unevaluatedProperties beside patternProperties cannot be checked in bounded "
            "time; use additionalProperties"
        )
    for where, pattern in schema_patterns(schema):
        compile_pattern(pattern, f"the pattern at {where}")


def _extent(schema: Any) -> tuple[int, int]:
    """How many values ``schema`` holds and how deep it nests (counting stops early)."""
    nodes, deepest = 0, 0
    pending: list[tuple[Any, int]] = [(schema, 1)]
    while pending and nodes <= MAX_SCHEMA_NODES:
        node, depth = pending.pop()
        nodes += 1
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            pending += [(v, depth + 1) for v in node.values()]
        elif isinstance(node, list):
            pending += [(v, depth + 1) for v in node]
    return nodes, deepest


def _keys(schema: Any) -> set[str]:
    """Every map key used anywhere in ``schema``."""
    found: set[str] = set()
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            found.update(k for k in node if isinstance(k, str))
            pending += node.values()
        elif isinstance(node, list):
            pending += node
    return found

"""Strict JSON values: the one rule for free-form maps (metadata, default_params,
search_config) wherever they come from — a persona file, a REST body, a
catalogue answer.

A value is accepted when it is what every JSON parser and both databases can
round-trip unchanged: ``None``, booleans, integers within 64 bits, finite
floats, strings without lone surrogates or NUL, lists, and maps with string
keys; nested at most ``MAX_JSON_DEPTH`` deep and at most ``MAX_JSON_NODES``
values in all.  The walk is iterative, so no input can exhaust the stack.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator

MAX_JSON_DEPTH = 32
MAX_JSON_NODES = 10_000
_INT64 = 2**63

JsonPath = tuple[str | int, ...]


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)"
    return None


def json_problems(
    value: Any, *, max_depth: int = MAX_JSON_DEPTH, max_nodes: int = MAX_JSON_NODES
) -> list[tuple[JsonPath, str]]:
    """Every reason ``value`` is not a strict JSON value, each with its path.

    Stops early (with one problem) once the depth or node cap is crossed.
    """
    problems: list[tuple[JsonPath, str]] = []
    stack: list[tuple[JsonPath, Any]] = [((), value)]
    seen = 0
    while stack:
        path, item = stack.pop()
        seen += 1
        if seen > max_nodes:
            return [*problems, (path, f"more than {max_nodes:,} values in all")]
        if len(path) > max_depth:
            return [*problems, (path, f"nested deeper than {max_depth} levels")]
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, int):
            if not -_INT64 <= item < _INT64:
                problems.append((path, "integer out of the 64-bit range"))
        elif isinstance(item, float):
            if not math.isfinite(item):
                problems.append((path, f"{item} is not a JSON number (NaN and Infinity are not)"))
        elif isinstance(item, str):
            reason = _string_problem(item)
            if reason:
                problems.append((path, f"string {reason}"))
        elif isinstance(item, dict):
            for key, sub in reversed(list(item.items())):
                if not isinstance(key, str):
                    problems.append(((*path, str(key)), "map keys must be strings"))
                    continue
                reason = _string_problem(key)
                if reason:
                    problems.append(((*path, key), f"key {reason}"))
                    continue
                stack.append(((*path, key), sub))
        elif isinstance(item, list | tuple):
            for index in range(len(item) - 1, -1, -1):
                stack.append(((*path, index), item[index]))
        else:
            problems.append(
                (
                    path,
                    f"a {type(item).__name__} is not a JSON value (use a string, number, "
                    "boolean, null, list or map)",
                )
            )
    return problems


def dotted(path: JsonPath) -> str:
    """``a.b.0`` for a path, ``(root)`` for the empty one."""
    return ".".join(str(p) for p in path) or "(root)"


def _strict(value: Any) -> Any:
    problems = json_problems(value)
    if problems:
        path, message = problems[0]
        raise ValueError(f"{dotted(path)}: {message}")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_strict)]
"""A map that must be a strict JSON value (see the module docstring)."""

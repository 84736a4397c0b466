"""JSON Schema validation bounded in time and memory, for ``json_schema`` assertions.

``jsonschema`` matches ``pattern`` and ``patternProperties`` with Python's ``re``, which
has no timeout: ``pattern: "^(a+)+$"`` against ``"aaaa…!"`` never ends.  The validator
here is ``Draft202012Validator`` with those keywords (and ``additionalProperties``,
which matches ``patternProperties`` too) matching on the ``regex`` module with the
``regex`` assertion's timeout (``REGEX_TIMEOUT_S``), ``uniqueItems`` in linear time, and
every keyword checking one deadline for the whole validation (``SCHEMA_TIMEOUT_S``).
The schema itself is bounded first, by the same check ``validate`` runs
(``schemas.regex_bounds.check_schema_bounds``).  Whatever goes over a bound is one
error that says so: the assertion fails, the run goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from itertools import islice
from typing import Any

import regex
from jsonschema import Draft202012Validator, ValidationError
from jsonschema.validators import extend
from personas_as_code.schemas.persona_tests import REGEX_TIMEOUT_S
from personas_as_code.schemas.regex_bounds import check_schema_bounds
from referencing.exceptions import Unresolvable

SCHEMA_TIMEOUT_S = 5.0
MAX_SCHEMA_ERRORS = 1000

_DEADLINE: ContextVar[float] = ContextVar("schema_deadline")

Keyword = Callable[[Any, Any, Any, dict[str, Any]], Iterator[ValidationError]]


class _Stop(Exception):
    """A bound was reached: the whole validation ends with this one error."""

    def __init__(self, message: str, instance: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.instance = instance


def schema_errors(schema: dict[str, Any], document: Any) -> list[ValidationError]:
    """The errors of ``document`` against ``schema`` (at most ``MAX_SCHEMA_ERRORS``), or
    one error saying which bound the check reached; never hangs, never raises."""
    try:
        check_schema_bounds(schema)
    except ValueError as exc:
        return [ValidationError(f"the schema is refused: {exc}")]
    token = _DEADLINE.set(time.monotonic() + SCHEMA_TIMEOUT_S)
    try:
        return list(islice(_BoundedValidator(schema).iter_errors(document), MAX_SCHEMA_ERRORS))
    except _Stop as stop:
        return [ValidationError(stop.message, path=_path_of(document, stop.instance))]
    except RecursionError:
        return [ValidationError("the schema refers to itself without end (a $ref loop?)")]
    except Unresolvable as exc:
        return [ValidationError(f"the schema has a $ref that cannot be resolved ({exc})"[:300])]
    finally:
        _DEADLINE.reset(token)


def _short(value: object, limit: int = 60) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def _remaining() -> float:
    """Seconds left before the deadline; ``_Stop`` once it has passed."""
    left = _DEADLINE.get() - time.monotonic()
    if left <= 0:
        raise _Stop(
            f"checking the answer against the schema took longer than {SCHEMA_TIMEOUT_S:g} s"
        )
    return left


def _search(pattern: str, text: str) -> bool:
    """``regex.search`` within the timeout; ``_Stop`` when it runs out."""
    try:
        found = regex.search(pattern, text, timeout=min(REGEX_TIMEOUT_S, _remaining()))
    except TimeoutError:
        raise _Stop(
            f"pattern {_short(pattern)} took longer than {REGEX_TIMEOUT_S:g} s on "
            f"{_short(text)} (catastrophic backtracking?); simplify it",
            text,
        ) from None
    return found is not None


def _timed(keyword: Keyword) -> Keyword:
    """``keyword`` that first checks the deadline."""

    def checked(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Any:
        _remaining()
        return keyword(validator, value, instance, schema)

    return checked


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Any:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError(f"{_short(instance)} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: dict[str, Any]
) -> Any:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: dict[str, Any]
) -> Any:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = {
        key
        for key in instance
        if key not in properties and not any(_search(p, key) for p in patterns)
    }
    if validator.is_type(additional, "object"):
        for extra in sorted(extras):
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        shown = ", ".join(_short(e) for e in sorted(extras)[:10])
        more = f" (+{len(extras) - 10} more)" if len(extras) > 10 else ""
        if patterns:
            yield ValidationError(
                f"{shown}{more} match none of the patterns {', '.join(map(repr, patterns))}"
            )
        else:
            yield ValidationError(f"additional properties are not allowed ({shown}{more})")


def _unique_items(validator: Any, unique: Any, instance: Any, schema: dict[str, Any]) -> Any:
    if not (unique and validator.is_type(instance, "array")):
        return
    seen: set[object] = set()
    for item in instance:
        key = _identity(item)
        if key in seen:
            yield ValidationError(f"{_short(instance)} has non-unique elements")
            return
        seen.add(key)


def _identity(value: Any) -> object:
    """A hashable stand-in equal for JSON-equal values (``1`` and ``1.0`` alike, ``true``
    and ``1`` not), so ``uniqueItems`` is one pass instead of comparing every pair."""
    if isinstance(value, bool) or value is None:
        return ("literal", value)
    if isinstance(value, int | float):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, list):
        return ("array", tuple(_identity(v) for v in value))
    if isinstance(value, dict):
        return ("object", frozenset((k, _identity(v)) for k, v in value.items()))
    return ("other", id(value))


def _path_of(document: Any, target: object) -> list[str | int]:
    """Where ``target`` (that very object: a value or a key) sits in ``document``."""
    pending: list[tuple[Any, list[str | int]]] = [(document, [])]
    while pending and target is not None:
        node, path = pending.pop()
        if node is target:
            return path
        if isinstance(node, dict):
            for key, value in node.items():
                if key is target:
                    return path
                pending.append((value, [*path, key]))
        elif isinstance(node, list):
            pending += [(v, [*path, i]) for i, v in enumerate(node)]
    return []


_KEYWORDS = {
    **Draft202012Validator.VALIDATORS,
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "uniqueItems": _unique_items,
}
_BoundedValidator = extend(
    Draft202012Validator, validators={name: _timed(kw) for name, kw in _KEYWORDS.items()}
)

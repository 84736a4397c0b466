"""Driver rows made into an answer's JSON values with no model per row, when the model
would take every value as it is (``rest_reads`` answers the hottest reads with them).

A ``RowShape`` is made once per table: for each model field, the column that fills it,
SQLAlchemy's own result processor for that column (so a value is what a Core row holds:
``fromisoformat`` for a SQLite time, truthiness for a boolean) and the check of the
field's type.  ``RowShape.values`` gives a row's fields in the model's order, each one the
value the model would hold, or raises ``Unvouched`` when a value is one the model would
coerce or refuse, or one that ``servable`` would repair (the caller then answers the
canonical way, ``rendering.persona_out``, which repairs and warns).  pydantic serialises
such values as it serialises the model's own: the tests hold the two answers equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType, NoneType, UnionType
from typing import Any, Literal, NamedTuple, Union, get_args, get_origin

from personas_as_code.catalogue.rendering import as_utc
from personas_as_code.catalogue.servable import stored_json
from pydantic import BaseModel
from sqlalchemy import JSON, Dialect, Table


class Unvouched(Exception):
    """A stored value the model would not take as it is: answer the canonical way."""


_KEEP_NULL = object()
"""``_Field.if_null``: a null is the field's value (its check refuses it if it must)."""

_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


def _plain_check(kind: type) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if type(value) is not kind:
            raise Unvouched
        return value

    return check


def _finite(value: Any) -> Any:
    if type(value) is not float or not math.isfinite(value):  # an int would become a float
        raise Unvouched
    return value


def _time(value: Any) -> Any:
    if type(value) is not datetime:
        raise Unvouched
    return as_utc(value)


def _any_map(value: Any) -> Any:
    if type(value) is not dict:
        raise Unvouched
    return value


def _text_map(value: Any) -> Any:
    if type(value) is not dict or not all(type(v) is str for v in value.values()):
        raise Unvouched
    return value


def _choice(allowed: frozenset[str]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if type(value) is not str or value not in allowed:
            raise Unvouched
        return value

    return check


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def optional(value: Any) -> Any:
        return None if value is None else check(value)

    return optional


_CHECKS: dict[Any, Callable[[Any], Any]] = {
    str: _plain_check(str),
    int: _plain_check(int),
    bool: _plain_check(bool),
    float: _finite,
    datetime: _time,
    dict[str, Any]: _any_map,
    dict[str, str]: _text_map,
}


_PLAIN: dict[Any, type] = {str: str, int: int, bool: bool, dict[str, Any]: dict}
"""The field types whose check is the value's exact type alone."""


def plain_types(annotation: Any) -> frozenset[type] | None:
    """The exact types a value of a field of ``annotation`` may have when its type alone
    vouches for it (``field_check``'s answer, without a call per value); else None."""
    args = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else ()
    if len(args) == 2 and NoneType in args:
        (inner,) = [a for a in args if a is not NoneType]
        inner_types = plain_types(inner)
        return None if inner_types is None else inner_types | {NoneType}
    try:
        return frozenset([_PLAIN[annotation]]) if annotation in _PLAIN else None
    except TypeError:  # an unhashable annotation
        return None


def field_check(annotation: Any) -> Callable[[Any], Any]:
    """The check of a response field's type: the value unchanged (a naive time made UTC,
    as ``rendering`` serves it) when pydantic would take it as it is, else ``Unvouched``.
    A type with no check here is a ``TypeError`` when the shape is made, so a new field
    type cannot slip past."""
    if get_origin(annotation) in (Union, UnionType):
        args = [a for a in get_args(annotation) if a is not NoneType]
        if len(args) == 1 and len(get_args(annotation)) == 2:
            return _optional(field_check(args[0]))
    if get_origin(annotation) is Literal and all(type(a) is str for a in get_args(annotation)):
        return _choice(frozenset(get_args(annotation)))
    try:
        return _CHECKS[annotation]
    except (KeyError, TypeError):
        raise TypeError(f"no fast check for a field of type {annotation!r}") from None


class RowShape:
    """How a driver row of ``json_columns(table)`` fills ``model``'s fields.

    Each field is read from the column of its name.  ``null_is_default``: the fields a
    null column leaves at the model's default (as ``rendering`` drops them);
    ``extra``: the fields the row does not fill, given to ``values`` (each checked, but
    for a field of a type with no check, such as ``Persona.sources``: the caller's own
    checked values)."""

    def __init__(
        self,
        model: type[BaseModel],
        table: Table,
        dialect: Dialect,
        *,
        null_is_default: frozenset[str] = frozenset(),
        extra: frozenset[str] = frozenset(),
    ) -> None:
        index = {c.name: i for i, c in enumerate(table.c)}
        self._fields: list[_Field] = []
        for name, info in model.model_fields.items():
            if name in extra:
                try:
                    check = field_check(info.annotation)
                except TypeError:
                    check = _trusted
                self._fields.append(_Field(name, -1, None, False, _KEEP_NULL, None, check))
                continue
            column = table.c[name]
            is_json = isinstance(column.type, JSON)  # read as its text: ``stored_json`` decodes
            if_null: Callable[[], Any] | object = _KEEP_NULL
            if name in null_is_default and not info.is_required():
                if_null = info.default_factory or (lambda default=info.default: default)
            self._fields.append(
                _Field(
                    name,
                    index[column.name],
                    None if is_json else column.type._cached_result_processor(dialect, None),
                    is_json,
                    if_null,
                    plain_types(info.annotation),
                    field_check(info.annotation),
                )
            )

    def values(self, row: Sequence[Any], extra: Mapping[str, Any] = _NO_EXTRA) -> dict[str, Any]:
        """The model's fields of ``row`` in its order (``extra`` gives the rest), each the
        value the model would hold; ``Unvouched`` when the model or ``servable`` would
        change one."""
        out: dict[str, Any] = {}
        for name, column, processor, is_json, if_null, types, check in self._fields:
            if column < 0:
                out[name] = check(extra[name])
                continue
            value = row[column]
            if processor is not None:
                try:
                    value = processor(value)
                except (TypeError, ValueError):  # the canonical read fails as it always has
                    raise Unvouched from None
            elif is_json and value is not None:
                if type(value) is not str:
                    raise Unvouched
                try:
                    value, clean = stored_json(value)
                except (ValueError, RecursionError):  # not JSON: the canonical read says so
                    raise Unvouched from None
                if not clean:
                    raise Unvouched
            if value is None and if_null is not _KEEP_NULL:
                value = if_null()  # type: ignore[operator]
            if types is None:
                out[name] = check(value)
            elif type(value) in types:
                out[name] = value
            else:
                raise Unvouched
        return out


class _Field(NamedTuple):
    name: str
    column: int  # its index in the row; -1: given by the caller
    processor: Callable[[Any], Any] | None  # SQLAlchemy's, for the dialect
    is_json: bool  # a JSON column read as its text
    if_null: Callable[[], Any] | object  # the default a null stands for, or _KEEP_NULL
    types: frozenset[type] | None  # ``plain_types``: the check is the type alone
    check: Callable[[Any], Any]


def _trusted(value: Any) -> Any:
    return value

"""ruamel's safe loader for one document: its class built once, its cycles broken after.

With the C parser (ruamel.yaml.clib) the constructor, parser and resolver of
``YAML(typ="safe")`` are one object of a class ruamel builds on every call; ``opened``
builds the class once and instantiates it per document.  That object is its own parser,
composer, constructor and resolver, each kept as an attribute of itself: when the
``with`` block ends, ``opened`` disposes of the parser and breaks those cycles, so the
loader (and its C parser's buffers) is freed at once instead of waiting for the cyclic
collector, which a bulk load pauses (about 18 KB a file).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ruamel.yaml import YAML

_LOADER_CLASS: list[type] = []


@contextlib.contextmanager
def opened(text: str) -> Iterator[tuple[Any, Any, Any]]:
    """The constructor, parser and resolver of ``YAML(typ="safe")`` for ``text``, for
    the ``with`` block (see the module docstring)."""
    parts = _loader(text)
    try:
        yield parts
    finally:
        parts[1].dispose()
        _release(parts)


def _loader(text: str) -> tuple[Any, Any, Any]:
    if _LOADER_CLASS:
        made = _LOADER_CLASS[0](text)
        return made, made, made
    yaml = YAML(typ="safe")
    constructor, parser = yaml.get_constructor_parser(text)
    if constructor is parser and hasattr(constructor, "resolve"):
        _LOADER_CLASS.append(type(constructor))
    resolver = constructor if hasattr(constructor, "resolve") else yaml.resolver
    return constructor, parser, resolver


def _release(parts: tuple[Any, ...]) -> None:
    """Break the reference cycles of a used loader's ``parts``."""
    for part in {id(p): p for p in parts}.values():
        state = getattr(part, "__dict__", None)
        if isinstance(state, dict):
            state.clear()

"""ruamel's safe loader for one document: its class built once, its cycles broken after.

With the C parser (ruamel.yaml.clib) the constructor, parser and resolver of
``YAML(typ="safe")`` are one object of a class ruamel builds on every call; ``loader``
builds the class once and instantiates it per document.  That object is its own parser,
composer, constructor and resolver, each kept as an attribute of itself: ``release``
breaks those cycles when a parse ends, so the loader (and its C parser's buffers) is
freed at once instead of waiting for the cyclic collector, which a bulk load pauses
(about 18 KB a file).
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML

_LOADER_CLASS: list[type] = []


def loader(text: str) -> tuple[Any, Any, Any]:
    """The constructor, parser and resolver of ``YAML(typ="safe")`` for ``text``."""
    if _LOADER_CLASS:
        made = _LOADER_CLASS[0](text)
        return made, made, made
    yaml = YAML(typ="safe")
    constructor, parser = yaml.get_constructor_parser(text)
    if constructor is parser and hasattr(constructor, "resolve"):
        _LOADER_CLASS.append(type(constructor))
    resolver = constructor if hasattr(constructor, "resolve") else yaml.resolver
    return constructor, parser, resolver


def release(parts: list[Any]) -> None:
    """Break the reference cycles of a used loader's ``parts`` (see the module docstring)."""
    for part in {id(p): p for p in parts}.values():
        state = getattr(part, "__dict__", None)
        if isinstance(state, dict):
            state.clear()

"""Where a value is in a composed YAML document: the line and column a problem points at,
and the node at a path of keys and indexes (``("rag", "top_k")``)."""

from __future__ import annotations

from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode


def at_mark(mark: Any) -> tuple[int, int]:
    """Line and column (1-based) of a parser mark; (1, 1) without one."""
    if mark is None:
        return (1, 1)
    return (mark.line + 1, mark.column + 1)


def node_mark(node: Node | None) -> tuple[int, int]:
    """Line and column (1-based) where ``node`` starts; (1, 1) without one."""
    return at_mark(None if node is None else node.start_mark)


def locate(node: Node | None, loc: tuple[str | int, ...], *, key: bool = False) -> tuple[int, int]:
    """Line and column (1-based) of the value at ``loc``, or of its key when ``key``.

    Falls back to the nearest existing parent when ``loc`` is missing.
    """
    current = node
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(current, MappingNode):
            # the last of repeated keys: the value a document with duplicates is read with
            for k, v in reversed(current.value):
                if isinstance(k, ScalarNode) and k.value == str(part):
                    current = k if (last and key) else v
                    break
            else:
                return node_mark(current)
        elif isinstance(current, SequenceNode) and isinstance(part, int):
            if 0 <= part < len(current.value):
                current = current.value[part]
            else:
                return node_mark(current)
        else:
            return node_mark(current)
    return node_mark(current)


def value_node(node: Node | None, loc: tuple[str | int, ...]) -> Node | None:
    """The node of the value at ``loc``, or None."""
    current = node
    for part in loc:
        if isinstance(current, MappingNode):
            current = next(
                (
                    v
                    for k, v in reversed(current.value)
                    if isinstance(k, ScalarNode) and k.value == str(part)
                ),
                None,
            )
        elif isinstance(current, SequenceNode) and isinstance(part, int):
            current = current.value[part] if 0 <= part < len(current.value) else None
        else:
            return None
    return current

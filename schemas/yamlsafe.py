"""Bounded YAML parsing that keeps node positions.

Files come from pull requests, so parsing is defensive: a size cap, a cap on
the size of the document once aliases are expanded (alias bombs), a nesting
cap, and duplicate keys reported with their line instead of "last one wins".
The composed node tree is kept so validation errors can point at a line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from schemas.problems import Problem

MAX_YAML_BYTES = 256 * 1024
MAX_EXPANDED_NODES = 20_000
MAX_DEPTH = 40


@dataclass
class ParsedYaml:
    """A YAML document as Python data plus the node tree it came from."""

    data: Any
    node: Node | None


class YamlRefused(Exception):
    """The document was refused; ``problem`` says where and why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _mark(node: Node | None) -> tuple[int, int]:
    if node is None or node.start_mark is None:
        return (1, 1)
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _expanded_size(root: Node, path: str) -> None:
    """Refuse documents whose alias-expanded size or depth is out of bounds."""
    sizes: dict[int, int] = {}

    def size(node: Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise YamlRefused(
                Problem(path, *_mark(node), f"nesting deeper than {MAX_DEPTH} levels")
            )
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # guards against recursive aliases while in progress
        total = 1
        if isinstance(node, MappingNode):
            for key, value in node.value:
                total += size(key, depth + 1) + size(value, depth + 1)
        elif isinstance(node, SequenceNode):
            for item in node.value:
                total += size(item, depth + 1)
        if total > MAX_EXPANDED_NODES:
            raise YamlRefused(
                Problem(
                    path,
                    *_mark(node),
                    f"document expands to more than {MAX_EXPANDED_NODES:,} nodes "
                    "(alias bomb?); refused",
                    code="yaml_too_large",
                )
            )
        sizes[id(node)] = total
        return total

    size(root, 0)


def _duplicate_keys(node: Node, path: str, seen_nodes: set[int] | None = None) -> list[Problem]:
    seen_nodes = set() if seen_nodes is None else seen_nodes
    if id(node) in seen_nodes:
        return []
    seen_nodes.add(id(node))
    problems: list[Problem] = []
    if isinstance(node, MappingNode):
        first: dict[Any, Node] = {}
        for key, value in node.value:
            if isinstance(key, ScalarNode):
                if key.value in first:
                    line, _ = _mark(first[key.value])
                    problems.append(
                        Problem(
                            path,
                            *_mark(key),
                            f"duplicate key '{key.value}' (first defined on line {line})",
                            code="duplicate_key",
                        )
                    )
                else:
                    first[key.value] = key
            problems += _duplicate_keys(value, path, seen_nodes)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            problems += _duplicate_keys(item, path, seen_nodes)
    return problems


def parse_yaml(raw: bytes, path: str) -> ParsedYaml:
    """Parse one YAML document safely; raise ``YamlRefused`` with a located problem."""
    if len(raw) > MAX_YAML_BYTES:
        raise YamlRefused(
            Problem(
                path,
                1,
                1,
                f"file is {len(raw):,} bytes; the limit is {MAX_YAML_BYTES:,} bytes",
                code="file_too_large",
            )
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise YamlRefused(
            Problem(path, line, 1, "file is not valid UTF-8", code="encoding")
        ) from None
    yaml = YAML(typ="safe")  # the C parser (ruamel.yaml.clib) when installed
    try:
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        raise YamlRefused(
            Problem(path, line, col, f"malformed YAML: {message}", code="yaml")
        ) from None
    except YAMLError as exc:
        raise YamlRefused(Problem(path, 1, 1, f"malformed YAML: {exc}", code="yaml")) from None
    if node is None:
        return ParsedYaml(data=None, node=None)
    _expanded_size(node, path)
    dupes = _duplicate_keys(node, path)
    if dupes:
        raise YamlRefused(dupes[0])
    try:
        data = yaml.constructor.construct_document(node)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlRefused(
            Problem(path, line, col, f"invalid YAML value: {exc.problem}", code="yaml")
        ) from None
    return ParsedYaml(data=data, node=node)


def locate(node: Node | None, loc: tuple[str | int, ...], *, key: bool = False) -> tuple[int, int]:
    """Line and column (1-based) of the value at ``loc``, or of its key when ``key``.

    Falls back to the nearest existing parent when ``loc`` is missing.
    """
    current = node
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(current, MappingNode):
            for k, v in current.value:
                if isinstance(k, ScalarNode) and k.value == str(part):
                    current = k if (last and key) else v
                    break
            else:
                return _mark(current)
        elif isinstance(current, SequenceNode) and isinstance(part, int):
            if 0 <= part < len(current.value):
                current = current.value[part]
            else:
                return _mark(current)
        else:
            return _mark(current)
    return _mark(current)


def value_node(node: Node | None, loc: tuple[str | int, ...]) -> Node | None:
    """The node of the value at ``loc``, or None."""
    current = node
    for part in loc:
        if isinstance(current, MappingNode):
            current = next(
                (v for k, v in current.value if isinstance(k, ScalarNode) and k.value == str(part)),
                None,
            )
        elif isinstance(current, SequenceNode) and isinstance(part, int):
            current = current.value[part] if 0 <= part < len(current.value) else None
        else:
            return None
    return current

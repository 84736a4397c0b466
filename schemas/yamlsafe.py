"""Bounded YAML parsing that keeps node positions and yields JSON values only.

Files come from pull requests, so parsing is defensive: a size cap, a nesting
cap, a cap on the size of the document once aliases are expanded (alias
bombs), recursive aliases refused, duplicate keys reported with their line
instead of "last one wins", and only values JSON can carry (strings, numbers,
booleans, null, lists, maps with string keys) accepted: dates, ``!!set``,
``!!binary``, non-string keys and ``.inf``/``.nan`` are refused where they
stand.  The composed node tree is kept so validation errors can point at a line.

The node tree is composed here, iteratively, from the C parser's event stream:
libyaml's parser keeps its own stacks, but the C composer recurses once per
nesting level and overflows the C stack on deep input (a 100 KB ``[[[[…``
killed the process).  Composing from events lets the nesting cap act at the
event that crosses it, before any recursion can happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from schemas.jsonvalue import dotted, json_problems
from schemas.problems import Problem

MAX_YAML_BYTES = 256 * 1024
MAX_EXPANDED_NODES = 20_000
MAX_DEPTH = 40
# Longer digit strings are far outside 64 bits, and Python refuses to convert
# more than 4,300 digits: refuse them before construction.
MAX_INT_CHARS = 40

_YAML_TAG = "tag:yaml.org,2002:"
_JSON_SCALAR_TAGS = frozenset(_YAML_TAG + t for t in ("str", "int", "float", "bool", "null"))
_STR_TAG = _YAML_TAG + "str"
_INT_TAG = _YAML_TAG + "int"
_MERGE_TAG = _YAML_TAG + "merge"
_SEQ_TAG = _YAML_TAG + "seq"
_MAP_TAG = _YAML_TAG + "map"
_TIMESTAMP_TAG = _YAML_TAG + "timestamp"
_TAG_MEANINGS = {
    "timestamp": "a date or time",
    "binary": "binary data",
    "set": "a set",
    "omap": "an ordered map",
    "pairs": "a list of pairs",
}
_JSON_ONLY = "only JSON values are allowed (strings, numbers, booleans, null, lists, maps)"


@dataclass
class ParsedYaml:
    """A YAML document as Python data plus the node tree it came from."""

    data: Any
    node: Node | None


class YamlRefused(Exception):
    """The document was refused; ``problems`` say where and why (``problem`` is the first)."""

    def __init__(self, problems: Problem | list[Problem]) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        self.problem = self.problems[0]
        super().__init__(str(self.problem))


def _at(mark: Any) -> tuple[int, int]:
    if mark is None:
        return (1, 1)
    return (mark.line + 1, mark.column + 1)


def _mark(node: Node | None) -> tuple[int, int]:
    return _at(None if node is None else node.start_mark)


def _refuse(path: str, mark: Any, message: str, code: str = "yaml") -> YamlRefused:
    return YamlRefused(Problem(path, *_at(mark), message, code=code))


class _Composition:
    """The node tree being built from events: open collections, anchors, the root.

    It also keeps, per finished collection, its height and its size with aliases
    expanded, so an alias that nests too deep or expands too far (an alias bomb)
    is refused at the alias itself.
    """

    def __init__(self, path: str, resolver: Any) -> None:
        self.path = path
        self.resolver = resolver
        self.root: Node | None = None
        self.documents = 0
        self.expanded = 0
        self.anchors: dict[str, Node] = {}
        # Open collections, outermost first, each with its pending mapping key.
        self.open: list[tuple[Node, list[Node]]] = []
        self.open_ids: set[int] = set()
        self.heights: dict[int, int] = {}
        self.sizes: dict[int, int] = {}

    def attach(self, node: Node) -> None:
        if not self.open:
            self.root = node
            return
        parent, pending_key = self.open[-1]
        if isinstance(parent, SequenceNode):
            parent.value.append(node)
        elif pending_key:
            parent.value.append((pending_key.pop(), node))
        else:
            pending_key.append(node)

    def count(self, nodes: int, height: int, mark: Any) -> None:
        """Account for a subtree of ``nodes`` nodes and ``height`` levels placed here."""
        self.expanded += nodes
        if self.expanded > MAX_EXPANDED_NODES:
            raise _refuse(
                self.path,
                mark,
                f"document expands to more than {MAX_EXPANDED_NODES:,} nodes "
                "(alias bomb?); refused",
                "yaml_too_large",
            )
        if len(self.open) + height > MAX_DEPTH:
            raise _refuse(
                self.path, mark, f"nesting deeper than {MAX_DEPTH} levels", "yaml_too_deep"
            )

    def alias(self, event: AliasEvent) -> None:
        node = self.anchors.get(event.anchor)
        if node is None:
            raise _refuse(self.path, event.start_mark, f"alias '*{event.anchor}' has no anchor")
        if id(node) in self.open_ids:
            raise _refuse(
                self.path,
                event.start_mark,
                f"alias '*{event.anchor}' refers to a collection that contains it "
                "(a recursive alias); refused",
                "yaml_recursive_alias",
            )
        self.count(self.sizes.get(id(node), 1), self.heights.get(id(node), 0), event.start_mark)
        self.attach(node)

    def start(self, event: Any) -> None:
        self.count(1, 0, event.start_mark)
        tag = event.ctag
        node: Node
        if isinstance(event, ScalarEvent):
            if tag is None or str(tag) == "!":
                tag = self.resolver.resolve(ScalarNode, event.value, event.implicit)
            node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        else:
            kind = SequenceNode if isinstance(event, SequenceStartEvent) else MappingNode
            if tag is None or str(tag) == "!":
                tag = self.resolver.resolve(kind, None, event.implicit)
            node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        node.anchor = event.anchor
        if event.anchor is not None:
            self.anchors[event.anchor] = node
        self.attach(node)
        if not isinstance(node, ScalarNode):
            self.open.append((node, []))
            self.open_ids.add(id(node))

    def end(self, event: Any) -> None:
        node, _ = self.open.pop()
        self.open_ids.discard(id(node))
        node.end_mark = event.end_mark
        children = (
            [n for pair in node.value for n in pair]
            if isinstance(node, MappingNode)
            else node.value
        )
        self.heights[id(node)] = 1 + max((self.heights.get(id(c), 0) for c in children), default=0)
        self.sizes[id(node)] = 1 + sum(self.sizes.get(id(c), 1) for c in children)

    def document(self, event: Any) -> None:
        self.documents += 1
        if self.documents > 1:
            raise _refuse(
                self.path,
                event.start_mark,
                "a second YAML document ('---'); a persona file holds exactly one",
            )
        self.anchors = {}


def _compose(parser: Any, resolver: Any, path: str) -> Node | None:
    """The single document of ``parser``'s event stream as a node tree, built without
    recursion; nesting, node count and recursive aliases are refused as they appear."""
    state = _Composition(path, resolver)
    while True:
        event = parser.get_event()
        if isinstance(event, StreamEndEvent):
            return state.root
        if isinstance(event, ScalarEvent | SequenceStartEvent | MappingStartEvent):
            state.start(event)
        elif isinstance(event, CollectionEndEvent):
            state.end(event)
        elif isinstance(event, AliasEvent):
            state.alias(event)
        elif isinstance(event, DocumentStartEvent):
            state.document(event)
        elif not isinstance(event, StreamStartEvent | DocumentEndEvent):
            raise _refuse(path, event.start_mark, f"unexpected YAML event {type(event).__name__}")


def _each_node(root: Node) -> list[Node]:
    """Every distinct node of the tree (aliased nodes once), in document order."""
    seen: set[int] = set()
    found: list[Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found.append(node)
        if isinstance(node, MappingNode):
            stack += [n for pair in reversed(node.value) for n in reversed(pair)]
        elif isinstance(node, SequenceNode):
            stack += reversed(node.value)
    return found


def _duplicate_keys(root: Node, path: str) -> list[Problem]:
    problems: list[Problem] = []
    for node in _each_node(root):
        if not isinstance(node, MappingNode):
            continue
        first: dict[Any, Node] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode):
                continue
            if key.value in first and key.tag != _MERGE_TAG:
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
                first.setdefault(key.value, key)
    return problems


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_YAML_TAG) if tag.startswith(_YAML_TAG) else tag


def _tag_problem(node: Node) -> str | None:
    """Why this node's tag cannot become a JSON value, or None."""
    tag = node.tag or ""
    if isinstance(node, ScalarNode):
        if tag in _JSON_SCALAR_TAGS:
            if tag == _INT_TAG and len(node.value) > MAX_INT_CHARS:
                return "integer out of the 64-bit range"
            return None
        if tag == _TIMESTAMP_TAG:
            return f"'{node.value}' is read as a date or time; quote it to keep it text"
    elif tag == (_SEQ_TAG if isinstance(node, SequenceNode) else _MAP_TAG):
        return None
    meaning = _TAG_MEANINGS.get(tag.removeprefix(_YAML_TAG), "a tagged value")
    return f"{meaning} ({_short_tag(tag)}) is not allowed; {_JSON_ONLY}"


def _key_problem(key: Node) -> str | None:
    """Why this mapping key is not a JSON map key, or None."""
    if isinstance(key, ScalarNode):
        if key.tag in (_STR_TAG, _MERGE_TAG):
            return None
        if key.tag in _JSON_SCALAR_TAGS:
            return f"map key '{key.value}' is not a string; quote it (JSON map keys are strings)"
        return None  # an unusual tag: reported by the tag check
    return "a list or map cannot be a map key; JSON map keys are strings"


def _shape_problems(root: Node, path: str) -> list[Problem]:
    """Nodes that would not construct to JSON values: foreign tags, non-string keys."""
    problems: list[Problem] = []
    nodes = _each_node(root)
    merge_keys = {  # ``<<: *defaults`` merges maps: allowed as a key, nowhere else
        id(key)
        for node in nodes
        if isinstance(node, MappingNode)
        for key, _ in node.value
        if key.tag == _MERGE_TAG
    }
    for node in nodes:
        message = None if id(node) in merge_keys else _tag_problem(node)
        if message is not None:
            problems.append(Problem(path, *_mark(node), message, code="json_value"))
        if isinstance(node, MappingNode):
            for key, _ in node.value:
                message = _key_problem(key)
                if message is not None:
                    problems.append(Problem(path, *_mark(key), message, code="json_value"))
    return problems


def _value_problems(data: Any, root: Node, path: str) -> list[Problem]:
    """Constructed values JSON cannot carry (NaN, Infinity, huge integers, NUL), located."""
    return [
        Problem(path, *locate(root, loc), f"{dotted(loc)}: {message}", code="json_value")
        for loc, message in json_problems(data, max_depth=MAX_DEPTH, max_nodes=MAX_EXPANDED_NODES)
    ]


def _decode(raw: bytes, path: str) -> str:
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
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise YamlRefused(
            Problem(path, line, 1, "file is not valid UTF-8", code="encoding")
        ) from None


def _syntax_problem(exc: YAMLError, path: str) -> Problem:
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        return Problem(path, *_at(mark), f"malformed YAML: {message}", code="yaml")
    return Problem(path, 1, 1, f"malformed YAML: {exc}", code="yaml")


def parse_yaml(raw: bytes, path: str) -> ParsedYaml:
    """Parse one YAML document safely into JSON values; raise ``YamlRefused`` with
    located problems.  No input, of any shape, raises anything else."""
    text = _decode(raw, path)
    yaml = YAML(typ="safe")  # the C parser (ruamel.yaml.clib) when installed
    parser = None
    try:
        constructor, parser = yaml.get_constructor_parser(text)
        resolver = constructor if hasattr(constructor, "resolve") else yaml.resolver
        node = _compose(parser, resolver, path)
    except YAMLError as exc:
        raise YamlRefused(_syntax_problem(exc, path)) from None
    except YamlRefused:
        raise
    except Exception as exc:  # the last line of defence: a refusal, never a crash
        raise YamlRefused(Problem(path, 1, 1, f"unreadable YAML: {exc}", code="yaml")) from None
    finally:
        if parser is not None:
            parser.dispose()
    if node is None:
        return ParsedYaml(data=None, node=None)
    refused = _duplicate_keys(node, path) or _shape_problems(node, path)
    if refused:
        raise YamlRefused(refused)
    try:
        data = constructor.construct_document(node)
    except MarkedYAMLError as exc:
        where = _at(exc.problem_mark) if exc.problem_mark else _mark(node)
        raise YamlRefused(
            Problem(path, *where, f"invalid YAML value: {exc.problem}", code="yaml")
        ) from None
    except Exception as exc:  # e.g. ``!!bool maybe``: a refusal, never a crash
        raise YamlRefused(
            Problem(path, *_mark(node), f"invalid YAML value: {exc}", code="yaml")
        ) from None
    refused = _value_problems(data, node, path)
    if refused:
        raise YamlRefused(refused)
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

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

import contextlib
from dataclasses import dataclass
from typing import Any

from personas_as_code.schemas.jsonvalue import dotted, json_problems
from personas_as_code.schemas.problems import Problem
from personas_as_code.untrusted.yaml_loader import opened
from personas_as_code.untrusted.yaml_paths import at_mark, locate, node_mark
from personas_as_code.untrusted.yaml_plain import compose_plain, implicit_resolvers, shared_tag
from personas_as_code.untrusted.yaml_tags import (
    MERGE_TAG,
    STR_TAG,
    key_problem,
    short_tag,
    tag_problem,
)
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

MAX_YAML_BYTES = 256 * 1024
MAX_EXPANDED_NODES = 20_000
MAX_DEPTH = 40


@dataclass
class ParsedYaml:
    """A YAML document as Python data plus the node tree it came from."""

    data: Any
    node: Node | None


class YamlRefused(Exception):
    """The document was refused; ``problems`` say where and why (``problem`` is the first).

    ``partial``: when the only problems are duplicate keys, what the document holds
    anyway (a repeated key keeps its last value), so a validator can report the file's
    other problems in the same run, as an editor does; None otherwise.
    """

    def __init__(
        self, problems: Problem | list[Problem], *, partial: ParsedYaml | None = None
    ) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        self.problem = self.problems[0]
        self.partial = partial
        super().__init__(str(self.problem))


def _refuse(path: str, mark: Any, message: str, code: str = "yaml") -> YamlRefused:
    return YamlRefused(Problem(path, *at_mark(mark), message, code=code))


class _Open:
    """A collection being composed: its pending mapping key, and its size (aliases
    expanded) and height so far."""

    __slots__ = ("height", "key", "node", "size")

    def __init__(self, node: Node) -> None:
        self.node = node
        self.key: Node | None = None
        self.size = 1
        self.height = 0


class _Composition:
    """The node tree being built from events: open collections, anchors, the root.

    It keeps the size (aliases expanded) and the height of every finished
    collection, so an alias that nests too deep or expands too far (an alias
    bomb) is refused at the alias itself, and it lists every distinct node with
    its tag, in document order, for the checks that follow.
    """

    def __init__(self, path: str, resolver: Any) -> None:
        self.path = path
        self.resolver = resolver
        self.implicit = implicit_resolvers(resolver)
        self.root: Node | None = None
        self.documents = 0
        self.expanded = 0
        self.anchors: dict[str, Node] = {}
        self.open: list[_Open] = []  # outermost first
        self.open_ids: set[int] = set()
        self.finished: dict[int, tuple[int, int]] = {}  # id -> (size, height)
        self.nodes: list[tuple[Node, str]] = []
        self.aliased = False

    def place(self, node: Node, size: int, height: int, mark: Any) -> None:
        """Put ``node`` (``size`` nodes, ``height`` levels) into the open collection."""
        self.expanded += size
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
        if not self.open:
            self.root = node
            return
        parent = self.open[-1]
        parent.size += size
        parent.height = max(parent.height, height + 1)
        if isinstance(parent.node, SequenceNode):
            parent.node.value.append(node)
        elif parent.key is None:
            parent.key = node
        else:
            parent.node.value.append((parent.key, node))
            parent.key = None

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
        size, height = self.finished.get(id(node), (1, 0))
        self.aliased = True
        self.place(node, size, height, event.start_mark)

    def scalar(self, event: ScalarEvent) -> None:
        value = event.value
        tag = event.ctag
        name = None if tag is None else str(tag)
        if name is None or name == "!":
            name = STR_TAG
            if event.implicit[0]:  # what ``resolver.resolve`` does, without its overhead
                by_first, anywhere = self.implicit
                for candidate, match in by_first.get(value[:1], anywhere):
                    if match(value):
                        name = candidate
                        break
            tag = shared_tag(name)
        node = ScalarNode(tag, value, event.start_mark, event.end_mark, style=event.style)
        self.register(node, event.anchor, name)
        self.place(node, 1, 0, event.start_mark)

    def start(self, event: SequenceStartEvent | MappingStartEvent) -> None:
        sequence = isinstance(event, SequenceStartEvent)
        tag = event.ctag
        if tag is None or str(tag) == "!":
            tag = (
                self.resolver.DEFAULT_SEQUENCE_TAG
                if sequence
                else self.resolver.DEFAULT_MAPPING_TAG
            )
        kind = SequenceNode if sequence else MappingNode
        node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        self.register(node, event.anchor, str(node.ctag))
        self.place(node, 1, 0, event.start_mark)
        self.open.append(_Open(node))
        self.open_ids.add(id(node))

    def register(self, node: Node, anchor: str | None, tag: str) -> None:
        node.anchor = anchor
        if anchor is not None:
            self.anchors[anchor] = node
        self.nodes.append((node, tag))

    def end(self, event: Any) -> None:
        done = self.open.pop()
        self.open_ids.discard(id(done.node))
        done.node.end_mark = event.end_mark
        self.finished[id(done.node)] = (done.size, done.height)
        if self.open:  # the collection was counted as one node when it opened
            parent = self.open[-1]
            parent.size += done.size - 1
            parent.height = max(parent.height, done.height + 1)

    def document(self, event: Any) -> None:
        self.documents += 1
        if self.documents > 1:
            raise _refuse(
                self.path,
                event.start_mark,
                "a second YAML document ('---'); a persona file holds exactly one",
            )
        self.anchors = {}


def _compose(parser: Any, resolver: Any, path: str) -> _Composition:
    """The single document of ``parser``'s event stream as a node tree, built without
    recursion; nesting, size and recursive aliases are refused as they appear."""
    state = _Composition(path, resolver)
    while True:
        event = parser.get_event()
        kind = type(event)
        if kind is ScalarEvent:
            state.scalar(event)
        elif kind is SequenceStartEvent or kind is MappingStartEvent:
            state.start(event)
        elif isinstance(event, CollectionEndEvent):
            state.end(event)
        elif kind is AliasEvent:
            state.alias(event)
        elif kind is DocumentStartEvent:
            state.document(event)
        elif kind is StreamEndEvent:
            return state
        elif kind is not StreamStartEvent and kind is not DocumentEndEvent:
            raise _refuse(path, event.start_mark, f"unexpected YAML event {kind.__name__}")


def _duplicate_key(node: MappingNode, tags: dict[int, str], path: str) -> list[Problem]:
    problems: list[Problem] = []
    first: dict[str, Node] = {}
    for key, _ in node.value:
        if not isinstance(key, ScalarNode) or tags[id(key)] == MERGE_TAG:
            continue
        if key.value in first:
            line, _ = node_mark(first[key.value])
            problems.append(
                Problem(
                    path,
                    *node_mark(key),
                    f"duplicate key '{key.value}' (first defined on line {line})",
                    code="duplicate_key",
                )
            )
        else:
            first[key.value] = key
    return problems


def _content_problems(nodes: list[tuple[Node, str]], path: str) -> list[Problem]:
    """Duplicate keys, or else nodes that would not construct to JSON values: foreign
    tags and non-string keys (``<<`` merge keys are allowed)."""
    tags = {id(node): tag for node, tag in nodes}
    duplicates: list[Problem] = []
    shape: list[Problem] = []
    merge_keys: set[int] = set()
    for node, tag in nodes:
        if isinstance(node, MappingNode):
            duplicates += _duplicate_key(node, tags, path)
            for key, _ in node.value:
                key_tag = tags[id(key)]
                if key_tag == MERGE_TAG and isinstance(key, ScalarNode):
                    merge_keys.add(id(key))
                message = key_problem(key, key_tag)
                if message is not None:
                    shape.append(Problem(path, *node_mark(key), message, code="json_value"))
        message = None if id(node) in merge_keys else tag_problem(node, tag)
        if message is not None:
            shape.append(Problem(path, *node_mark(node), message, code="json_value"))
    return sorted(duplicates + shape, key=lambda p: (p.line, p.col))


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
        return Problem(path, *at_mark(mark), f"malformed YAML: {message}", code="yaml")
    return Problem(path, 1, 1, f"malformed YAML: {exc}", code="yaml")


def _unconstructible_scalar(nodes: list[tuple[Node, str]]) -> tuple[Node, str] | None:
    """The first tagged scalar that cannot be constructed (``!!int abc``), to point at."""
    with opened("") as (constructor, _parser, _resolver):
        for node, tag in nodes:
            if isinstance(node, ScalarNode) and tag != STR_TAG:
                try:
                    constructor.construct_object(node, deep=True)
                except Exception:
                    return node, tag
        return None


class _NeedsRuamel(Exception):
    """The document has a merge key: only ruamel's constructor flattens those."""


def _construct(composed: _Composition, constructor: Any) -> Any:
    """The Python value of the composed document: built here from the node tree for
    plain documents (the same values ruamel's ``construct_document`` gives, each
    scalar through ruamel's constructor for its tag), by ruamel when the document
    has aliases or merge keys (shared objects, flattening)."""
    root = composed.root
    assert root is not None  # parse_yaml returns before on an empty document
    if not composed.aliased:
        tags = {id(node): tag for node, tag in composed.nodes}
        scalars = constructor.yaml_constructors
        try:
            return _build(root, tags, scalars, constructor)
        except _NeedsRuamel:
            pass
    return constructor.construct_document(root)


def _build(node: Node, tags: dict[int, str], scalars: Any, constructor: Any) -> Any:
    """One node's value (recursion is bounded: the tree is at most MAX_DEPTH deep)."""
    if isinstance(node, ScalarNode):
        tag = tags[id(node)]
        return node.value if tag == STR_TAG else scalars[tag](constructor, node)
    if isinstance(node, SequenceNode):
        return [_build(item, tags, scalars, constructor) for item in node.value]
    mapping = {}
    for key, value in node.value:
        if tags[id(key)] == MERGE_TAG:
            raise _NeedsRuamel
        mapping[key.value] = _build(value, tags, scalars, constructor)
    return mapping


def _despite_duplicates(
    refused: list[Problem], composed: _Composition, constructor: Any
) -> ParsedYaml | None:
    """The document's values when ``refused`` holds only duplicate keys and the rest
    constructs to JSON values (a repeated key keeps its last value); None otherwise."""
    if composed.root is None or any(p.code != "duplicate_key" for p in refused):
        return None
    try:
        data = _construct(composed, constructor)
    except Exception:  # ruamel refuses duplicates itself (aliases, merge keys): no partial
        return None
    if _value_problems(data, composed.root, ""):
        return None
    return ParsedYaml(data=data, node=composed.root)


def parse_yaml(raw: bytes, path: str) -> ParsedYaml:
    """Parse one YAML document safely into JSON values; raise ``YamlRefused`` with
    located problems.  No input, of any shape, raises anything else.

    A plain document (``untrusted.yaml_plain``) is read in one pass; any other is read
    again on the reference path, which refuses and locates what is wrong."""
    text = _decode(raw, path)
    try:
        with opened(text) as (constructor, parser, resolver):
            plain = compose_plain(
                parser, resolver, constructor, max_depth=MAX_DEPTH, max_nodes=MAX_EXPANDED_NODES
            )
    except Exception:  # the reference path below refuses whatever this is
        plain = None
    if plain is not None:
        return ParsedYaml(data=plain[0], node=plain[1])
    return _parse_reference(text, path)


def parse_yaml_reference(raw: bytes, path: str) -> ParsedYaml:
    """``parse_yaml`` without its fast path: every document composed node by node and
    every check run (tests compare the two)."""
    return _parse_reference(_decode(raw, path), path)


def _parse_reference(text: str, path: str) -> ParsedYaml:
    with contextlib.ExitStack() as stack:
        try:
            constructor, parser, resolver = stack.enter_context(opened(text))
            composed = _compose(parser, resolver, path)
        except YAMLError as exc:
            raise YamlRefused(_syntax_problem(exc, path)) from None
        except YamlRefused:
            raise
        except Exception as exc:  # the last line of defence: a refusal, never a crash
            problem = Problem(path, 1, 1, f"unreadable YAML: {exc}", code="yaml")
            raise YamlRefused(problem) from None
        return _constructed(composed, constructor, path)


def _constructed(composed: _Composition, constructor: Any, path: str) -> ParsedYaml:
    """The values of a composed document, or ``YamlRefused`` with what is wrong."""
    node = composed.root
    if node is None:
        return ParsedYaml(data=None, node=None)
    refused = _content_problems(composed.nodes, path)
    if refused:
        raise YamlRefused(refused, partial=_despite_duplicates(refused, composed, constructor))
    try:
        data = _construct(composed, constructor)
    except MarkedYAMLError as exc:
        where = at_mark(exc.problem_mark) if exc.problem_mark else node_mark(node)
        raise YamlRefused(
            Problem(path, *where, f"invalid YAML value: {exc.problem}", code="yaml")
        ) from None
    except Exception as exc:  # e.g. ``!!bool maybe``: a refusal, never a crash
        culprit = _unconstructible_scalar(composed.nodes)
        if culprit is None:
            raise YamlRefused(
                Problem(path, *node_mark(node), f"invalid YAML value: {exc}", code="yaml")
            ) from None
        bad, tag = culprit
        message = f"'{bad.value}' is not a valid {short_tag(tag)} value"
        raise YamlRefused(Problem(path, *node_mark(bad), message, code="yaml")) from None
    refused = _value_problems(data, node, path)
    if refused:
        raise YamlRefused(refused)
    return ParsedYaml(data=data, node=node)

"""The fast path of bounded YAML parsing: a plain document composed and constructed in one
pass over the C parser's events.

Most persona files are plain: one document of strings, numbers, booleans and null in
maps with string keys and lists, no tags, anchors, aliases, merge keys, directives or
duplicate keys, within the size and nesting bounds.  For those, one loop builds the node
tree (kept for locating problems later) and the Python values together, checking every
value JSON must carry (no NaN/Infinity, 64-bit integers, no NUL or lone surrogate).

Anything else (anything that *could* lead to a problem or a different value) makes
``compose_plain`` give up and return None, and the caller parses the file again on the
reference path (``untrusted.yaml``), which refuses and locates it.  So this path never
reports a problem: it only accepts documents the reference path accepts, with the same
values and the same nodes.  A bound crossed here (nesting, node count) is a give-up too,
at the event that crosses it, so hostile input costs no more than before.
"""

from __future__ import annotations

import math
from typing import Any

from personas_as_code.untrusted.yaml_tags import MAX_INT_CHARS, STR_TAG, YAML_TAG
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.tag import Tag

INT_TAG = YAML_TAG + "int"
FLOAT_TAG = YAML_TAG + "float"
NULL_TAG = YAML_TAG + "null"
_CONSTRUCTED = frozenset(YAML_TAG + t for t in ("int", "float", "bool", "null"))
_INT64 = 2**63

Implicit = tuple[dict[str, tuple[tuple[str, Any], ...]], tuple[tuple[str, Any], ...]]
_IMPLICIT: dict[Any, Implicit] = {}
_TAGS: dict[str, Tag] = {}


def implicit_resolvers(resolver: Any) -> Implicit:
    """The resolver's implicit candidates, (tag, the ``match`` of its regexp), by a
    scalar's first character (``""`` for the empty scalar) and for any character, in the
    order ``resolver.resolve`` tries them; built once per YAML version.  ruamel's regexps
    are lazy proxies: their ``match`` is taken once here, not at every scalar."""
    version = resolver.processing_version
    cached = _IMPLICIT.get(version)
    if cached is None:
        table = resolver.versioned_resolver
        anywhere = tuple((str(tag), regexp.match) for tag, regexp in table.get(None, []))
        by_first = {
            first: tuple((str(tag), regexp.match) for tag, regexp in candidates) + anywhere
            for first, candidates in table.items()
            if first is not None
        }
        by_first[""] = tuple((str(t), r.match) for t, r in table.get("", [])) + anywhere
        cached = _IMPLICIT[version] = (by_first, anywhere)
    return cached


def shared_tag(name: str) -> Tag:
    """One shared ``Tag`` per name: ruamel decodes a tag's text once per ``Tag`` object."""
    tag = _TAGS.get(name)
    if tag is None:
        tag = _TAGS[name] = Tag(suffix=name)
    return tag


_new_node = object.__new__


def scalar_node(tag: Tag, value: str, start: Any, end: Any, style: Any) -> ScalarNode:
    """``ScalarNode(tag, value, start, end, style=style)`` without its two ``__init__``
    calls (a third of a plain file's reading); every slot is set as they set it."""
    node = _new_node(ScalarNode)
    node.ctag = tag
    node.value = value
    node.start_mark = start
    node.end_mark = end
    node.comment = None
    node.anchor = None
    node.style = style
    return node


class _GiveUp(Exception):
    """Not a plain document: the reference path decides."""


def _text_ok(text: str) -> bool:
    """No NUL and no lone surrogate (what ``json_problems`` asks of a string)."""
    if text.isascii():
        return "\x00" not in text
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _scalar_value(event: Any, node: ScalarNode, name: str, constructor: Any) -> Any:
    """The JSON value of a resolved, untagged scalar; gives up on anything else."""
    text = event.value
    if name == STR_TAG:
        if not _text_ok(text):
            raise _GiveUp
        return text
    if name == NULL_TAG:
        return None  # what ruamel's constructor gives every null scalar
    if name not in _CONSTRUCTED or (name == INT_TAG and len(text) > MAX_INT_CHARS):
        raise _GiveUp
    if name == INT_TAG and text.isascii() and text.isdigit() and (text[0] != "0" or text == "0"):
        value = int(text)  # a plain decimal: what ruamel's constructor gives, sooner
    else:
        value = constructor.yaml_constructors[name](constructor, node)
    if name == INT_TAG and not -_INT64 <= value < _INT64:
        raise _GiveUp
    if name == FLOAT_TAG and not math.isfinite(value):
        raise _GiveUp
    return value


def _key_node(event: Any, mapping: dict[str, Any], candidates: Any) -> ScalarNode:
    """The node of a mapping key that is a plain string not seen before; gives up on
    any other key (a non-string, a merge key, a duplicate, a NUL)."""
    key = event.value
    if event.implicit[0]:
        for _tag, match in candidates:
            if match(key):
                raise _GiveUp
    if key in mapping or not _text_ok(key):
        raise _GiveUp
    return scalar_node(_TAGS[STR_TAG], key, event.start_mark, event.end_mark, event.style)


def compose_plain(
    parser: Any, resolver: Any, constructor: Any, *, max_depth: int, max_nodes: int
) -> tuple[Any, Node] | None:
    """The value and node tree of ``parser``'s document when it is plain (see the module
    docstring) and within ``max_depth`` / ``max_nodes``; None otherwise."""
    try:
        return _compose(parser, resolver, constructor, max_depth, max_nodes)
    except (_GiveUp, YAMLError):
        return None
    except Exception:  # whatever it is, the reference path refuses it properly
        return None


def _compose(
    parser: Any, resolver: Any, constructor: Any, max_depth: int, max_nodes: int
) -> tuple[Any, Node] | None:
    by_first, anywhere = implicit_resolvers(resolver)
    tags = _TAGS
    shared_tag(STR_TAG)
    seq_tag, map_tag = resolver.DEFAULT_SEQUENCE_TAG, resolver.DEFAULT_MAPPING_TAG
    get_event = parser.get_event
    # open collections, outermost first: [node, container, pending key node or None]
    stack: list[list[Any]] = []
    root: tuple[Any, Node] | None = None
    documents = nodes = 0
    while True:
        event = get_event()
        kind = type(event)
        if kind is ScalarEvent or kind is SequenceStartEvent or kind is MappingStartEvent:
            nodes += 1
            if event.anchor is not None or nodes > max_nodes or len(stack) > max_depth:
                raise _GiveUp
            tag = event.ctag
            if tag is not None and str(tag) != "!":
                raise _GiveUp
            parent = stack[-1] if stack else None
            if parent is not None and parent[2] is None and type(parent[1]) is dict:
                # a mapping key: a plain string, not seen before in this mapping
                if kind is not ScalarEvent:
                    raise _GiveUp
                parent[2] = _key_node(event, parent[1], by_first.get(event.value[:1], anywhere))
                continue
            if kind is ScalarEvent:
                name = STR_TAG
                if event.implicit[0]:
                    for candidate, match in by_first.get(event.value[:1], anywhere):
                        if match(event.value):
                            name = candidate
                            break
                tag = tags.get(name) or shared_tag(name)
                start, end, style = event.start_mark, event.end_mark, event.style
                scalar = scalar_node(tag, event.value, start, end, style)
                value = _scalar_value(event, scalar, name, constructor)
                node: Node = scalar
            elif kind is SequenceStartEvent:
                flow = event.flow_style
                node = SequenceNode(seq_tag, [], event.start_mark, None, flow_style=flow)
                value = []
            else:
                flow = event.flow_style
                node = MappingNode(map_tag, [], event.start_mark, None, flow_style=flow)
                value = {}
            if parent is None:
                root = (value, node)
            elif type(parent[1]) is list:
                parent[0].value.append(node)
                parent[1].append(value)
            else:
                key_node = parent[2]
                parent[0].value.append((key_node, node))
                parent[1][key_node.value] = value
                parent[2] = None
            if kind is not ScalarEvent:
                stack.append([node, value, None])
        elif kind is SequenceEndEvent or kind is MappingEndEvent:
            stack.pop()[0].end_mark = event.end_mark
        elif kind is DocumentStartEvent:
            documents += 1
            if documents > 1 or event.version is not None or event.tags:
                raise _GiveUp
        elif kind is StreamEndEvent:
            return root
        elif kind is not StreamStartEvent and kind is not DocumentEndEvent:
            raise _GiveUp  # an alias, or anything unforeseen

"""The one-pass reading of plain YAML documents gives exactly what the reference path
gives (the same values, the same node tree with the same marks, the same refusals with
the same problems), on the bad-input corpus, the example repo, hostile shapes and
generated documents; and plain persona files do take it."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from personas_as_code.untrusted.yaml import (
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    ParsedYaml,
    YamlRefused,
    parse_yaml,
    parse_yaml_reference,
)
from personas_as_code.untrusted.yaml_plain import compose_plain, scalar_node
from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tests.repos import DATA, EXAMPLES

CORPUS = sorted(
    [
        *DATA.rglob("*.yaml"),
        *(
            p
            for folder in ("personas", "test-personas", "knowledge")
            for p in (EXAMPLES / folder).rglob("*.yaml")
        ),
    ]
)

INTEGERS = [
    "0",
    "00",
    "0777",
    "007",
    "+12",
    "-0",
    "-12",
    "1_000",
    "0x1F",
    "0b101",
    "0o17",
    "1:30",
    "08",
    "9",
    "-9",
    "12345678901234567890",
]
HEAD = "name: A\nmodel: scaigrid/gpt-4o\n"
SHAPES = {
    "plain": HEAD + "metadata: {a: [1, 2.5, true, null, ~, '', x]}\n",
    "block-scalars": HEAD + "system_prompt: |\n  one\n  two\ndescription: >\n  folded\n",
    "alias-bomb": "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefg", "bcdefgh", strict=True)
    ),
    "deep-flow": HEAD + "metadata: {a: " + "[" * 5000 + "]" * 5000 + "}\n",
    "at-the-depth-limit": "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n",
    "one-over-the-depth-limit": "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2) + "\n",
    "deep-block": "".join(" " * i + "a:\n" for i in range(60)) + " " * 60 + "x\n",
    "at-the-node-limit": "[" + "x, " * (MAX_EXPANDED_NODES - 1) + "]\n",
    "over-the-node-limit": "[" + "x, " * MAX_EXPANDED_NODES + "]\n",
    "wide-map-over-the-limit": "{" + ", ".join(f"k{i}: v" for i in range(10_001)) + "}\n",
    "duplicate-keys": HEAD + "name: B\nmetadata: {a: 1, a: 2}\n",
    "duplicate-keys-and-a-date": HEAD + "name: B\nd: 2024-01-01\n",
    "tags": HEAD + "a: !!str 1\nb: !!int '7'\nc: !custom x\nd: !!binary aGk=\ne: !!set {a}\n",
    "non-specific-tag": HEAD + "a: ! 12\n",
    "bad-tagged-values": HEAD + "a: !!bool maybe\n",
    "non-string-keys": "1: a\ntrue: b\nnull: c\n~: d\n? [x]\n: e\n? {y: 1}\n: f\n3.5: g\n",
    "empty-key": ": a\n",
    "quoted-keys": "'1': a\n\"true\": b\n'': c\n",
    "special-floats": "a: .inf\nb: -.Inf\nc: .nan\nd: 1e400\ne: 1.5e3\nf: 0x1F\ng: 0o17\n",
    "huge-integers": f"a: {'9' * 45}\nb: {2**63}\nc: {-(2**63)}\nd: {2**63 - 1}\n",
    "integers": "- " + "\n- ".join(INTEGERS) + "\n",
    "integers-1.1": "%YAML 1.1\n---\n- " + "\n- ".join(INTEGERS) + "\n",
    "nul-and-surrogates": 'a: "x\\0y"\nb: "\\ud800"\n"k\\0": c\n"\\udfff": d\n',
    "merge-keys": "base: &b {x: 1}\nchild:\n  <<: *b\n  y: 2\n",
    "merge-value": "a: <<\n",
    "anchor-without-alias": "a: &x 1\nb: 2\n",
    "undefined-alias": "a: *nowhere\n",
    "recursive-alias": "a: &r [1, *r]\n",
    "two-documents": "a: 1\n---\nb: 2\n",
    "explicit-document": "---\na: 1\n...\n",
    "directive": "%YAML 1.1\n---\na: yes\nb: 0777\n",
    "tag-directive": "%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n",
    "empty": "",
    "only-a-comment": "# nothing\n",
    "empty-document": "---\n",
    "scalar-root": "just text\n",
    "list-root": "- a\n- b: 1\n",
    "syntax-error": "a: [1, 2\nb: 3\n",
    "bad-indentation": "a:\n  b: 1\n c: 2\n",
    "tabs": "a:\n\tb: 1\n",
    "timestamp-in-list": "a: [2001-12-14t21:59:43.10-05:00]\n",
    "sequence-of-maps": "a:\n- b: 1\n  c: [x, {d: e}]\n- f\n",
    "unicode": "名前: 値\nemoji: \U0001f600\n",
}


def dump(node: Node | None) -> Any:
    """Everything a caller can read of a node tree: kinds, tags, values, marks, styles."""
    if node is None:
        return None

    def mark(m: Any) -> Any:
        return None if m is None else (m.line, m.column, m.index)

    head = (type(node).__name__, node.tag, mark(node.start_mark), mark(node.end_mark), node.anchor)
    if isinstance(node, ScalarNode):
        return (*head, node.value, node.style)
    if isinstance(node, SequenceNode):
        return (*head, node.flow_style, [dump(item) for item in node.value])
    assert isinstance(node, MappingNode)
    return (*head, node.flow_style, [(dump(k), dump(v)) for k, v in node.value])


def outcome(read: Any, raw: bytes) -> Any:
    try:
        parsed = read(raw, "f.yaml")
    except YamlRefused as exc:
        partial = exc.partial
        return ("refused", exc.problems, partial and (partial.data, dump(partial.node)))
    assert isinstance(parsed, ParsedYaml)
    return ("read", repr(parsed.data), dump(parsed.node))


def assert_same(raw: bytes) -> None:
    assert outcome(parse_yaml, raw) == outcome(parse_yaml_reference, raw)


def takes_the_plain_path(raw: bytes) -> bool:
    yaml = YAML(typ="safe")
    constructor, parser = yaml.get_constructor_parser(raw.decode())
    resolver = constructor if hasattr(constructor, "resolve") else yaml.resolver
    try:
        found = compose_plain(
            parser, resolver, constructor, max_depth=MAX_DEPTH, max_nodes=MAX_EXPANDED_NODES
        )
    finally:
        parser.dispose()
    return found is not None


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_the_corpus_and_the_examples_read_the_same_both_ways(path: Path) -> None:
    assert_same(path.read_bytes())


def test_the_corpus_is_there() -> None:
    assert len([p for p in CORPUS if "bad" in p.parts]) > 30
    assert any(p.is_relative_to(EXAMPLES / "personas") for p in CORPUS)


@pytest.mark.parametrize("name", list(SHAPES))
def test_hostile_and_unusual_shapes_read_the_same_both_ways(name: str) -> None:
    assert_same(SHAPES[name].encode())


def test_plain_persona_files_take_the_one_pass_path() -> None:
    examples = sorted((EXAMPLES / "personas").glob("*.yaml"))
    assert examples
    for path in examples:
        assert takes_the_plain_path(path.read_bytes()), path
    for name in ("plain", "block-scalars", "at-the-depth-limit", "at-the-node-limit"):
        assert takes_the_plain_path(SHAPES[name].encode()), name
    for name in ("alias-bomb", "one-over-the-depth-limit", "over-the-node-limit", "tags"):
        assert not takes_the_plain_path(SHAPES[name].encode()), name


# --- generated documents: JSON-like values written in every YAML style, and text built of
# --- the tokens YAML gives meaning to

KEYS = st.sampled_from(
    ["a", "b", "name", "1", "true", "null", "~", "<<", "", "x y", "a:b", "k\x00", "é"]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["yes", "no", "on", "0x1F", "0o17", "1_000", "2024-01-01", ".inf", "=", "<<"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)
TOKENS = st.sampled_from(
    [
        "a",
        "b",
        ": ",
        ":",
        "- ",
        "\n",
        "  ",
        "[",
        "]",
        "{",
        "}",
        ", ",
        "&x ",
        "*x",
        "? ",
        "!!str ",
        "!!int ",
        "! ",
        "'",
        '"',
        "#",
        "|",
        ">",
        "---\n",
        "1",
        "1.5",
        ".inf",
        "yes",
        "null",
        "~",
        "<<: ",
        "\\0",
        "2024-01-01",
        "%YAML 1.1\n",
        "\t",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALUES, flow=st.sampled_from([None, True, False]))
def test_generated_documents_read_the_same_both_ways(value: Any, flow: bool | None) -> None:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    out = io.StringIO()
    yaml.dump(value, out)
    assert_same(out.getvalue().encode("utf-8", "surrogatepass"))


@settings(max_examples=500, deadline=None)
@given(parts=st.lists(TOKENS, max_size=30))
def test_generated_token_soup_reads_the_same_both_ways(parts: list[str]) -> None:
    assert_same("".join(parts).encode())


def test_a_scalar_node_built_directly_equals_one_built_by_ruamel() -> None:
    tag, start, end = object(), object(), object()
    direct = scalar_node(tag, "v", start, end, "'")  # type: ignore[arg-type]
    built = ScalarNode(tag, "v", start, end, style="'")
    slots = {s for cls in ScalarNode.__mro__ for s in getattr(cls, "__slots__", ())}
    assert slots == {"ctag", "value", "start_mark", "end_mark", "comment", "anchor", "style"}
    for slot in slots:
        assert getattr(direct, slot) is getattr(built, slot) or slot == "ctag", slot
    assert direct.ctag is tag


def test_a_parse_leaves_nothing_for_the_cyclic_collector() -> None:
    """Reading a file (on the one-pass path, on the reference path, or refused for a
    duplicate key) frees its loader when it ends: a bulk load pauses the collector, and
    a loader left in a cycle kept its C parser's buffers until the process exited.
    (A malformed file's refusal still leaves its traceback's frames in a cycle: rare,
    and freed at the next collection.)"""
    import gc

    documents = [
        b"name: plain\nlist: [1, 2.5, true, null]\n",  # the one-pass path
        b"base: &b {a: 1}\nother: *b\n",  # an alias: the reference path
        b"a: 1\na: 2\n",  # a duplicate key: refused
    ]

    def read_all() -> None:
        for raw in documents:
            for parse in (parse_yaml, parse_yaml_reference):
                with contextlib.suppress(YamlRefused):
                    parse(raw, "doc.yaml")

    read_all()  # the loader class and the resolvers' tables are built once
    gc.collect()
    gc.disable()
    try:
        read_all()
        assert gc.collect() == 0
    finally:
        gc.enable()

"""Bounds on persona tests' regular expressions and JSON Schemas, checked at validate
before anything is compiled: the estimate of a pattern's compiled size, and the
problems ``validate`` reports for a ``regex`` or ``json_schema`` assertion past a bound."""

from __future__ import annotations

import time

import pytest
from personas_as_code.loader.repo import load_repo
from personas_as_code.schemas.regex_bounds import (
    MAX_REGEX_SIZE,
    MAX_SCHEMA_DEPTH,
    MAX_SCHEMA_NODES,
    check_schema_bounds,
    compile_pattern,
    compiled_size,
)

from tests.repos import MINIMAL, RepoBuilder


@pytest.mark.parametrize(
    ("pattern", "size"),
    [
        (r"(?i)full refund within \d+ days", 25),
        (r"\w{1,50} \w{1,50} \w{1,50}", 152),  # repeats in a row add up
        ("(?:(?:a{10}){10}){10}", 1000),  # nested ones multiply
        ("x{65535}", 65535),
        ("(?:x{65535}){1000}", 65535 * 1000),
        ("(?:a{0,1000}){0,1000}", 1000 * 1000),  # the largest count, not the smallest
        ("a{3,}", 3),  # unbounded: its smallest count
        ("(?:ab|cd){4}", 4 * 5),  # the branch, and its two items
        (r"\p{L}{1,50} \p{L}{1,50} \p{L}{1,50}", 152),  # regex-only escapes read as \w
        (r"(?:\\p{60000}){1000}", 60001000),  # an escaped backslash, then p{60000}
    ],
)
def test_compiled_size_follows_the_repeat_structure(pattern: str, size: int) -> None:
    assert compiled_size(pattern) == size or (size > MAX_REGEX_SIZE < compiled_size(pattern))


def test_a_pattern_the_stdlib_cannot_read_is_estimated_as_if_all_repeats_nested() -> None:
    pattern = r"(?V1)[[a-z]--[aeiou]]{10}x{20}"  # set operations: regex only
    assert compiled_size(pattern) == len(pattern) * 10 * 20
    compile_pattern(pattern)  # small enough: accepted


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(?:x{65535}){1000}", "would expand to more than 100,000 items when compiled"),
        ("x{4294967296}", "would expand to more than 100,000 items"),
        ("a" * 501, "is 501 characters; the limit is 500"),
        ("(unclosed", "not a valid regular expression: missing )"),
    ],
)
def test_compile_pattern_refuses_before_compiling(pattern: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_pattern(pattern)
    assert time.monotonic() - started < 1


def nested(depth: int) -> dict:
    """``depth`` schemas, one in the other's items (values nest one level more)."""
    schema: dict = {"type": "string"}
    for _ in range(depth - 1):
        schema = {"items": schema}
    return schema


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (nested(MAX_SCHEMA_DEPTH), f"nests deeper than {MAX_SCHEMA_DEPTH} levels"),
        ({"enum": list(range(MAX_SCHEMA_NODES))}, f"more than {MAX_SCHEMA_NODES:,} values"),
        (
            {"properties": {"a": {"pattern": "(?:y{65535}){1000}"}}},
            "the pattern at /properties/a/pattern would expand to more than 100,000",
        ),
        (
            {"patternProperties": {"(?:y{65535}){1000}": {}}},
            "the pattern at /patternProperties/(?:y{65535}){1000} would expand",
        ),
        ({"items": [{"pattern": "(x"}]}, "the pattern at /items/0/pattern is not a valid"),
        (
            {"patternProperties": {"^a": {}}, "unevaluatedProperties": False},
            "unevaluatedProperties beside patternProperties cannot be checked in bounded time",
        ),
    ],
)
def test_schema_bounds(schema: dict, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        check_schema_bounds(schema)
    assert message in str(refused.value)


def test_data_is_not_mistaken_for_a_pattern() -> None:
    check_schema_bounds({"const": {"pattern": "(x"}, "enum": [{"pattern": "(?:y{65535}){1000}"}]})
    check_schema_bounds(nested(MAX_SCHEMA_DEPTH - 1))  # its "string" is at the limit


def test_validate_locates_a_json_schema_past_a_bound(repo: RepoBuilder) -> None:
    repo.persona("p", MINIMAL)
    repo.write(
        "personas/p.tests.yaml",
        "cases:\n"
        "  - name: shapes\n"
        "    message: hi\n"
        "    assert:\n"
        "      - json_schema:\n"
        "          properties:\n"
        '            code: {type: string, pattern: "[unclosed"}\n'
        '      - regex: "\\\\d{3}-\\\\d{4}"\n',
    )
    (problem,) = load_repo(repo.root).problems
    assert (problem.path, problem.line, problem.col) == ("personas/p.tests.yaml", 6, 11)
    assert problem.message.startswith(
        "cases.0.assert.0.json_schema: the pattern at /properties/code/pattern is not a valid "
        "regular expression: "
    )


def test_the_example_patterns_stay_accepted() -> None:
    for pattern in [r"(?i)full refund within \d+ days", r"^\s*SELECT\b", r"(?s)```sql.*```"]:
        compile_pattern(pattern)

"""``json_schema`` assertions bounded in time: a pattern that makes Python's ``re``
backtrack for ever, one that makes even ``regex`` time out, patternProperties, a
quadratic uniqueItems, a $ref loop and the overall deadline each end in a FAIL that
says why, within seconds; and a case with such a schema through ``run_tests`` on a
real loopback model server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from personas_as_code.catalogue.db import make_engine
from personas_as_code.persona_tests import bounded_schema
from personas_as_code.persona_tests.assertions import Outcome, check
from personas_as_code.persona_tests.bounded_schema import schema_errors
from personas_as_code.persona_tests.runner import run_tests
from personas_as_code.schemas.persona_tests import Assertion

from tests.inference.upstream import serve_upstream
from tests.persona_tests.conftest import apply_into, copy_examples
from tests.persona_tests.test_assertions import no_judge
from tests.sync.conftest import api_key

# Python's re needs 2**40 steps to give up on this; the regex module does not
EVIL = {"type": "object", "properties": {"a": {"type": "string", "pattern": "^(a+)+$"}}}
EVIL_ANSWER = json.dumps({"a": "a" * 40 + "!"})


def timed(assertion: Assertion, answer: str) -> tuple[bool | None, str, float]:
    started = time.monotonic()
    result = check(assertion, Outcome(answer, 1, 1), no_judge)
    return result.passed, result.message, time.monotonic() - started


@pytest.mark.timeout(60)
def test_a_backtracking_pattern_fails_instead_of_hanging() -> None:
    passed, message, took = timed(Assertion(json_schema=EVIL), EVIL_ANSWER)
    assert passed is False and took < 5
    assert message == f"at a: '{'a' * 40}!' does not match '^(a+)+$'"
    assert timed(Assertion(json_schema=EVIL), '{"a": "aaaa"}')[0] is True


@pytest.mark.slow  # waits for a pattern's timeout
@pytest.mark.timeout(60)
def test_a_pattern_that_times_out_is_a_clear_fail() -> None:
    schema = {"properties": {"reply": {"items": {"pattern": "(a+)+$"}}}}
    answer = json.dumps({"reply": ["fine", "a" * 5000 + "!"]})
    passed, message, took = timed(Assertion(json_schema=schema), answer)
    assert passed is False and took < 5
    assert message.startswith("at reply/1: pattern '(a+)+$' took longer than 1 s on 'aaa")
    assert message.endswith("(catastrophic backtracking?); simplify it")


@pytest.mark.slow  # waits for a pattern's timeout
@pytest.mark.timeout(60)
def test_pattern_properties_are_bounded_too() -> None:
    schema = {"patternProperties": {"(a+)+$": {"type": "integer"}}, "additionalProperties": False}
    started = time.monotonic()
    (error,) = schema_errors(schema, {"a" * 5000 + "!": 1})
    assert time.monotonic() - started < 5
    assert error.message.startswith("pattern '(a+)+$' took longer than 1 s")
    ok = {"patternProperties": {"^x": {"type": "integer"}}, "additionalProperties": False}
    found = [(list(e.absolute_path), e.message) for e in schema_errors(ok, {"xa": "s", "y": 1})]
    assert found == [
        (["xa"], "'s' is not of type 'integer'"),
        ([], "'y' match none of the patterns '^x'"),
    ]


@pytest.mark.timeout(60)
def test_unique_items_is_linear() -> None:
    # mixed types cannot be sorted: jsonschema compares every pair (4.5e8 comparisons)
    document = [*range(30_000), "x", {"a": 1}, [1, 2], {"a": 1.0}]
    started = time.monotonic()
    (error,) = schema_errors({"uniqueItems": True}, document)
    assert time.monotonic() - started < 5 and "has non-unique elements" in error.message
    assert schema_errors({"uniqueItems": True}, [1, True, "1", [1], {"a": 1}, None, 0]) == []
    assert len(schema_errors({"uniqueItems": True}, [1, 1.0])) == 1


def test_a_ref_loop_and_an_unresolvable_ref_are_fails() -> None:
    (loop,) = schema_errors({"$ref": "#"}, 1)
    assert loop.message == "the schema refers to itself without end (a $ref loop?)"
    (remote,) = schema_errors({"$ref": "https://example.com/s.json"}, 1)
    assert remote.message.startswith("the schema has a $ref that cannot be resolved")


def test_the_whole_check_has_a_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounded_schema, "SCHEMA_TIMEOUT_S", 0.0)
    (error,) = schema_errors({"type": "string"}, "x")
    assert error.message == "checking the answer against the schema took longer than 0 s"


def test_a_refused_schema_is_a_fail_not_a_crash() -> None:
    (error,) = schema_errors({"pattern": "(?:x{65535}){1000}"}, "x")
    assert error.message.startswith("the schema is refused: the pattern at /pattern would")


def test_ordinary_schemas_behave_as_before() -> None:
    schema = {
        "type": "object",
        "required": ["steps"],
        "properties": {"steps": {"type": "array", "items": {"type": "string"}}},
        "additionalProperties": False,
    }
    assert schema_errors(schema, {"steps": ["a", "b"]}) == []
    found = [e.message for e in schema_errors(schema, {"steps": [1], "extra": 2})]
    assert sorted(found) == [
        "1 is not of type 'string'",
        "additional properties are not allowed ('extra')",
    ]


@pytest.mark.timeout(120)
def test_run_tests_with_a_backtracking_pattern_on_a_real_model_server(tmp_path: Path) -> None:
    with serve_upstream() as upstream:
        root = copy_examples(tmp_path / "repo")
        with (root / "personas.toml").open("a") as toml:
            toml.write(
                '\n[backends."openai/gpt-4o"]\nprovider = "openai"\n'
                f'base_url = "{upstream.base_url}"\nmodel = "verbatim"\n'
            )
        (root / "personas" / "support-agent.tests.yaml").write_text(
            "cases:\n"
            "  - name: answers in JSON\n"
            f"    message: {json.dumps(EVIL_ANSWER)}\n"
            "    assert:\n"
            f"      - json_schema: {json.dumps(EVIL)}\n"
        )
        engine = make_engine(f"sqlite:///{tmp_path / 'catalogue.db'}")
        api_key(engine)
        catalogue = apply_into(root, engine)
        started = time.monotonic()
        report = run_tests(root, catalogue, slugs=["support-agent"])
        engine.dispose()
    assert time.monotonic() - started < 30
    (result,) = report.results
    assert result.answer == EVIL_ANSWER  # the model answered what the case sent
    assert result.status == "failed"
    (assertion,) = result.assertions
    assert assertion.message == f"at a: '{'a' * 40}!' does not match '^(a+)+$'"

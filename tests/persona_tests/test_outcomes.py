"""The rules of a truthful behaviour check (DESIGN.md, rule 3) at the level of one
assertion, one case's status and one report: an answer no model produced passes no
answer assertion, retrieval assertions still run, a skipped judge is no pass, a side
with no model is never compared, and no format shows a credential."""

from __future__ import annotations

import json

import pytest
from junitparser import JUnitXml
from personas_as_code.persona_tests.assertions import (
    ANSWER_KINDS,
    RETRIEVAL_KINDS,
    Outcome,
    check,
)
from personas_as_code.persona_tests.render_junit import junit_xml
from personas_as_code.persona_tests.render_markdown import markdown
from personas_as_code.persona_tests.render_text import case_line, text_lines
from personas_as_code.persona_tests.report import (
    NO_MODEL,
    AssertionResult,
    BaselineResult,
    CaseResult,
    PersonaTestReport,
    change_between,
    status_of,
)
from personas_as_code.schemas.persona_tests import ASSERTION_KINDS, Assertion

# Each kind with a value the mirror's echo below satisfies.
SATISFIED = {
    "contains": "25 vacation days",
    "not_contains": "refund",
    "regex": r"\d+ vacation days",
    "equals": "Every employee gets 25 vacation days.",
    "json_schema": {"type": "string"},
    "max_tokens": 100,
    "max_latency_ms": 1000,
    "llm_rubric": "States the number of vacation days.",
    "cites": "col_hr",
}
ECHO = Outcome(
    "Every employee gets 25 vacation days.",
    completion_tokens=8,
    latency_ms=2,
    retrieval=({"source_id": "col_hr", "document": "knowledge/col_hr/holidays.md"},),
    model_called=False,
)


def judge_never_called(rubric: str, answer: str) -> AssertionResult:
    raise AssertionError("a judge must not grade an answer no model produced")


def test_every_kind_is_an_answer_or_a_retrieval_kind() -> None:
    assert ANSWER_KINDS | RETRIEVAL_KINDS == set(ASSERTION_KINDS) == set(SATISFIED)
    assert not ANSWER_KINDS & RETRIEVAL_KINDS


@pytest.mark.parametrize("kind", sorted(ANSWER_KINDS))
def test_an_echo_passes_no_answer_assertion(kind: str) -> None:
    assertion = Assertion.model_validate({kind: SATISFIED[kind]})
    result = check(assertion, ECHO, judge_never_called)
    assert (result.passed, result.status, result.message) == (None, "untested", NO_MODEL)
    strict = check(assertion, ECHO, judge_never_called, require_model=True)
    assert strict.passed is False and strict.status == "failed" and strict.no_model
    assert strict.message == f"{NO_MODEL}; --require-model makes this a failure"


def test_retrieval_assertions_still_run_on_an_echo() -> None:
    cited = check(Assertion(cites="col_hr"), ECHO, judge_never_called, require_model=True)
    missed = check(Assertion(cites="col_legal"), ECHO, judge_never_called)
    assert (cited.passed, cited.status) == (True, "passed")
    assert (missed.passed, missed.status) == (False, "failed")


PASSED = AssertionResult("contains", True, "ok")
FAILED = AssertionResult("contains", False, "no")
SKIPPED = AssertionResult("llm_rubric", None, "skipped: no judge")
UNTESTED = AssertionResult("contains", None, NO_MODEL, no_model=True)


@pytest.mark.parametrize(
    ("assertions", "error", "status"),
    [
        ((PASSED, FAILED, UNTESTED, SKIPPED), None, "failed"),
        ((), "BACKEND_UNAVAILABLE: down", "error"),
        ((PASSED, UNTESTED, SKIPPED), None, "untested"),
        ((PASSED, SKIPPED), None, "skipped"),  # a skipped judge is no pass
        ((SKIPPED,), None, "skipped"),
        ((PASSED, PASSED), None, "passed"),
    ],
)
def test_status_of_takes_the_first_that_holds(
    assertions: tuple[AssertionResult, ...], error: str | None, status: str
) -> None:
    assert status_of(assertions, error) == status


def test_a_side_with_no_model_is_never_compared() -> None:
    assert change_between("untested", "untested") == "untested"
    assert change_between("passed", "untested") == "untested"
    assert change_between("untested", "failed") == "untested"
    assert change_between("passed", "failed") == "pass->fail"
    assert change_between("skipped", "skipped") == "same"


KEY = "AKIAIOSFODNN7EXAMPLE"  # AWS's documented example key id
CHUNK = {
    "source_type": "collection",
    "source_id": "col_hr",
    "document": f"knowledge/col_hr/{KEY}.md",
    "chunk": 0,
    "score": 0.5,
}


def secret_report() -> PersonaTestReport:
    """A credential in every place a report carries user or model text."""
    return PersonaTestReport(
        results=[
            CaseResult(
                "hr",
                f"key {KEY}",
                "failed",
                f"the key is {KEY}",
                (AssertionResult("not_contains", False, f"contains {KEY!r}"),),
                5,
                retrieval=(CHUNK,),
                transcript=({"role": "user", "content": f"is {KEY} it?"},),
                baseline=BaselineResult(
                    "passed", f"no key {KEY}?", "pass->fail", retrieval=(CHUNK,)
                ),
                answered_by=("openai",),
            ),
            CaseResult("hr", "down", "error", "", error=f"BACKEND_ERROR: bad key {KEY}"),
        ],
        baseline_ref="main",
        notes=[f"note with {KEY}"],
    )


def test_no_format_shows_a_credential() -> None:
    report = secret_report()
    shown = {
        "text": "\n".join(line.text for line in text_lines(report)),
        "progress": case_line(report.results[0]).text,
        "markdown": markdown(report),
        "junit": junit_xml(report),
        "json": json.dumps(report.to_dict()),
    }
    for name, text in shown.items():
        assert KEY not in text, name
        assert "REDACTED" in text, name
    data = report.to_dict()
    case = data["results"][0]
    assert case["retrieval"][0]["document"] == "knowledge/col_hr/[REDACTED].md"
    assert case["baseline"]["retrieval"] == case["retrieval"]
    assert case["transcript"][0]["content"] == "is [REDACTED] it?"
    assert data["results"][1]["error"] == "BACKEND_ERROR: bad key [REDACTED]"
    assert data["notes"] == ["note with [REDACTED]"]
    (suite,) = JUnitXml.fromstring(shown["junit"])  # still a valid document
    assert suite.failures == 1 and suite.errors == 1
    assert report.results[0].answer == f"the key is {KEY}"  # the data itself is untouched

"""Every assertion kind, passing and failing, on real answers' shapes; bounded regexes;
the llm_rubric judge over a loopback OpenAI-compatible server, and skipped without one."""

from __future__ import annotations

import pytest
from personas_as_code.loader.repo import Repo
from personas_as_code.persona_tests.assertions import Outcome, check
from personas_as_code.persona_tests.models import judge_backend
from personas_as_code.persona_tests.report import AssertionResult
from personas_as_code.persona_tests.runner import _judge
from personas_as_code.schemas.config import RepoConfig
from personas_as_code.schemas.persona_tests import MAX_MATCH_CHARS, Assertion

from tests.persona_tests.judge_server import serve_judge

ANSWER = 'Reset it from Settings → Security.\n{"steps": 2, "link": "https://acme.example"}'
OUTCOME = Outcome(
    ANSWER,
    completion_tokens=40,
    latency_ms=120,
    retrieval=({"source_id": "col_product_docs", "document": "knowledge/x.md"},),
)


def no_judge(rubric: str, answer: str) -> AssertionResult:
    return AssertionResult("llm_rubric", None, "skipped: no judge")


CASES = [
    ({"contains": "Settings → Security"}, {"contains": "refund"}),
    ({"not_contains": "refund"}, {"not_contains": "Reset"}),
    ({"regex": r"(?m)^Reset it from \w+"}, {"regex": r"^refund"}),
    ({"equals": "  " + ANSWER + "\n"}, {"equals": "Reset it"}),
    ({"max_tokens": 40}, {"max_tokens": 39}),
    ({"max_latency_ms": 120}, {"max_latency_ms": 119}),
    ({"cites": "col_product_docs"}, {"cites": "col_help_centre"}),
]


@pytest.mark.parametrize(("passing", "failing"), CASES, ids=[next(iter(p)) for p, _ in CASES])
def test_each_kind_passes_and_fails(passing: dict, failing: dict) -> None:
    good = check(Assertion.model_validate(passing), OUTCOME, no_judge)
    bad = check(Assertion.model_validate(failing), OUTCOME, no_judge)
    assert good.passed is True, good
    assert bad.passed is False, bad
    assert good.kind == bad.kind == next(iter(passing))


def test_json_schema_passes_fails_and_refuses_non_json() -> None:
    schema = {"type": "object", "required": ["steps"], "properties": {"steps": {"type": "integer"}}}
    document = Outcome('{"steps": 2}', 3, 1)
    assert check(Assertion(json_schema=schema), document, no_judge).passed is True
    wrong = check(Assertion(json_schema=schema), Outcome('{"steps": "two"}', 3, 1), no_judge)
    assert wrong.passed is False and wrong.message.startswith("at steps:")
    prose = check(Assertion(json_schema=schema), OUTCOME, no_judge)
    assert prose.passed is False and "not JSON" in prose.message


def test_cites_fails_when_nothing_was_retrieved() -> None:
    result = check(Assertion(cites="col_product_docs"), Outcome("x", 1, 1), no_judge)
    assert result.passed is False and "sources sent: none" in result.message


@pytest.mark.slow  # waits for the 1 s regex timeout
def test_catastrophic_regex_fails_by_timeout_instead_of_hanging() -> None:
    result = check(Assertion(regex=r"(a+)+$"), Outcome("a" * 5000 + "!", 1, 1), no_judge)
    assert result.passed is False and "took longer than" in result.message


def test_regex_refuses_answers_over_the_cap() -> None:
    result = check(Assertion(regex="a"), Outcome("a" * (MAX_MATCH_CHARS + 1), 1, 1), no_judge)
    assert result.passed is False and "match at most" in result.message


def repo_with(config: dict) -> Repo:
    return Repo(None, RepoConfig.model_validate(config), {}, [], [])


def test_llm_rubric_is_skipped_with_a_reason_without_a_judge() -> None:
    judge = _judge(repo_with({"repo": {"id": "r"}}), None)
    result = check(Assertion(llm_rubric="is polite"), OUTCOME, judge)
    assert result.passed is None and "no judge model is configured" in result.message


def test_a_mirror_judge_cannot_grade_and_says_so() -> None:
    config = {
        "repo": {"id": "r"},
        "tests": {"judge_backend": "mirror/judge"},
        "backends": {"mirror/judge": {"provider": "mirror"}},
    }
    backend, reason = judge_backend(RepoConfig.model_validate(config), None)
    assert backend is None and "offline mirror" in reason


def test_llm_rubric_graded_by_a_loopback_judge() -> None:
    with serve_judge() as (base_url, seen):
        config = {
            "repo": {"id": "r"},
            "tests": {"judge_backend": "openai/judge"},
            "backends": {
                "openai/judge": {"provider": "openai", "base_url": base_url, "model": "grader"}
            },
        }
        judge = _judge(repo_with(config), None)
        rubric = Assertion(llm_rubric="The answer is good.")
        passed = check(rubric, Outcome("a GOOD answer", 1, 1), judge)
        failed = check(rubric, Outcome("a BAD answer", 1, 1), judge)
        unsure = check(rubric, Outcome("an answer", 1, 1), judge)
    assert passed.passed is True and "PASS" in passed.message
    assert failed.passed is False and "FAIL" in failed.message
    assert unsure.passed is False and "no PASS/FAIL verdict" in unsure.message
    assert len(seen) == 3 and seen[0]["model"] == "grader"
    assert "Rubric:\nThe answer is good." in seen[0]["messages"][-1]["content"]

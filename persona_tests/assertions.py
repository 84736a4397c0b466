"""Check one answer against a case's assertions.

Assertions are of two families.  ``ANSWER_KINDS`` judge what the model answered (its
text, its length, its speed); ``RETRIEVAL_KINDS`` judge what the persona enricher sent
(the retrieval provenance).  An answer no model produced -- the offline ``mirror``
backend echoes the prompt and the retrieved context -- cannot pass an answer assertion:
it is not tested (``report.NO_MODEL``), or fails with ``require_model``.  Retrieval
assertions still run, as retrieval did happen.  The latency of an echo says nothing
about a model, so ``max_latency_ms`` is an answer assertion.

Every check is bounded: ``regex`` runs on the ``regex`` module with a timeout and
refuses answers longer than ``MAX_MATCH_CHARS``; ``json_schema`` parses at most
``MAX_MATCH_CHARS`` of JSON.  Messages quote user text through ``repr`` (shortened),
so a renderer can print them literally.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import regex
from personas_as_code.persona_tests.report import NO_MODEL, AssertionResult
from personas_as_code.schemas.persona_tests import MAX_MATCH_CHARS, REGEX_TIMEOUT_S, Assertion

Judge = Callable[[str, str], AssertionResult]
"""Grades ``(rubric, answer)`` for an ``llm_rubric`` assertion."""

ANSWER_KINDS = frozenset(
    {
        "contains",
        "not_contains",
        "equals",
        "regex",
        "json_schema",
        "max_tokens",
        "max_latency_ms",
        "llm_rubric",
    }
)
"""Assertions about the model's answer: never passed by an answer no model produced."""
RETRIEVAL_KINDS = frozenset({"cites"})
"""Assertions about what retrieval sent: they run whoever answered.  A kind in neither
set is treated as an answer kind (never passed by the mirror)."""


@dataclass(frozen=True)
class Outcome:
    """What a case's last answer was, as the assertions see it."""

    answer: str
    completion_tokens: int
    latency_ms: int
    retrieval: Sequence[dict[str, Any]] = field(default_factory=tuple)
    model_called: bool = True
    """False when the answer (of any turn) came from the offline mirror, not a model."""


def short(text: str, limit: int = 80) -> str:
    """``repr`` of ``text``, shortened to about ``limit`` characters."""
    shown = text if len(text) <= limit else text[:limit] + "…"
    return repr(shown)


def not_tested(kind: str, require_model: bool = False) -> AssertionResult:
    """An answer assertion on an answer no model produced: not tested, or with
    ``require_model`` a failure."""
    if require_model:
        return AssertionResult(
            kind, False, f"{NO_MODEL}; --require-model makes this a failure", no_model=True
        )
    return AssertionResult(kind, None, NO_MODEL, no_model=True)


def check(
    assertion: Assertion, outcome: Outcome, judge: Judge, *, require_model: bool = False
) -> AssertionResult:
    """The result of one assertion on ``outcome``."""
    kind, value = assertion.kind, assertion.value
    if not outcome.model_called and kind not in RETRIEVAL_KINDS:  # an unknown kind too
        return not_tested(kind, require_model)
    answer = outcome.answer
    if kind == "contains":
        ok = value in answer
        verb = "contains" if ok else "does not contain"
        return AssertionResult(kind, ok, f"{verb} {short(value)}")
    if kind == "not_contains":
        ok = value not in answer
        verb = "does not contain" if ok else "contains"
        return AssertionResult(kind, ok, f"{verb} {short(value)}")
    if kind == "equals":
        ok = answer.strip() == value.strip()
        return AssertionResult(
            kind, ok, f"{'equals' if ok else 'differs from'} {short(value)} (ends trimmed)"
        )
    if kind == "regex":
        return _regex(value, answer)
    if kind == "json_schema":
        return _json_schema(value, answer)
    if kind == "max_tokens":
        used = outcome.completion_tokens
        return AssertionResult(kind, used <= value, f"{used} completion tokens (at most {value})")
    if kind == "max_latency_ms":
        took = outcome.latency_ms
        return AssertionResult(kind, took <= value, f"answered in {took} ms (at most {value})")
    if kind == "cites":
        sources = sorted({str(r.get("source_id")) for r in outcome.retrieval})
        ok = value in sources
        seen = ", ".join(sources) if sources else "none"
        verb = "reached" if ok else "did not reach"
        return AssertionResult(
            kind, ok, f"a chunk of source {value!r} {verb} the answer (sources sent: {seen})"
        )
    if kind == "llm_rubric":
        return judge(value, answer)
    raise AssertionError(f"unhandled assertion kind {kind}")  # the model allows no other


def _regex(pattern: str, answer: str) -> AssertionResult:
    if len(answer) > MAX_MATCH_CHARS:
        return AssertionResult(
            "regex",
            False,
            f"the answer has {len(answer):,} characters; regex assertions match at most "
            f"{MAX_MATCH_CHARS:,}",
        )
    try:
        found = regex.search(pattern, answer, timeout=REGEX_TIMEOUT_S)
    except TimeoutError:
        return AssertionResult(
            "regex",
            False,
            f"pattern {short(pattern)} took longer than {REGEX_TIMEOUT_S:g} s "
            "(catastrophic backtracking?); simplify it",
        )
    if found is None:
        return AssertionResult("regex", False, f"no match for {short(pattern)}")
    return AssertionResult("regex", True, f"{short(pattern)} matched {short(found.group(0))}")


def _json_schema(schema: dict[str, Any], answer: str) -> AssertionResult:
    from personas_as_code.persona_tests.bounded_schema import schema_errors

    if len(answer) > MAX_MATCH_CHARS:
        return AssertionResult(
            "json_schema", False, f"the answer has {len(answer):,} characters; too long to check"
        )
    try:
        document = json.loads(answer)
    except (ValueError, RecursionError) as exc:
        return AssertionResult("json_schema", False, f"the answer is not JSON ({exc})")
    errors = sorted(schema_errors(schema, document), key=lambda e: list(e.absolute_path))
    if not errors:
        return AssertionResult("json_schema", True, "the answer is valid against the schema")
    first = errors[0]
    where = "/".join(str(p) for p in first.absolute_path) or "(root)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return AssertionResult("json_schema", False, f"at {where}: {first.message[:200]}{more}")


def check_all(
    assertions: Sequence[Assertion],
    outcome: Outcome,
    judge: Judge,
    *,
    require_model: bool = False,
) -> tuple[AssertionResult, ...]:
    """Every assertion's result, in order."""
    return tuple(check(a, outcome, judge, require_model=require_model) for a in assertions)

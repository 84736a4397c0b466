"""The result of a persona tests run: per case, its status, answer, assertion results,
latency, retrieval provenance and (with a baseline) what changed.  ``TestReport.to_dict``
is the ``--format json`` shape (``format_version`` 1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FORMAT_VERSION = 1
Status = Literal["passed", "failed", "skipped", "error"]
Change = Literal["pass->fail", "fail->pass", "same", "new", "removed"]


@dataclass(frozen=True)
class AssertionResult:
    """One assertion's outcome; ``passed`` None means skipped (``message`` says why)."""

    kind: str
    passed: bool | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """As JSON data."""
        return {"kind": self.kind, "passed": self.passed, "message": self.message}


@dataclass(frozen=True)
class BaselineResult:
    """The same case against the baseline's persona, and how the outcome changed."""

    status: Status
    answer: str
    change: Change
    assertions: tuple[AssertionResult, ...] = ()
    retrieval: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """As JSON data."""
        return {
            "status": self.status,
            "answer": self.answer,
            "change": self.change,
            "assertions": [a.to_dict() for a in self.assertions],
            "retrieval": list(self.retrieval),
        }


@dataclass(frozen=True)
class CaseResult:
    """One case's run."""

    persona: str
    case: str
    status: Status
    answer: str
    assertions: tuple[AssertionResult, ...] = ()
    latency_ms: int | None = None
    retrieval: tuple[dict[str, Any], ...] = ()
    transcript: tuple[dict[str, str], ...] = ()
    error: str | None = None
    path: str = ""
    line: int = 0
    baseline: BaselineResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """As JSON data (one item of ``results``)."""
        return {
            "persona": self.persona,
            "case": self.case,
            "status": self.status,
            "answer": self.answer,
            "assertions": [a.to_dict() for a in self.assertions],
            "latency_ms": self.latency_ms,
            "retrieval": list(self.retrieval),
            "transcript": list(self.transcript),
            "error": self.error,
            "file": f"{self.path}:{self.line}" if self.path else None,
            "baseline": self.baseline.to_dict() if self.baseline else None,
        }

    @property
    def change(self) -> Change | None:
        """``pass->fail``, ``fail->pass``, ... when a baseline ran."""
        return self.baseline.change if self.baseline else None


def status_of(assertions: tuple[AssertionResult, ...]) -> Status:
    """failed when any assertion failed, skipped when all were skipped, else passed."""
    if any(a.passed is False for a in assertions):
        return "failed"
    if assertions and all(a.passed is None for a in assertions):
        return "skipped"
    return "passed"


def change_between(before: Status | None, after: Status | None) -> Change:
    """How a case's outcome moved from the baseline (``before``) to this branch."""
    if before is None:
        return "new"
    if after is None:
        return "removed"
    if before == "passed" and after in ("failed", "error"):
        return "pass->fail"
    if before in ("failed", "error") and after == "passed":
        return "fail->pass"
    return "same"


@dataclass
class TestReport:
    """Every case's result, in a stable order (persona, then file order)."""

    __test__ = False  # not a pytest test class

    results: list[CaseResult] = field(default_factory=list)
    baseline_ref: str | None = None
    notes: list[str] = field(default_factory=list)

    def count(self, status: Status) -> int:
        """How many cases ended with ``status``."""
        return sum(1 for r in self.results if r.status == status)

    @property
    def regressions(self) -> list[CaseResult]:
        """The cases that passed on the baseline and fail here."""
        return [r for r in self.results if r.change == "pass->fail"]

    @property
    def exit_code(self) -> int:
        """0 all passed (skips allowed), 1 failures, 2 a case could not run."""
        if self.count("error"):
            return 2
        return 1 if self.count("failed") else 0

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` document."""
        return {
            "format_version": FORMAT_VERSION,
            "passed": self.count("passed"),
            "failed": self.count("failed"),
            "skipped": self.count("skipped"),
            "errors": self.count("error"),
            "baseline_ref": self.baseline_ref,
            "regressions": len(self.regressions),
            "notes": list(self.notes),
            "results": [r.to_dict() for r in self.results],
        }

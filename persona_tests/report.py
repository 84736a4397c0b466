"""The result of a persona tests run: per case, its status, answer, assertion results,
latency, retrieval provenance and (with a baseline) what changed.  ``PersonaTestReport.to_dict``
is the ``--format json`` shape (``format_version`` 1).

A case's status (``status_of``, the one place it is decided):

* ``failed``: an assertion failed (with ``--require-model``, also an answer assertion on
  an answer no model produced);
* ``error``: the case could not run (a backend down, a bad test persona);
* ``untested``: an answer assertion was not tested because no model produced the answer
  (the offline ``mirror`` backend echoed the prompt); shown as "not tested: no model was
  called";
* ``skipped``: an assertion was skipped (no judge configured, citations not visible on a
  remote ScaiGrid, a case removed on this branch) -- a skipped check is not a pass;
* ``passed``: every assertion passed.

Everything a report shows comes from user files, knowledge and models: ``redacted`` and
``to_dict`` pass it through ``untrusted.secrets`` so no credential reaches an output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from personas_as_code.untrusted.secrets import redact_data, redact_structure

FORMAT_VERSION: Final = 1
Status = Literal["passed", "failed", "skipped", "error", "untested"]
Change = Literal["pass->fail", "fail->pass", "same", "new", "removed", "untested"]
CheckStatus = Literal["passed", "failed", "skipped", "untested"]
MIRROR = "mirror"
"""The provider name of the offline backend that echoes instead of calling a model."""
UNTESTED_LABEL = "not tested: no model was called"
NO_MODEL = f"{UNTESTED_LABEL} (mirror backend)"
"""The message of an answer assertion on an answer no model produced."""


@dataclass(frozen=True)
class AssertionResult:
    """One assertion's outcome; ``passed`` None means not checked (``message`` says why).

    ``no_model`` marks an answer assertion on an answer no model produced: not tested
    (``passed`` None), or failed for that reason under ``--require-model``."""

    kind: str
    passed: bool | None
    message: str
    no_model: bool = False

    @property
    def status(self) -> CheckStatus:
        """``passed``, ``failed``, ``untested`` (no model answered) or ``skipped``."""
        if self.passed is True:
            return "passed"
        if self.passed is False:
            return "failed"
        return "untested" if self.no_model else "skipped"

    def to_dict(self) -> dict[str, Any]:
        """As JSON data."""
        return {
            "kind": self.kind,
            "passed": self.passed,
            "message": self.message,
            "status": self.status,
        }


@dataclass(frozen=True)
class BaselineResult:
    """The same case against the baseline's persona, and how the outcome changed."""

    status: Status
    answer: str
    change: Change
    assertions: tuple[AssertionResult, ...] = ()
    retrieval: tuple[dict[str, Any], ...] = ()
    """The baseline side's retrieved chunks (the shape of ``CaseResult.retrieval``)."""

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
    answered_by: tuple[str, ...] = ()
    """The providers of the backends that answered the persona's turns (``mirror``,
    ``openai``, ``scaigrid``, ...), each once, in order; empty when it did not run."""

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
            "answered_by": list(self.answered_by),
        }

    @property
    def change(self) -> Change | None:
        """``pass->fail``, ``fail->pass``, ... when a baseline ran."""
        return self.baseline.change if self.baseline else None

    @property
    def by_mirror(self) -> bool:
        """Whether the offline mirror, not a model, answered (any turn of) this case."""
        return MIRROR in self.answered_by


def status_of(assertions: tuple[AssertionResult, ...], error: str | None = None) -> Status:
    """A case's status from its assertions' results and whether it could not run: the
    first that holds of ``failed`` (an assertion failed), ``error`` (``error`` given),
    ``untested`` (an answer assertion not tested for lack of a model), ``skipped`` (an
    assertion skipped), else ``passed``."""
    states = {a.status for a in assertions}
    if "failed" in states:
        return "failed"
    if error is not None:
        return "error"
    if "untested" in states:
        return "untested"
    if "skipped" in states:
        return "skipped"
    return "passed"


def change_between(before: Status | None, after: Status | None) -> Change:
    """How a case's outcome moved from the baseline (``before``) to this branch.

    A side with no model's answer (``untested``) cannot be compared: the change is
    ``untested``, never a regression and never "the same pass"."""
    if before is None:
        return "new"
    if after is None:
        return "removed"
    if "untested" in (before, after):
        return "untested"
    if before == "passed" and after in ("failed", "error"):
        return "pass->fail"
    if before in ("failed", "error") and after == "passed":
        return "fail->pass"
    return "same"


@dataclass
class PersonaTestReport:
    """Every case's result, in a stable order (persona, then file order)."""

    results: list[CaseResult] = field(default_factory=list)
    baseline_ref: str | None = None
    notes: list[str] = field(default_factory=list)
    require_model: bool = False
    """``--require-model``: answer assertions on an answer no model produced failed."""
    environment: str | None = None
    """The ``personas.toml`` environment whose catalogue and overrides the cases ran with."""

    def count(self, status: Status) -> int:
        """How many cases ended with ``status``."""
        return sum(1 for r in self.results if r.status == status)

    @property
    def regressions(self) -> list[CaseResult]:
        """The cases that passed on the baseline and fail here."""
        return [r for r in self.results if r.change == "pass->fail"]

    @property
    def answered_by(self) -> list[str]:
        """Every provider that answered a case, sorted."""
        return sorted({p for r in self.results for p in r.answered_by})

    @property
    def model_called(self) -> bool:
        """Whether a model (any backend but the mirror) answered at least one case."""
        return any(p != MIRROR for p in self.answered_by)

    @property
    def by_mirror(self) -> list[CaseResult]:
        """The cases the offline mirror answered (no model was called for them)."""
        return [r for r in self.results if r.by_mirror]

    @property
    def model_note(self) -> str | None:
        """The note every format shows first when the mirror answered a case, else None."""
        mirrored = len(self.by_mirror)
        if not mirrored:
            return None
        ran = sum(1 for r in self.results if r.answered_by)
        if mirrored == ran:
            head = f"No model was called: {mirrored} case(s) answered"
        else:
            head = f"No model was called for {mirrored} of {ran} case(s): answered"
        if self.require_model:
            return (
                f"{head} by the offline mirror backend; their answer assertions were not "
                "tested, and --require-model counts them as failures."
            )
        return (
            f"{head} by the offline mirror backend; their answer assertions were not tested. "
            "Configure a backend (see README) or pass --require-model to make this a failure."
        )

    @property
    def exit_code(self) -> int:
        """2 a case could not run, 1 a case failed, else 0 (passed, skipped and untested
        cases exit 0; ``--require-model`` has already made untested answers failures)."""
        if self.count("error"):
            return 2
        if self.count("failed") or (self.require_model and self.count("untested")):
            return 1
        return 0

    def redacted(self) -> PersonaTestReport:
        """A copy safe to show: every answer, message, transcript, retrieval entry, error
        and note with secrets replaced by ``[REDACTED]``."""
        return redact_structure(self)

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` document (secrets redacted)."""
        data = {
            "format_version": FORMAT_VERSION,
            "passed": self.count("passed"),
            "failed": self.count("failed"),
            "skipped": self.count("skipped"),
            "errors": self.count("error"),
            "untested": self.count("untested"),
            "model_called": self.model_called,
            "answered_by": self.answered_by,
            "model_note": self.model_note,
            "require_model": self.require_model,
            "baseline_ref": self.baseline_ref,
            **({"environment": self.environment} if self.environment else {}),
            "regressions": len(self.regressions),
            "notes": list(self.notes),
            "results": [r.to_dict() for r in self.results],
        }
        return redact_data(data)

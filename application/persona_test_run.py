"""Run a persona's test cases (``personas/<slug>.tests.yaml``) against
its working-tree version or a draft, before proposing it.

Each case also runs against the persona as the checked-out branch's last commit has it
(the baseline), so the result says which cases a draft flips from pass to fail.  Read-only
(nothing is published, persisted or written) but open-world: every case calls a model.
A case the offline mirror answered is ``untested`` (no model was called; ``require_model``
makes it a failure), and the result is redacted like every report.
"""

from __future__ import annotations

from typing import Any, Literal

from personas_as_code.application.models import Issue
from personas_as_code.application.service import PersonaService
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.loader.repo import Repo
from personas_as_code.persona_tests.report import FORMAT_VERSION
from personas_as_code.persona_tests.runner import run_tests
from personas_as_code.schemas.errors import DraftError
from personas_as_code.schemas.persona_tests import TESTS_SUFFIXES
from personas_as_code.untrusted.secrets import redact
from pydantic import BaseModel, Field

MAX_CONCURRENCY = 8

CaseStatus = Literal["passed", "failed", "skipped", "error", "untested"]


class AssertionOutcome(BaseModel):
    """One assertion's outcome; ``passed`` null means not checked (the message says why)."""

    kind: str
    passed: bool | None
    message: str
    status: Literal["passed", "failed", "skipped", "untested"] = Field(
        description="untested: an answer check on an answer no model produced (the mirror)."
    )


class BaselineOutcome(BaseModel):
    """The same case against the baseline's persona, and how the outcome changed."""

    status: CaseStatus
    answer: str
    change: Literal["pass->fail", "fail->pass", "same", "new", "removed", "untested"] = Field(
        description="untested: a side no model answered, so the outcomes cannot be compared."
    )
    assertions: list[AssertionOutcome] = Field(default_factory=list)
    retrieval: list[dict[str, Any]] = Field(
        default_factory=list,
        description="The chunks the baseline's persona got, from the baseline's knowledge.",
    )


class CaseOutcome(BaseModel):
    """One case's run, as in ``personas test --format json``."""

    persona: str
    case: str
    status: CaseStatus
    answer: str
    assertions: list[AssertionOutcome]
    latency_ms: int | None = None
    retrieval: list[dict[str, Any]] = Field(default_factory=list)
    transcript: list[dict[str, str]] = Field(default_factory=list)
    error: str | None = None
    file: str | None = Field(default=None, description="path:line of the case.")
    baseline: BaselineOutcome | None = None
    answered_by: list[str] = Field(
        default_factory=list,
        description="Providers that answered the persona (mirror: no model was called).",
    )


class PersonaTestRun(BaseModel):
    """The cases of one persona run against the working tree or a draft (the JSON of
    ``personas test --format json``, plus what was tested)."""

    format_version: Literal[1] = FORMAT_VERSION
    slug: str
    origin: Literal["repo", "draft"]
    draft_id: str | None = None
    baseline_ref: str | None = Field(
        default=None, description="The commit the baseline ran on (the branch's HEAD)."
    )
    passed: int
    failed: int
    skipped: int
    errors: int
    untested: int = Field(description="Cases not tested because no model was called.")
    model_called: bool = Field(description="Whether a model (not the mirror) answered a case.")
    answered_by: list[str] = Field(description="Every provider that answered a case.")
    model_note: str | None = Field(
        description="Says so when the offline mirror, not a model, answered a case."
    )
    require_model: bool = Field(
        description="Whether answer checks on an answer no model produced were failed."
    )
    regressions: int = Field(description="Cases that passed on the baseline and fail here.")
    notes: list[str] = Field(default_factory=list)
    problems: list[Issue] = Field(
        default_factory=list, description="Problems of the persona's tests file."
    )
    results: list[CaseOutcome]
    persisted: Literal[False] = False


def _tests_file_problems(repo: Repo, slug: str) -> list[Issue]:
    names = {f"{slug}{suffix}" for suffix in TESTS_SUFFIXES}
    return [Issue.of(p) for p in repo.persona_tests.problems if p.path.rsplit("/", 1)[-1] in names]


def _baseline(service: PersonaService) -> tuple[Repo | None, str | None, str | None]:
    """The repo as the checked-out branch's last commit has it, its sha, or why none."""
    try:
        head = service.store().head_sha()
    except DraftError as exc:
        return None, None, f"no baseline: {exc.message}"
    except ValueError:  # GitPython: HEAD names a branch without a commit
        return None, None, "no baseline: the branch has no commit yet"
    return service.draft_repo(head), head, None


def run_persona_tests(
    service: PersonaService,
    slug: str | None,
    draft_id: str | None,
    *,
    catalogue: Catalogue,
    compare: bool = True,
    concurrency: int = 4,
    require_model: bool = False,
) -> PersonaTestRun:
    """Run persona ``slug``'s cases (of the working tree, or of draft ``draft_id``)."""
    persona, origin = service.loaded_persona(slug, draft_id)
    repo, _ = service.repo_for(draft_id)
    baseline, head, why = _baseline(service) if compare else (None, None, None)
    report = run_tests(
        repo,
        catalogue,
        slugs=[persona.slug],
        baseline=baseline,
        baseline_ref=head,
        concurrency=concurrency,
        require_model=require_model,
        workspace=service.root,  # a draft's repo has no folder: its knowledge store is ours
    )
    data = report.to_dict()  # redacted
    data["notes"] = [*data["notes"], *([redact(why)] if why else [])]
    return PersonaTestRun(
        **data,
        slug=persona.slug,
        origin=origin,
        draft_id=draft_id,
        problems=_tests_file_problems(repo, persona.slug),
    )

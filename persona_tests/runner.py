"""Run persona test cases: the Python API behind ``personas test`` and the MCP
``test_persona`` tool.

``run_tests(repo, catalogue)`` runs every case of ``personas/<slug>.tests.yaml``
against the repo's personas through the sandbox run path (``sandbox.run``: the
embedded catalogue's backends, or a remote ScaiGrid's), at most ``concurrency`` at
once, and returns a ``PersonaTestReport``.  With ``baseline`` (another commit's repo, see
``persona_tests.baseline``) each case also runs against that commit's persona, and the
report says per case whether it went from pass to fail or back.  Each side retrieves
from its own tree's knowledge folders (``sandbox.tree_retrieval``; both share the
content store under ``.personas/knowledge``), and the report's notes say what each
side's knowledge took.  Nothing is persisted.

An answer the offline ``mirror`` backend gave (for a conversation: any turn of it) is no
model's: its answer assertions are not tested (``untested``), or fail with
``require_model``; its retrieval assertions still run (``persona_tests.assertions``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.inference.enricher import Retriever
from personas_as_code.inference.messages import ChatMessage
from personas_as_code.loader.files import RepoFiles
from personas_as_code.loader.persona_tests import LoadedCase
from personas_as_code.loader.repo import LoadedPersona, Repo, load_repo
from personas_as_code.persona_tests.assertions import Judge, Outcome, check_all
from personas_as_code.persona_tests.baseline import load_ref
from personas_as_code.persona_tests.conversation import converse
from personas_as_code.persona_tests.models import ask_model, judge_backend
from personas_as_code.persona_tests.report import (
    MIRROR,
    AssertionResult,
    BaselineResult,
    CaseResult,
    PersonaTestReport,
    Status,
    change_between,
    status_of,
)
from personas_as_code.persona_tests.selection import changed_personas
from personas_as_code.sandbox.enrichment import retrieval_notes
from personas_as_code.sandbox.run import RunRequest, RunResult, run_persona
from personas_as_code.sandbox.tree_retrieval import TreeRetrieval
from personas_as_code.schemas.config import BackendSettings
from personas_as_code.schemas.errors import ConfigError, NotFound, PersonasError
from personas_as_code.schemas.persona_tests import Assertion
from personas_as_code.sync.engine import load_valid_repo, open_repo_catalogue

Progress = Callable[[int, int, CaseResult], None]
"""Called after each case with (cases done, cases in all, its result)."""

JUDGE_BRIEF = (
    "You grade an AI assistant's answer against a rubric. Reply with PASS or FAIL on the "
    "first line, then one sentence saying why."
)


@dataclass(frozen=True)
class _Side:
    """One persona version a case runs against (this branch's or the baseline's)."""

    persona: LoadedPersona | None
    origin: str
    retriever: Retriever | None = None
    backends: Mapping[str, BackendSettings] | None = None  # the tree's [backends]


@dataclass(frozen=True)
class _Ran:
    status: Status
    answer: str
    assertions: tuple[AssertionResult, ...]
    latency_ms: int | None
    retrieval: tuple[dict[str, Any], ...]
    transcript: tuple[dict[str, str], ...]
    error: str | None
    answered_by: tuple[str, ...] = ()


def as_repo(repo: Repo | RepoFiles | str | Path) -> Repo:
    """A loaded repo from a ``Repo``, a directory or any ``RepoFiles``."""
    if isinstance(repo, Repo):
        return repo
    if isinstance(repo, str | Path):
        return load_repo(repo)
    return load_repo(files=repo)


def select_slugs(repo: Repo, slugs: Iterable[str] | None) -> list[str]:
    """The personas to test: those named (each must be a persona), or every one with tests."""
    if slugs is None:
        return [s for s in repo.persona_tests.by_slug if s in repo.personas]
    chosen = list(dict.fromkeys(slugs))
    unknown = [s for s in chosen if s not in repo.personas]
    if unknown:
        raise NotFound(
            f"no valid persona {', '.join(repr(s) for s in unknown)} in the repo",
            details={"slugs": unknown},
        )
    return chosen


def run_tests(
    repo: Repo | RepoFiles | str | Path,
    catalogue: Catalogue | None,
    *,
    slugs: Iterable[str] | None = None,
    baseline: Repo | str | None = None,
    baseline_ref: str | None = None,
    concurrency: int = 4,
    progress: Progress | None = None,
    require_model: bool = False,
    workspace: str | Path | None = None,
) -> PersonaTestReport:
    """Run the cases of ``slugs`` (default: every persona with a tests file).

    ``baseline`` is another version of the repo (a ``Repo``, or a git ref of the repo's
    own git repository, loaded with ``persona_tests.baseline.load_ref``).
    ``require_model`` makes an answer assertion on an answer no model produced a failure.
    ``workspace`` is the repo folder whose ``.personas/knowledge`` keeps the knowledge store
    (default: the repo's own folder; a temporary one when it has none).
    """
    loaded = as_repo(repo)
    base_repo, baseline_ref = _baseline_repo(loaded, baseline, baseline_ref)
    chosen = select_slugs(loaded, slugs)
    workspace = workspace if workspace is not None else loaded.root
    knowledge = TreeRetrieval(loaded, label="the tree under test", workspace=workspace)
    base_knowledge = None
    if base_repo is not None:
        label = f"baseline {baseline_ref}" if baseline_ref else "the baseline"
        base_knowledge = TreeRetrieval(base_repo, label=label, workspace=workspace)
    report = PersonaTestReport(
        baseline_ref=baseline_ref,
        require_model=require_model,
        environment=loaded.config.environment,
    )
    report.notes += _without_tests_notes(loaded, chosen)
    checks = _Checks(_judge(loaded, catalogue), require_model)
    cases = _CaseRunner(loaded, catalogue, checks, knowledge, base_repo, base_knowledge)
    results = _run_all(
        cases.run,
        _cases_of(loaded, chosen),
        _removed_results(loaded, base_repo, chosen),
        concurrency,
        progress,
    )
    order = {slug: n for n, slug in enumerate(chosen)}
    results.sort(key=lambda r: order[r.persona])  # stable: file order within a persona
    report.results = results
    report.notes += _knowledge_notes([knowledge, base_knowledge], catalogue)
    return report


def run_repo_tests(
    root: Path,
    *,
    slugs: Sequence[str] | None = None,
    changed_since: str | None = None,
    baseline_ref: str | None = None,
    concurrency: int | None = None,
    progress: Progress | None = None,
    require_model: bool = False,
    environment: str | None = None,
) -> PersonaTestReport:
    """``personas test``: the cases of the valid repo at ``root`` run against its
    catalogue, of ``slugs`` (default: every persona with tests) narrowed to the personas
    whose inputs changed since git ref ``changed_since``, with git ref ``baseline_ref``'s
    personas as the baseline; ``concurrency`` defaults to ``[tests] concurrency``;
    ``environment`` selects the catalogue and overrides of one of the config's
    environments (None: its default)."""
    loaded = load_valid_repo(root, environment=environment)
    chosen: list[str] | None = list(slugs) if slugs else None
    if changed_since is not None:
        changed = changed_personas(loaded, root, changed_since)
        chosen = changed if chosen is None else [s for s in chosen if s in changed]
    base = load_ref(root, baseline_ref) if baseline_ref is not None else None
    with open_repo_catalogue(loaded) as catalogue:
        return run_tests(
            loaded,
            catalogue,
            slugs=chosen,
            baseline=base,
            baseline_ref=baseline_ref,
            concurrency=concurrency or loaded.config.tests.concurrency,
            progress=progress,
            require_model=require_model,
        )


def _baseline_repo(
    loaded: Repo, baseline: Repo | str | None, baseline_ref: str | None
) -> tuple[Repo | None, str | None]:
    """The baseline's repo (loading a git ref of the repo's own git repository) and its
    ref (the ref given as ``baseline``, unless ``baseline_ref`` names it already)."""
    if not isinstance(baseline, str):
        return baseline, baseline_ref
    if loaded.root is None:
        raise ConfigError("a baseline given as a git ref needs a repo on disk")
    return load_ref(loaded.root, baseline), baseline_ref or baseline


def _without_tests_notes(loaded: Repo, chosen: list[str]) -> list[str]:
    """A note for each chosen persona that has no tests file."""
    return [
        f"persona {slug!r} has no tests file (personas/{slug}.tests.yaml)"
        for slug in chosen
        if slug not in loaded.persona_tests.by_slug
    ]


def _cases_of(loaded: Repo, chosen: list[str]) -> list[tuple[str, LoadedCase]]:
    """Every case of the chosen personas' tests files, as (slug, case), in file order."""
    return [
        (slug, item)
        for slug in chosen
        if slug in loaded.persona_tests.by_slug
        for item in loaded.persona_tests.by_slug[slug].cases
    ]


def _run_all(
    run: Callable[[tuple[str, LoadedCase]], CaseResult],
    work: list[tuple[str, LoadedCase]],
    removed: list[CaseResult],
    concurrency: int,
    progress: Progress | None,
) -> list[CaseResult]:
    """Run the cases at most ``concurrency`` at once, then add the removed ones; tell
    ``progress`` of each result as it comes."""
    total = len(work) + len(removed)
    results: list[CaseResult] = []

    def finished(result: CaseResult) -> None:
        results.append(result)
        if progress is not None:
            progress(len(results), total, result)

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, 32))) as pool:
        for result in pool.map(run, work):
            finished(result)
    for result in removed:
        finished(result)
    return results


def _removed_results(loaded: Repo, baseline: Repo | None, chosen: list[str]) -> list[CaseResult]:
    """A skipped result for each case the baseline has and this branch removed."""
    return [
        CaseResult(
            persona=slug,
            case=name,
            status="skipped",
            answer="",
            assertions=(AssertionResult("case", None, "removed on this branch"),),
            path=path,
            line=line,
            baseline=BaselineResult("skipped", "", "removed"),
        )
        for slug in chosen
        for name, line, path in _removed(loaded, baseline, slug)
    ]


@dataclass(frozen=True)
class _CaseRunner:
    """Runs one case against this branch's persona and, with a baseline, that one's."""

    loaded: Repo
    catalogue: Catalogue | None
    checks: _Checks
    knowledge: TreeRetrieval
    base_repo: Repo | None = None
    base_knowledge: TreeRetrieval | None = None

    def run(self, entry: tuple[str, LoadedCase]) -> CaseResult:
        """The result of case ``entry`` (slug, case), with its baseline's when there is one."""
        slug, item = entry
        loaded = self.loaded
        side = _Side(loaded.personas[slug], "repo", self.knowledge, loaded.config.backends)
        here = _run_case(loaded, side, item, self.catalogue, self.checks)
        return CaseResult(
            persona=slug,
            case=item.case.name,
            status=here.status,
            answer=here.answer,
            assertions=here.assertions,
            latency_ms=here.latency_ms,
            retrieval=here.retrieval,
            transcript=here.transcript,
            error=here.error,
            path=loaded.persona_tests.by_slug[slug].path,
            line=item.line,
            baseline=self._baseline(slug, item, here),
            answered_by=here.answered_by,
        )

    def _baseline(self, slug: str, item: LoadedCase, here: _Ran) -> BaselineResult | None:
        """The case against the baseline's persona (None without a baseline)."""
        if self.base_repo is None:
            return None
        persona = self.base_repo.personas.get(slug)
        if persona is None:
            return BaselineResult("skipped", "", "new")
        backends = self.base_repo.config.backends
        side = _Side(persona, "baseline", self.base_knowledge, backends)
        ran = _run_case(self.loaded, side, item, self.catalogue, self.checks)
        return BaselineResult(
            ran.status,
            ran.answer,
            change_between(ran.status, here.status),
            ran.assertions,
            retrieval=ran.retrieval,
        )


def _knowledge_notes(sides: list[TreeRetrieval | None], catalogue: Catalogue | None) -> list[str]:
    """Each side's knowledge account (for the sides some case retrieved for)."""
    notes = [s.account for s in sides if s is not None and s.account is not None]
    return notes + (retrieval_notes(catalogue) if notes else [])


def _removed(loaded: Repo, baseline: Repo | None, slug: str) -> list[tuple[str, int, str]]:
    """Cases the baseline's tests file of ``slug`` has and this branch's does not."""
    if baseline is None or slug not in baseline.persona_tests.by_slug:
        return []
    here = loaded.persona_tests.by_slug.get(slug)
    names = {c.case.name for c in here.cases} if here else set()
    old = baseline.persona_tests.by_slug[slug]
    return [(c.case.name, c.line, old.path) for c in old.cases if c.case.name not in names]


@dataclass(frozen=True)
class _Checks:
    """How a run checks answers: its judge, and whether an answer needs a model."""

    judge: Judge
    require_model: bool

    def check_all(
        self, assertions: Sequence[Assertion], outcome: Outcome
    ) -> tuple[AssertionResult, ...]:
        return check_all(assertions, outcome, self.judge, require_model=self.require_model)


def _run_case(
    repo: Repo, side: _Side, item: LoadedCase, catalogue: Catalogue | None, checks: _Checks
) -> _Ran:
    """One case against one persona version; a failure to run is an ``error`` result."""
    persona = side.persona
    assert persona is not None
    case = item.case
    transcript: tuple[dict[str, str], ...] = ()
    answered: list[str] = []  # the provider of each of the persona's answers

    def ask_persona(request: RunRequest) -> RunResult:
        ran = run_persona(
            persona,
            request,
            catalogue,
            retriever=side.retriever,
            backends=side.backends,
            root=repo.root,
        )
        answered.append(ran.backend.provider)
        return ran

    try:
        if case.conversation is not None:
            user = repo.test_personas.personas[case.conversation.test_persona]
            turns = converse(
                case.conversation,
                user,
                lambda messages: ask_model(
                    catalogue,
                    persona.spec.model,
                    messages,
                    headers=user.headers,
                    backends=side.backends,
                    root=repo.root,
                )[0],
                ask_persona,
            )
            result, latency_ms = turns.last, turns.latency_ms
            transcript = tuple(turns.transcript)
        else:
            started = time.perf_counter()
            result = ask_persona(RunRequest(message=case.message or ""))
            latency_ms = round((time.perf_counter() - started) * 1000)
        retrieval = tuple(r.model_dump(mode="json") for r in result.retrieval)
        outcome = Outcome(
            result.answer,
            result.usage.completion_tokens,
            latency_ms,
            retrieval,
            model_called=MIRROR not in answered,
        )
        assertions = checks.check_all(case.assertions, outcome)
    except PersonasError as exc:
        error = f"{exc.code}: {exc.message}"
        return _Ran(status_of((), error), "", (), None, (), transcript, error)
    except Exception as exc:  # one case's surprise must not stop the others
        error = f"INTERNAL_ERROR: unexpected {type(exc).__name__}: {exc}"
        return _Ran(status_of((), error), "", (), None, (), transcript, error)
    return _Ran(
        status_of(assertions),
        result.answer,
        assertions,
        latency_ms,
        retrieval,
        transcript,
        None,
        tuple(dict.fromkeys(answered)),
    )


def _judge(repo: Repo, catalogue: Catalogue | None) -> Judge:
    """The ``llm_rubric`` grader: the configured judge model, or one that skips and says why."""
    try:
        backend, reason = judge_backend(repo.config, catalogue, repo.root)
    except PersonasError as exc:
        backend, reason = None, f"the judge is unusable: {exc.message}"

    def grade(rubric: str, answer: str) -> AssertionResult:
        if backend is None:
            return AssertionResult("llm_rubric", None, f"skipped: {reason}")
        messages = [
            ChatMessage("system", JUDGE_BRIEF),
            ChatMessage("user", f"Rubric:\n{rubric}\n\nAnswer to grade:\n{answer}"),
        ]
        verdict = backend.complete(messages, {"temperature": 0}).content.strip()
        first = verdict.splitlines()[0].strip().upper() if verdict else ""
        why = verdict[:300]
        if first.startswith("PASS"):
            return AssertionResult("llm_rubric", True, f"judge: {why}")
        if first.startswith("FAIL"):
            return AssertionResult("llm_rubric", False, f"judge: {why}")
        return AssertionResult("llm_rubric", False, f"the judge gave no PASS/FAIL verdict: {why}")

    return grade

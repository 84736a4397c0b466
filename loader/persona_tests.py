"""Load the persona tests files of a repo (``personas/<slug>.tests.yaml``), reporting every
problem as ``path:line:col: message`` like persona files.

The same bounded parser (``untrusted.yaml``), size cap and secret checks as persona
files (a credential in any text of the file is an error, its kind and place named).  The
cross-file rules (the persona exists, the test personas a conversation names exist)
are checked by ``check_references`` once personas and test personas are loaded.
Nothing here raises: a failure nobody foresaw becomes a problem of its file.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from personas_as_code.loader.files import RepoFiles
from personas_as_code.loader.repo_parts import PersonaTestsFiles
from personas_as_code.loader.yaml_files import (
    PERSONA_SUFFIXES,
    read_yaml_mapping,
    text_secret_problems,
    validation_problems,
)
from personas_as_code.schemas.fields import SLUG_RE
from personas_as_code.schemas.persona_tests import (
    PersonaTestCase,
    PersonaTestsFile,
    is_tests_file,
    tests_slug,
)
from personas_as_code.schemas.problems import Problem
from personas_as_code.untrusted.yaml_paths import locate
from pydantic import ValidationError


@dataclass(frozen=True)
class LoadedCase:
    """One valid case, with the line it starts at (for messages and reports)."""

    case: PersonaTestCase
    line: int
    test_persona_at: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class LoadedPersonaTests:
    """One valid tests file: the persona it tests and its cases."""

    slug: str
    path: str
    cases: tuple[LoadedCase, ...]


def load_persona_tests(
    files: RepoFiles, path: str
) -> tuple[LoadedPersonaTests | None, list[Problem]]:
    """Parse and validate one tests file; return it (or None) and its problems."""
    must_be = "a persona tests file must be a mapping with 'cases'"
    parsed, problems = read_yaml_mapping(files, path, must_be, code="type")
    if parsed is None:
        return None, problems
    node = parsed.node
    secrets = text_secret_problems(parsed.data, node, path, holder="a persona tests file")
    try:
        spec = PersonaTestsFile.model_validate(parsed.data)
    except ValidationError as exc:
        invalid = validation_problems(exc, path, node, root=PersonaTestsFile)
        return None, sorted(problems + secrets + invalid)
    problems = problems + secrets  # duplicate keys and secrets: the rest is still checked
    slug = tests_slug(path)
    if not SLUG_RE.match(slug) or len(slug) > 64:
        message = f"file name '{slug}' is not a valid persona slug; rename the file"
        problems.append(Problem(path, 1, 1, message, code="slug"))
    cases: list[LoadedCase] = []
    seen: dict[str, int] = {}
    for index, case in enumerate(spec.cases):
        line = locate(node, ("cases", index))[0]
        if case.name in seen:
            problems.append(
                Problem(
                    path,
                    locate(node, ("cases", index, "name"))[0],
                    1,
                    f"case name {case.name!r} is already used at line {seen[case.name]}; "
                    "case names must be unique in a file",
                    code="duplicate_case",
                )
            )
            continue
        seen[case.name] = line
        where = locate(node, ("cases", index, "conversation", "test_persona"))
        cases.append(LoadedCase(case, line, where if case.conversation else (0, 0)))
    if problems:
        return None, sorted(problems)
    return LoadedPersonaTests(slug, path, tuple(cases)), []


def load_all_persona_tests(files: RepoFiles, directory: str) -> PersonaTestsFiles:
    """Every tests file under ``directory`` (``<slug>.tests.yaml``)."""
    listed = files.list_files(directory, PERSONA_SUFFIXES)  # by extension: .tests.yaml too
    out = PersonaTestsFiles(files=[p for p in listed if is_tests_file(p)])
    for path in out.files:
        try:
            loaded, problems = load_persona_tests(files, path)
        except Exception as exc:
            message = (
                f"internal error while checking this file ({type(exc).__name__}: {exc}); "
                "please report it"
            )
            loaded, problems = None, [Problem(path, 0, 0, message, code="internal_error")]
        out.problems += problems
        if loaded is None:
            continue
        other = out.by_slug.get(loaded.slug)
        if other is not None:
            message = f"persona '{loaded.slug}' already has a tests file: {other.path}"
            out.problems.append(Problem(path, 1, 1, message, code="duplicate_tests_file"))
            continue
        out.by_slug[loaded.slug] = loaded
    out.by_slug = dict(sorted(out.by_slug.items()))
    return out


def check_references(
    tests: PersonaTestsFiles,
    personas: Collection[str],
    test_personas: Collection[str],
    persona_files: Collection[str],
) -> list[Problem]:
    """Problems of tests files that name a persona or a test persona the repo lacks: an
    orphan tests file (its persona deleted or renamed) is a warning, a case naming a
    missing test persona an error.

    A tests file whose persona file exists but is invalid is left to that file's own
    problems (``persona_files``: every persona file's slug by file name).
    """
    problems: list[Problem] = []
    for slug, loaded in list(tests.by_slug.items()):
        if slug not in personas and slug not in persona_files:
            problems.append(
                Problem(
                    loaded.path,
                    1,
                    1,
                    f"no persona '{slug}' for these tests, so they are not run: a tests file "
                    f"is named after its persona's file ({slug}.yaml beside it)",
                    code="unknown_persona",
                    # a persona deleted or renamed leaves its tests behind; that must not
                    # stop the plan of the others (validate shows it, `personas test` skips it)
                    severity="warning",
                )
            )
            del tests.by_slug[slug]
            continue
        bad = False
        for item in loaded.cases:
            conversation = item.case.conversation
            if conversation is not None and conversation.test_persona not in test_personas:
                problems.append(
                    Problem(
                        loaded.path,
                        *item.test_persona_at,
                        f"case {item.case.name!r}: no test persona '{conversation.test_persona}' "
                        "under test-personas/",
                        code="unknown_test_persona",
                    )
                )
                bad = True
        if bad:
            del tests.by_slug[slug]
    return problems

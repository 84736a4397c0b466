"""Load a whole persona repo into validated models, reporting every problem.

``load_repo`` never stops at the first problem: each file is parsed and
validated on its own, then cross-file rules (unique slugs) run, and every
problem comes back located as ``path:line:col: message``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personas_as_code.loader.config import load_config
from personas_as_code.loader.files import (
    DirectoryFiles,
    OversizedFile,
    PathRefused,
    RepoFiles,
    read_limited,
)
from personas_as_code.loader.knowledge import (
    KnowledgeFolder,
    load_knowledge,
    source_folder_problems,
)
from personas_as_code.loader.repo_parts import PersonaTestsFiles, SimulatedUserFiles
from personas_as_code.loader.yaml_files import (
    PERSONA_SUFFIXES,
    parse_yaml_checked,
    prompt_secret_problems,
    read_reference,
    resolve_system_prompt,
    template_secret_problems,
    validation_problems,
)
from personas_as_code.schemas.config import RepoConfig
from personas_as_code.schemas.environments import EnvironmentOverrides
from personas_as_code.schemas.errors import CatalogueError
from personas_as_code.schemas.fields import AVATAR_MAX_BYTES, AVATAR_MIME_BY_EXTENSION, SLUG_RE
from personas_as_code.schemas.persona import PersonaFile
from personas_as_code.schemas.problems import Problem, errors_only
from personas_as_code.schemas.simulated_user_config import TEST_PERSONAS_DIR
from personas_as_code.schemas.tests_names import is_tests_file
from personas_as_code.untrusted.yaml import MAX_YAML_BYTES
from personas_as_code.untrusted.yaml_paths import locate
from pydantic import ValidationError
from ruamel.yaml.nodes import MappingNode, ScalarNode

INTERNAL_ERROR = "internal_error"  # the code of a problem that is a bug of ours, not the file's


@dataclass(frozen=True)
class Avatar:
    """An avatar image referenced by a persona file."""

    path: str
    mime: str
    data: bytes = field(repr=False)
    sha256: str


@dataclass(frozen=True)
class LoadedPersona:
    """One valid persona file with its referenced files resolved."""

    slug: str
    path: str
    spec: PersonaFile
    system_prompt: str
    prompt_path: str | None
    avatar: Avatar | None
    file_sha256: str
    key_lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def line_of(self, key: str) -> int:
        """Line of a top-level key in the file (1 when absent), for messages."""
        return self.key_lines.get(key, 1)

    @property
    def referenced_files(self) -> tuple[str, ...]:
        """The repo files this persona depends on (itself, prompt, avatar)."""
        refs = [self.path]
        if self.prompt_path:
            refs.append(self.prompt_path)
        if self.avatar:
            refs.append(self.avatar.path)
        return tuple(refs)


@dataclass
class Repo:
    """A loaded persona repo: config, valid personas by slug, and all problems."""

    root: Path | None
    config: RepoConfig
    personas: dict[str, LoadedPersona]
    problems: list[Problem]
    persona_files: list[str]
    knowledge: dict[str, KnowledgeFolder] = field(default_factory=dict)
    test_personas: SimulatedUserFiles = field(default_factory=SimulatedUserFiles)
    persona_tests: PersonaTestsFiles = field(default_factory=PersonaTestsFiles)

    @property
    def ok(self) -> bool:
        """True when no problem is an error (warnings allowed)."""
        return not errors_only(self.problems)


# --- one persona file -------------------------------------------------------


def _key_lines(node: Any) -> dict[str, int]:
    if not isinstance(node, MappingNode):
        return {}
    return {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, ScalarNode)}


def load_persona(
    files: RepoFiles, path: str, raw: bytes | None = None
) -> tuple[LoadedPersona | None, list[Problem], Any]:
    """Parse and validate one persona file; return it (or None), its problems and its node."""
    persona, problems, node, _data = _load_persona(files, path, raw)
    return persona, problems, node


def _load_persona(
    files: RepoFiles, path: str, raw: bytes | None
) -> tuple[LoadedPersona | None, list[Problem], Any, Any]:
    """``load_persona`` plus the parsed mapping the persona was validated from (or None)."""
    try:
        raw = read_limited(files, path, MAX_YAML_BYTES) if raw is None else raw
    except OversizedFile as exc:
        message = f"file is {exc.size:,} bytes; the limit is {exc.limit:,} bytes"
        return None, [Problem(path, 1, 1, message, code="file_too_large")], None, None
    except PathRefused as exc:
        return None, [Problem(path, 0, 0, str(exc), code="path")], None, None
    except FileNotFoundError:
        problem = Problem(path, 0, 0, "file disappeared while loading", code="io")
        return None, [problem], None, None
    except OSError as exc:
        return None, [Problem(path, 0, 0, f"cannot read: {exc.strerror}", code="io")], None, None
    parsed, early = parse_yaml_checked(raw, path)  # duplicate keys: the rest is checked too
    if parsed is None:
        return None, early, None, None
    node = parsed.node
    if not isinstance(parsed.data, dict):
        kind = "empty" if parsed.data is None else type(parsed.data).__name__
        problem = Problem(path, *locate(node, ()), f"a persona file must be a mapping, not {kind}")
        return None, [*early, problem], node, None
    try:
        spec = PersonaFile.model_validate(parsed.data)
    except ValidationError as exc:
        # the prompts' secrets too, as a valid file would have them checked
        invalid = validation_problems(exc, path, node) + prompt_secret_problems(
            parsed.data, node, path
        )
        return None, sorted(early + invalid, key=_place_of), node, None
    persona, problems = _check_persona(files, path, raw, spec, node)
    if early:
        problems = sorted(early + problems, key=_place_of)
        persona = None if errors_only(problems) else persona
    return persona, problems, node, parsed.data


def _place_of(problem: Problem) -> tuple[int, int]:
    return (problem.line, problem.col)


def _check_persona(
    files: RepoFiles, path: str, raw: bytes, spec: PersonaFile, node: Any
) -> tuple[LoadedPersona | None, list[Problem]]:
    """The rules past the file format: slug and file name, referenced files, secrets."""
    slug, problems = _slug_problems(path, spec, node)
    system_prompt, prompt_path, prompt_problems = resolve_system_prompt(
        files, path, node, spec.system_prompt, spec.system_prompt_file
    )
    problems += prompt_problems
    if spec.rag.context_template:
        problems += template_secret_problems(spec.rag.context_template, node, path)
    avatar, avatar_problems = _load_avatar(files, path, spec, node)
    problems += avatar_problems
    if errors_only(problems):
        return None, problems
    persona = LoadedPersona(
        slug=slug,
        path=path,
        spec=spec,
        system_prompt=system_prompt,
        prompt_path=prompt_path,
        avatar=avatar,
        file_sha256=hashlib.sha256(raw).hexdigest(),
        key_lines=_key_lines(node),
    )
    return persona, problems


def _slug_problems(path: str, spec: PersonaFile, node: Any) -> tuple[str, list[Problem]]:
    """The persona's slug (``slug``, else the file name) and what is wrong with it."""
    problems: list[Problem] = []
    stem = posixpath.splitext(posixpath.basename(path))[0]
    slug = spec.slug or stem
    if spec.slug is None and not SLUG_RE.match(stem):
        problems.append(
            Problem(
                path, 1, 1, f"file name '{stem}' is not a valid slug; rename the file or set 'slug'"
            )
        )
    elif spec.slug is not None and spec.slug != stem:
        problems.append(
            Problem(
                path,
                *locate(node, ("slug",)),
                f"slug '{spec.slug}' disagrees with the file name; rename the file to "
                f"'{spec.slug}{posixpath.splitext(path)[1]}' or change the slug",
                code="slug_filename",
            )
        )
    if slug in spec.previous_slugs:
        problems.append(
            Problem(
                path, *locate(node, ("previous_slugs",)), "previous_slugs lists the current slug"
            )
        )
    return slug, problems


def _load_avatar(
    files: RepoFiles, path: str, spec: PersonaFile, node: Any
) -> tuple[Avatar | None, list[Problem]]:
    """The avatar file ``spec`` names, read and checked, or the problems of it."""
    if spec.avatar is None:
        return None, []
    avatar_at = locate(node, ("avatar",))
    ext = posixpath.splitext(spec.avatar)[1].lower()
    mime = AVATAR_MIME_BY_EXTENSION.get(ext)
    if mime is None:
        allowed = ", ".join(sorted(AVATAR_MIME_BY_EXTENSION))
        message = f"avatar type '{ext or spec.avatar}' is not allowed; use one of {allowed}"
        return None, [Problem(path, *avatar_at, message, code="avatar")]
    try:
        avatar_path, data = read_reference(files, path, spec.avatar, AVATAR_MAX_BYTES, "avatar")
        # imported on use: the SVG checks (defusedxml) only matter for an avatar
        from personas_as_code.loader.avatar import check_avatar

        check_avatar(data, mime)
    except ValueError as exc:
        return None, [Problem(path, *avatar_at, str(exc), code="avatar")]
    except CatalogueError as exc:
        message = f"avatar '{spec.avatar}': {exc.message}"
        return None, [Problem(path, *avatar_at, message, "avatar")]
    return Avatar(avatar_path, mime, data, hashlib.sha256(data).hexdigest()), []


# --- the whole repo ---------------------------------------------------------


@dataclass(frozen=True)
class PersonaLoad:
    """One persona file's outcome: the persona (or None), its problems, and the slugs it
    claims (its slug and previous slugs, each with its line) for the cross-file check."""

    persona: LoadedPersona | None
    problems: tuple[Problem, ...]
    names: tuple[tuple[str, int], ...]


PersonaLoader = Callable[[RepoFiles, str], PersonaLoad]


def load_persona_entry(files: RepoFiles, path: str) -> PersonaLoad:
    """``load_persona`` plus the slugs the file claims: the default ``PersonaLoader``.

    Never raises: a failure nobody foresaw becomes a problem of this file, so one
    file cannot stop the others from being checked.
    """
    return load_persona_outcome(files, path)[0]


def load_persona_outcome(
    files: RepoFiles, path: str, raw: bytes | None = None
) -> tuple[PersonaLoad, Any]:
    """``load_persona_entry`` (of ``raw`` when given, the bytes of ``path``) and the parsed
    mapping the persona was validated from (None when there is no persona): what a
    cache needs to rebuild the same result."""
    try:
        persona, problems, node, data = _load_persona(files, path, raw)
    except Exception as exc:
        problem = Problem(
            path,
            0,
            0,
            f"internal error while checking this file ({type(exc).__name__}: {exc}); "
            "please report it",
            code=INTERNAL_ERROR,
        )
        return PersonaLoad(None, (problem,), ()), None
    if persona is None:
        return PersonaLoad(None, tuple(problems), ()), None
    return PersonaLoad(persona, tuple(problems), claimed_names(persona, node)), data


def claimed_names(persona: LoadedPersona, node: Any) -> tuple[tuple[str, int], ...]:
    """The slugs ``persona`` claims (its slug, then its previous slugs), each with its line."""
    names = [(persona.slug, locate(node, ("slug",))[0] if persona.spec.slug else 1)]
    previous_line = locate(node, ("previous_slugs",))[0]
    names += [(old, previous_line) for old in persona.spec.previous_slugs]
    return tuple(names)


def load_repo(
    root: str | Path | None = None,
    *,
    files: RepoFiles | None = None,
    default_id: str | None = None,
    persona_loader: PersonaLoader = load_persona_entry,
    with_knowledge: bool = True,
    remote_catalogue: bool | None = None,
    prepare: Callable[[RepoFiles, list[str]], None] | None = None,
    environment: str | None = None,
) -> Repo:
    """Load every persona of a repo (a directory, or any ``RepoFiles``).

    ``persona_loader`` loads one file; callers that cache per-file results (the
    MCP server) pass their own, and the cross-file rules stay here.  The knowledge
    folders are loaded and checked too unless ``with_knowledge`` is false; a source
    with no folder is a warning when the catalogue is embedded (``remote_catalogue``
    None: decided by ``SCAIGRID_HOST`` and ``SCAIGRID_API_KEY``), since a remote
    ScaiGrid may hold it.  ``prepare`` (a cache's ``prefetch``) sees the persona files
    before they are loaded one by one.  ``environment`` selects one of the config's
    environments (None: its default): its catalogue, tenant and persona overrides.
    """
    root_path = Path(root).resolve() if root is not None else None
    if files is None:
        if root_path is None:
            raise ValueError("give a root directory or a RepoFiles")
        files = DirectoryFiles(root_path)
    config, problems = load_config(
        files, default_id or (root_path.name if root_path else "repo"), environment
    )
    listed = files.list_files(config.repo.personas_dir, PERSONA_SUFFIXES)
    persona_files = [path for path in listed if not is_tests_file(path)]
    if prepare is not None:
        prepare(files, persona_files)
    personas, persona_problems = _load_personas(files, persona_files, persona_loader)
    problems += persona_problems
    if config.overrides is not None:
        personas = _in_environment(personas, config.overrides)
    knowledge: dict[str, KnowledgeFolder] = {}
    if with_knowledge:
        knowledge, knowledge_problems = load_knowledge(files, config.knowledge)
        problems += knowledge_problems
        if remote_catalogue is None:
            remote_catalogue = config.remote_catalogue is not None or (
                config.environment is None
                and bool(os.environ.get("SCAIGRID_HOST") and os.environ.get("SCAIGRID_API_KEY"))
            )
        problems += source_folder_problems(
            personas.values(), knowledge, config.knowledge.folder, remote_catalogue
        )
    test_personas = _load_test_personas(files, config)
    problems += test_personas.problems
    persona_tests = PersonaTestsFiles()
    if len(persona_files) < len(listed):  # some are tests files
        persona_tests = _load_persona_tests(files, config, personas, test_personas, persona_files)
    problems += persona_tests.problems
    problems.sort(key=lambda p: (p.path, p.line, p.col))
    return Repo(
        root=root_path,
        config=config,
        personas=dict(sorted(personas.items())),
        problems=problems,
        persona_files=persona_files,
        knowledge=knowledge,
        test_personas=test_personas,
        persona_tests=persona_tests,
    )


def _in_environment(
    personas: dict[str, LoadedPersona], overrides: EnvironmentOverrides
) -> dict[str, LoadedPersona]:
    """The personas with the selected environment's overrides merged over their files."""
    return {
        slug: dataclasses.replace(persona, spec=overrides.merged_over(persona.spec))
        for slug, persona in personas.items()
    }


def _load_personas(
    files: RepoFiles, paths: list[str], persona_loader: PersonaLoader
) -> tuple[dict[str, LoadedPersona], list[Problem]]:
    """Each persona file of ``paths`` by its slug, and the problems: a slug (or previous
    slug) claimed by two files keeps neither's second claimant."""
    personas: dict[str, LoadedPersona] = {}
    problems: list[Problem] = []
    slug_sites: dict[str, tuple[str, int]] = {}
    for path in paths:
        loaded = persona_loader(files, path)
        problems += loaded.problems
        if loaded.persona is None:
            continue
        clash = False
        for name, line in loaded.names:
            if name in slug_sites:
                other_path, other_line = slug_sites[name]
                problems.append(
                    Problem(
                        path,
                        line,
                        1,
                        f"slug '{name}' is already used by {other_path}:{other_line}; "
                        "slugs must be unique in the repo",
                        code="duplicate_slug",
                    )
                )
                clash = True
            else:
                slug_sites[name] = (path, line)
        if not clash:
            personas[loaded.persona.slug] = loaded.persona
    return personas, problems


# --- simulated users and persona tests ----------------------------------------------
# Their loaders are imported on use, so a repo without them never loads their models
# (tests/cli/test_fast_start.py); they import loader.yaml_files, not this module.


def _load_test_personas(files: RepoFiles, config: RepoConfig) -> SimulatedUserFiles:
    """The test persona files of ``test-personas/`` (or ``[test_personas] dir``)."""
    section = config.test_personas
    if section is not None and not section.enabled:
        return SimulatedUserFiles()
    directory = section.dir if section else TEST_PERSONAS_DIR
    if not files.list_files(directory, PERSONA_SUFFIXES):
        return SimulatedUserFiles()  # nothing to load: the loader and its models stay unimported
    from personas_as_code.loader.simulated_users import load_test_personas

    return load_test_personas(files, directory)


def _load_persona_tests(
    files: RepoFiles,
    config: RepoConfig,
    personas: dict[str, LoadedPersona],
    test_personas: SimulatedUserFiles,
    persona_files: list[str],
) -> PersonaTestsFiles:
    """The ``<slug>.tests.yaml`` files of the personas folder, checked against the repo."""
    from personas_as_code.loader.persona_tests import (
        check_references,
        load_all_persona_tests,
    )

    tests = load_all_persona_tests(files, config.repo.personas_dir)
    file_slugs = {posixpath.splitext(posixpath.basename(p))[0] for p in persona_files}
    tests.problems += check_references(tests, personas, test_personas.personas, file_slugs)
    return tests

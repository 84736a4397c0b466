"""Load the test persona files of a repo (``test-personas/<slug>.yaml``), reporting
every problem as ``path:line:col: message``, like persona files.

The same bounded parser (``untrusted.yaml``), size caps, path rules and
secret checks as persona files; cross-file rule: names are unique.  Nothing
here raises: a failure nobody foresaw becomes a problem of its file.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from dataclasses import dataclass, field

from personas_as_code.loader.files import RepoFiles
from personas_as_code.loader.repo_parts import SimulatedUserFiles
from personas_as_code.loader.yaml_files import (
    PERSONA_SUFFIXES,
    prompt_line,
    read_yaml_mapping,
    resolve_system_prompt,
    validation_problems,
)
from personas_as_code.schemas.fields import SLUG_RE
from personas_as_code.schemas.problems import Problem, errors_only
from personas_as_code.schemas.simulated_user import SimulatedUserFile
from personas_as_code.untrusted.secrets import secret_problems
from personas_as_code.untrusted.yaml_paths import locate
from pydantic import ValidationError


@dataclass(frozen=True)
class LoadedSimulatedUser:
    """One valid test persona file, its prompt resolved."""

    slug: str
    path: str
    name: str
    description: str | None
    system_prompt: str
    headers: dict[str, str]
    protect: bool
    prompt_path: str | None = None
    name_line: int = field(default=1, compare=False)

    @property
    def referenced_files(self) -> tuple[str, ...]:
        """The repo files this test persona depends on (itself, its prompt)."""
        return (self.path, self.prompt_path) if self.prompt_path else (self.path,)

    @property
    def spec_hash(self) -> str:
        """sha256 of what is reconciled (so the marker says which version was applied)."""
        spec = {
            "name": self.name,
            "description": self.description or "",
            "system_prompt": self.system_prompt,
            "headers": self.headers,
        }
        text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


def load_test_persona(
    files: RepoFiles, path: str
) -> tuple[LoadedSimulatedUser | None, list[Problem]]:
    """Parse and validate one test persona file; return it (or None) and its problems."""
    parsed, problems = read_yaml_mapping(files, path, "a test persona file must be a mapping")
    if parsed is None:
        return None, problems
    node = parsed.node
    try:
        spec = SimulatedUserFile.model_validate(parsed.data)
    except ValidationError as exc:
        return None, problems + validation_problems(exc, path, node, root=SimulatedUserFile)

    slug = posixpath.splitext(posixpath.basename(path))[0]
    if not SLUG_RE.match(slug) or len(slug) > 64:
        problems.append(
            Problem(path, 1, 1, f"file name '{slug}' is not a valid slug; rename the file", "slug")
        )
    system_prompt, prompt_path, prompt_problems = resolve_system_prompt(
        files, path, node, spec.system_prompt, spec.system_prompt_file
    )
    problems += prompt_problems
    if spec.description:
        problems += secret_problems(
            spec.description, path, lambda f: prompt_line(node, ("description",), f.line)
        )
    for name, value in spec.headers.items():
        # secret_problems calls ``where`` at once, before the loop moves on
        problems += secret_problems(value, path, lambda f: locate(node, ("headers", name)))  # noqa: B023
    if errors_only(problems):
        return None, problems
    loaded = LoadedSimulatedUser(
        slug=slug,
        path=path,
        name=spec.name or slug,
        description=spec.description,
        system_prompt=system_prompt,
        headers=dict(spec.headers),
        protect=spec.protect,
        prompt_path=prompt_path,
        name_line=locate(node, ("name",))[0] if spec.name is not None else 1,
    )
    return loaded, problems


def _guarded_load(files: RepoFiles, path: str) -> tuple[LoadedSimulatedUser | None, list[Problem]]:
    try:
        return load_test_persona(files, path)
    except Exception as exc:
        message = (
            f"internal error while checking this file ({type(exc).__name__}: {exc}); "
            "please report it"
        )
        return None, [Problem(path, 0, 0, message, code="internal_error")]


def load_test_personas(files: RepoFiles, directory: str) -> SimulatedUserFiles:
    """Every test persona file under ``directory``; names must be unique."""
    out = SimulatedUserFiles(files=files.list_files(directory, PERSONA_SUFFIXES))
    names: dict[str, LoadedSimulatedUser] = {}
    for path in out.files:
        loaded, problems = _guarded_load(files, path)
        out.problems += problems
        if loaded is None:
            continue
        other = names.get(loaded.name) or out.personas.get(loaded.slug)
        if other is not None:
            what = "name" if other.name == loaded.name else "slug"
            shown = loaded.name if what == "name" else loaded.slug
            out.problems.append(
                Problem(
                    path,
                    loaded.name_line,
                    1,
                    f"test persona {what} {shown!r} is already used by {other.path}; "
                    f"{what}s must be unique",
                    code=f"duplicate_{what}",
                )
            )
            continue
        names[loaded.name] = loaded
        out.personas[loaded.slug] = loaded
    out.personas = dict(sorted(out.personas.items()))
    return out

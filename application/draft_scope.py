"""What a persona draft may write: that persona's own files and nothing else.

A draft of persona ``slug`` may write its own persona file, and files under the
personas directory that no other persona (and not the repo config) uses at the
draft's base commit: in practice its prompt file.  Paths must be canonical and
repo-relative, may not be hidden, may not look like another persona file (every
``.yaml``/``.yml`` under the personas directory is one) and may not pass
through or land on a symlink in the tree.  ``DraftStore.write`` checks every
path of every draft commit here before it stores anything.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from personas_as_code.application.commit_files import CommitFiles
from personas_as_code.loader.files import PathRefused, RepoFiles, join_relative
from personas_as_code.loader.repo import PERSONA_SUFFIXES, Repo
from personas_as_code.schemas.config import CONFIG_FILE
from personas_as_code.schemas.errors import DraftError
from personas_as_code.schemas.persona_tests import is_tests_file, tests_slug
from personas_as_code.untrusted.yaml import MAX_YAML_BYTES, YamlRefused, parse_yaml

_REFERENCE_KEYS = ("system_prompt_file", "avatar")


class DraftPathRefused(DraftError):
    """A draft tried to write (or point at) a file that is not its persona's own."""

    code = "DRAFT_PATH_REFUSED"


def personas_folder(personas_dir: str) -> str:
    """The configured personas directory as a canonical repo path ('' for the root)."""
    folder = posixpath.normpath(personas_dir.strip().strip("/") or ".")
    return "" if folder == "." else folder


def _declared_references(files: RepoFiles, path: str) -> list[str]:
    """Prompt and avatar paths an (invalid) persona file names, read best-effort."""
    try:
        if files.size(path) > MAX_YAML_BYTES:  # the loader refuses it too; never read it
            return []
        data = parse_yaml(files.read(path), path).data
    except (YamlRefused, FileNotFoundError, PathRefused, OSError):
        return []
    found = []
    for key in _REFERENCE_KEYS:
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, str):
            try:
                found.append(join_relative(path, value))
            except PathRefused:
                continue
    return found


def file_users(repo: Repo, files: RepoFiles) -> dict[str, frozenset[str]]:
    """Which personas use which repo file (their own file, prompt and avatar).

    Files that fail validation, or lose a slug clash, still count: by their file
    name, with the prompt and avatar paths they name.
    """
    users: dict[str, set[str]] = {}
    loaded = set()
    for persona in repo.personas.values():
        loaded.add(persona.path)
        for path in persona.referenced_files:
            users.setdefault(path, set()).add(persona.slug)
    for path in repo.persona_files:
        if path in loaded:
            continue
        stem = posixpath.splitext(posixpath.basename(path))[0]
        for used in (path, *_declared_references(files, path)):
            users.setdefault(used, set()).add(stem)
    return {path: frozenset(slugs) for path, slugs in users.items()}


@dataclass(frozen=True)
class DraftScope:
    """The files a draft of ``slug`` (persona file ``persona_path``) may write."""

    slug: str
    persona_path: str
    personas_dir: str
    users: Mapping[str, frozenset[str]]

    @property
    def _rule(self) -> str:
        where = f"{self.personas_dir}/" if self.personas_dir else "the repo root"
        return (
            f"a draft of '{self.slug}' may change only its own files: {self.persona_path} "
            f"and prompt files under {where} that no other persona uses"
        )

    def _shape(self, path: str) -> str | None:
        """Why ``path`` can never be this persona's file, or None."""
        parts = path.split("/")
        if (
            not path
            or "\x00" in path
            or "\\" in path
            or path.startswith("/")
            or any(part in ("", ".", "..") for part in parts)
        ):
            return "it is not a canonical repo-relative path"
        folder = self.personas_dir
        if folder and not path.startswith(folder + "/"):
            return f"it is outside the personas directory '{folder}/'"
        inside = path[len(folder) + 1 :] if folder else path
        if any(part.startswith(".") for part in inside.split("/")):
            return "hidden files and folders are out of a draft's reach"
        if path == CONFIG_FILE:
            return "it is the repo config"
        if is_tests_file(path):
            if tests_slug(path) != self.slug:
                return "it is another persona's tests file"
        elif path.endswith(PERSONA_SUFFIXES):
            stem = posixpath.splitext(posixpath.basename(path))[0]
            if path != self.persona_path or stem != self.slug:
                return "it is a persona file (every .yaml/.yml file in the personas directory is)"
        return None

    def check_reference(self, field: str, reference: str) -> str:
        """The repo path ``reference`` (relative to the persona file) names, if the draft
        may point ``field`` at it; ``DraftPathRefused`` otherwise."""
        try:
            path = join_relative(self.persona_path, reference)
        except PathRefused as exc:
            raise DraftPathRefused(
                f"{field}: {exc}; {self._rule}", details={"field": field, "path": reference}
            ) from None
        if path.endswith(PERSONA_SUFFIXES):
            reason: str | None = (
                "it is a persona file (every .yaml/.yml file in the personas directory is)"
            )
        else:
            reason = self._shape(path)
        if reason is not None:
            raise DraftPathRefused(
                f"{field} {reference!r} resolves to {path!r}: {reason}; {self._rule}",
                details={"field": field, "path": path},
            )
        return path

    def check_write(self, paths: Iterable[str], tree: CommitFiles) -> None:
        """Refuse the commit unless every path in ``paths`` is this persona's own file.

        ``tree`` is the commit the draft commit builds on: nothing on the way to a
        path may be a symlink or a file, and the path itself must be absent or a
        regular file.
        """
        for path in paths:
            reason = self._shape(path) or self._foreign(path) or self._tree_shape(path, tree)
            if reason is not None:
                raise DraftPathRefused(
                    f"refused to write {path!r}: {reason}; {self._rule}",
                    details={"path": path, "slug": self.slug},
                )

    def others(self, path: str) -> list[str]:
        """The other personas that use ``path`` (their file, prompt or avatar)."""
        return sorted(self.users.get(path, frozenset()) - {self.slug})

    def _foreign(self, path: str) -> str | None:
        others = self.others(path)
        if others:
            return f"it is used by {', '.join(others)}"
        return None

    @staticmethod
    def _tree_shape(path: str, tree: CommitFiles) -> str | None:
        parts = path.split("/")
        for depth in range(1, len(parts)):
            above = "/".join(parts[:depth])
            kind = tree.kind(above)
            if kind == "absent":
                break
            if kind != "dir":
                return f"'{above}' is a symlink or file in the tree, not a folder"
        if tree.kind(path) not in ("absent", "file"):
            return "it is a symlink, folder or submodule in the tree, not a regular file"
        return None

"""The files a duplicate or a delete draft writes, and pushing a draft to a remote.

A duplicate copies the persona file under the new slug, with its prompt file and
avatar copied beside the originals under the new slug's name; the copy's name
and (explicit) slug are updated and its previous slugs dropped (they belong to
the original).  A delete removes the persona file and the prompt and avatar no
other persona uses.  Both are ordinary draft commits, checked by ``DraftScope``.
"""

from __future__ import annotations

import os
import posixpath
import subprocess
from dataclasses import dataclass

from personas_as_code.application.drafts import DraftStore, DraftTip
from personas_as_code.application.ids import InvalidInput
from personas_as_code.application.yaml_edit import PatchSpec, apply_patch
from personas_as_code.loader.config import load_config
from personas_as_code.loader.repo import LoadedPersona
from personas_as_code.schemas.errors import DraftError, NotFound
from personas_as_code.schemas.persona_tests import tests_slug

PUSH_TIMEOUT_SECONDS = 120
MAX_GIT_MESSAGE = 300


@dataclass
class DraftFiles:
    """What one draft commit writes: the persona file's path, path -> content (None:
    delete), and notes for the caller."""

    path: str
    changes: dict[str, bytes | None]
    notes: list[str]


def _valid_persona(store: DraftStore, base: str, slug: str) -> tuple[str, LoadedPersona]:
    path = store.persona_path(base, slug, _hint_path(store, base, slug))
    if path is None:
        raise NotFound(f"no persona '{slug}' at the current commit (search_personas lists them)")
    persona = store.repo_at(base).personas.get(slug)
    if persona is None or persona.path != path:
        raise InvalidInput(f"persona '{slug}' ({path}) is invalid; fix it before copying it")
    return path, persona


def _hint_path(store: DraftStore, base: str, slug: str) -> str | None:
    persona = store.repo_at(base).personas.get(slug)
    return persona.path if persona else None


def duplicate_files(
    store: DraftStore, base: str, slug: str, new_slug: str, name: str | None
) -> DraftFiles:
    """The files of a new persona ``new_slug`` copied from ``slug`` at commit ``base``."""
    if new_slug == slug:
        raise InvalidInput("new_slug must differ from slug")
    source_path, persona = _valid_persona(store, base, slug)
    existing = store.persona_path(base, new_slug)
    if existing is not None:
        raise InvalidInput(f"persona '{new_slug}' already exists ({existing}); pick another slug")
    folder = posixpath.dirname(source_path)
    new_path = posixpath.join(folder, new_slug + posixpath.splitext(source_path)[1])
    files = store.files_at(base)
    scope = store.scope(base, new_slug, new_path)
    changes: dict[str, bytes | None] = {}
    fields: dict[str, object] = {"name": (name or f"{persona.spec.name} (copy)")[:200]}
    if persona.spec.slug:
        fields["slug"] = new_slug
    notes = []
    copies = (
        ("system_prompt_file", persona.prompt_path),
        ("avatar", persona.avatar.path if persona.avatar else None),
    )
    for field, old in copies:
        if old is None:
            continue
        copy = posixpath.join(posixpath.dirname(old), new_slug + posixpath.splitext(old)[1])
        if files.kind(copy) != "absent":
            raise InvalidInput(
                f"{copy} already exists, so the {field} of '{slug}' cannot be copied there; "
                "pick another slug"
            )
        reference = posixpath.relpath(copy, folder or ".")
        scope.check_reference(field, reference)
        changes[copy] = files.read(old)
        fields[field] = reference
        notes.append(f"{field}: {old} copied to {copy}")
    unset = ["previous_slugs"] if persona.spec.previous_slugs else []
    text, edit_notes = apply_patch(
        files.read(source_path).decode("utf-8"), PatchSpec(set=fields, unset=unset)
    )
    changes[new_path] = text.encode("utf-8")
    return DraftFiles(new_path, changes, notes + edit_notes)


def delete_files(store: DraftStore, base: str, slug: str) -> DraftFiles:
    """The deletions of a draft that removes persona ``slug`` at commit ``base``: its file,
    its tests file, and its prompt and avatar when no other persona uses them."""
    path = store.persona_path(base, slug, _hint_path(store, base, slug))
    if path is None:
        raise NotFound(f"no persona '{slug}' at the current commit (search_personas lists them)")
    repo = store.repo_at(base)
    persona = repo.personas.get(slug)
    scope = store.scope(base, slug, path)
    changes: dict[str, bytes | None] = {path: None}
    # the persona's tests would be left without a persona to test
    changes.update((tests, None) for tests in repo.persona_tests.files if tests_slug(tests) == slug)
    notes = []
    for used in persona.referenced_files if persona else ():
        if used == path:
            continue
        others = scope.others(used)
        if others:
            notes.append(f"{used} is kept: {', '.join(others)} use(s) it too")
        else:
            changes[used] = None
    return DraftFiles(path, changes, notes)


def draft_remote(store: DraftStore) -> str:
    """The git remote drafts are proposed to: ``[drafts] remote`` of personas.toml at HEAD
    (default ``origin``); DraftError when the repository has no such remote."""
    config, _ = load_config(store.files_at(store.head_sha()), "repo")
    remote = config.drafts.remote
    known = _git(store, "remote").split()
    if remote not in known:
        raise DraftError(
            f"no git remote '{remote}' is configured (remotes: {', '.join(known) or 'none'}); "
            f"add it with 'git remote add {remote} <url>' or name another in personas.toml "
            "[drafts] remote"
        )
    return remote


def push_draft(store: DraftStore, tip: DraftTip, remote: str) -> None:
    """Push the draft's tip commit to ``remote`` as its branch (fast-forward only)."""
    try:
        _git(store, "push", "--porcelain", remote, f"{tip.head}:{tip.ref}")
    except DraftError as exc:
        raise DraftError(
            f"pushing {tip.branch} to '{remote}' was refused: {exc.message}",
            details={"remote": remote, "branch": tip.branch},
        ) from None


def _git(store: DraftStore, *args: str) -> str:
    """Run git in the store's repository without prompts; DraftError with git's last line."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}
    command = ["git", "-c", "protocol.ext.allow=never", *args]
    try:
        done = subprocess.run(
            command,
            cwd=store.repo.working_tree_dir or store.repo.git_dir,
            env=env,
            capture_output=True,
            timeout=PUSH_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise DraftError(f"git {args[0]} took longer than {PUSH_TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        lines = [
            line.strip()
            for line in (done.stderr + done.stdout).decode("utf-8", "replace").splitlines()
            if line.strip()
        ]
        reason = next((line for line in lines if "rejected" in line), None) or next(
            (line for line in lines if line.startswith(("error", "fatal"))), None
        )
        text = reason or (lines[-1] if lines else f"git exited with {done.returncode}")
        raise DraftError(" ".join(text.split())[:MAX_GIT_MESSAGE])
    return done.stdout.decode("utf-8", "replace")

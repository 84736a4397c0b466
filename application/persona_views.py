"""One persona as a reader sees it: its file, fields, problems, history and catalogue
state, in the working tree or in a draft; and the lookups that find it or say why not.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from personas_as_code.application.catalogue_state import catalogue_state
from personas_as_code.application.draft_refs import DraftTip
from personas_as_code.application.drafts import DraftStore
from personas_as_code.application.models import Issue, PersonaView
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.loader.files import DirectoryFiles
from personas_as_code.loader.repo import LoadedPersona, Repo
from personas_as_code.schemas.errors import NotFound
from personas_as_code.schemas.problems import Problem


def issues_about(problems: list[Problem], paths: set[str] | None = None) -> list[Issue]:
    """Problems as issues; only those about ``paths`` (or naming one) when given."""
    if paths is None:
        return [Issue.of(p) for p in problems]
    return [
        Issue.of(p)
        for p in problems
        if p.path in paths or (p.code == "duplicate_slug" and any(x in p.message for x in paths))
    ]


def invalid_path(repo: Repo, slug: str) -> str | None:
    """The file of persona ``slug`` when it failed validation (by its file name)."""
    for path in repo.persona_files:
        if posixpath.splitext(posixpath.basename(path))[0] == slug:
            return path
    return None


def not_found(repo: Repo, slug: str, where: str) -> NotFound:
    """No persona ``slug`` in ``where``; naming the persona it was renamed to, if any."""
    renamed = next((p.slug for p in repo.personas.values() if slug in p.spec.previous_slugs), None)
    hint = f"; it was renamed to '{renamed}'" if renamed else " (search_personas lists them)"
    return NotFound(f"no persona '{slug}' in {where}{hint}")


def editable(writable: bool, is_git: bool) -> dict[str, Any]:
    """``can_edit`` and ``disabled_reason`` of a persona view."""
    if not writable:
        reason: str | None = "the MCP server runs --read-only: it offers no draft tools"
    elif not is_git:
        reason = "the repo is not a git repository; drafts are git branches"
    else:
        reason = None
    return {"can_edit": reason is None, "disabled_reason": reason}


def loaded_fields(repo: Repo, persona: LoadedPersona | None, path: str) -> dict[str, Any]:
    """What a persona view shows of the persona ``repo`` loaded from ``path`` (None: its
    file is invalid): its fields, prompt, validity and the issues about its files."""
    paths = set(persona.referenced_files) if persona else {path}
    return {
        "fields": persona.spec.model_dump(mode="json") if persona else None,
        "system_prompt": persona.system_prompt if persona else None,
        "prompt_path": persona.prompt_path if persona else None,
        "valid": persona is not None,
        "issues": issues_about(repo.problems, paths),
    }


def tree_view(
    root: Path,
    repo: Repo,
    slug: str,
    *,
    store: DraftStore | None,
    catalogue: Catalogue | None,
    writable: bool,
) -> PersonaView:
    """Persona ``slug`` (a checked slug) of the working tree at ``root`` loaded as ``repo``;
    ``store`` is None when the repo is not a git repository."""
    persona = repo.personas.get(slug)
    path = persona.path if persona else invalid_path(repo, slug)
    if path is None:
        raise not_found(repo, slug, "the repo")
    text = DirectoryFiles(root).read(path).decode("utf-8", errors="replace")
    return PersonaView(
        slug=slug,
        persona_exists=True,
        **editable(writable, store is not None),
        origin="repo",
        path=path,
        yaml_text=text,
        **loaded_fields(repo, persona, path),
        last_commit=store.last_commit(path) if store else None,
        catalogue=catalogue_state(catalogue, repo, slug),
    )


def draft_view(
    store: DraftStore, tip: DraftTip, *, catalogue: Catalogue | None, writable: bool
) -> PersonaView:
    """The persona of draft ``tip`` as its tip commit has it."""
    repo = store.repo_at(tip.head)
    persona = repo.personas.get(tip.slug)
    raw = store.read(tip.head, tip.path)
    return PersonaView(
        slug=tip.slug,
        persona_exists=raw is not None,
        **editable(writable, True),
        origin="draft",
        draft=tip.to_ref(store.head_sha()),
        draft_version=tip.version,
        path=tip.path,
        yaml_text=(raw or b"").decode("utf-8", errors="replace"),
        **loaded_fields(repo, persona, tip.path),
        last_commit=store.last_commit(tip.path, tip.head),
        catalogue=catalogue_state(catalogue, repo, tip.slug),
    )

"""``--changed-since``: the personas whose tests may answer differently since a git ref.

A persona is selected when any file it depends on changed: its persona file, its prompt
and avatar, its tests file, the knowledge folders of its sources, and the test persona
files its conversations use (a file added, changed or deleted).
"""

from __future__ import annotations

from pathlib import Path

from personas_as_code.loader.repo import Repo


def persona_inputs(repo: Repo, slug: str) -> set[str]:
    """Every repo path persona ``slug``'s test results depend on."""
    persona = repo.personas[slug]
    paths = set(persona.referenced_files)
    tests = repo.persona_tests.by_slug.get(slug)
    if tests is not None:
        paths.add(tests.path)
        for item in tests.cases:
            conversation = item.case.conversation
            if conversation is None:
                continue
            user = repo.test_personas.personas.get(conversation.test_persona)
            if user is not None:
                paths.update(user.referenced_files)
    return paths


def knowledge_prefixes(repo: Repo, slug: str) -> set[str]:
    """The knowledge folders (``knowledge/<source_id>/``) persona ``slug`` retrieves from."""
    folder = repo.config.knowledge.folder
    return {f"{folder}/{s.id}/" for s in repo.personas[slug].spec.sources}


def changed_personas(repo: Repo, root: str | Path, ref: str) -> list[str]:
    """The personas with tests whose inputs changed between ``ref`` and the working tree."""
    from personas_as_code.sync.gitinfo import changed_since  # GitPython: only when asked

    changed = changed_since(Path(root), ref)
    touched = changed.changed | changed.deleted
    return [
        slug
        for slug in repo.persona_tests.by_slug
        if slug in repo.personas
        and (
            persona_inputs(repo, slug) & touched
            or any(p.startswith(tuple(knowledge_prefixes(repo, slug))) for p in touched)
        )
    ]

"""``personas import``: write catalogue personas as repo files and adopt them.

Adoption writes this repo's ownership marker into each imported persona's
metadata (nothing else changes), so the next plan over the imported files is
empty and later applies may manage them.
"""

from __future__ import annotations

import io
import posixpath
from dataclasses import dataclass, field

from personas_as_code.catalogue.api import Persona, PersonaUpdate, published_model_slug
from personas_as_code.catalogue.persona_mapping import file_document
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.loader.avatar import check_avatar
from personas_as_code.loader.modeline import modeline
from personas_as_code.loader.repo import Repo
from personas_as_code.schemas.errors import CatalogueError, NotFound, PersonasError, WriteRefused
from personas_as_code.schemas.fields import AVATAR_MIME_BY_EXTENSION, SLUG_MAX_LENGTH, SLUG_RE
from personas_as_code.sync.marker import Marker, read_marker, user_metadata, with_marker
from personas_as_code.sync.normalize import normalize_text
from personas_as_code.sync.safe_write import write_inside
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

_EXTENSION = {mime: ext for ext, mime in reversed(AVATAR_MIME_BY_EXTENSION.items())}


@dataclass
class ImportResult:
    """Files written, personas skipped (with the reason), personas refused (bad data
    from the catalogue, or a path that would leave the repo; with the reason), personas
    taken over from another repo (``--adopt``: slug → that repo, None for none) and the
    skipped personas another repo manages (slug → that repo)."""

    written: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    adopted: dict[str, str | None] = field(default_factory=dict)
    others: dict[str, str] = field(default_factory=dict)


def persona_document(
    persona: Persona, groups: list[str], avatar: str | None, path: str
) -> CommentedMap:
    """The content of the persona file at repo path ``path`` for a catalogue persona, in
    the file format's key order (``catalogue.persona_mapping.file_document``)."""
    doc = file_document(
        persona.model_copy(update={"system_prompt": normalize_text(persona.system_prompt)}),
        metadata=user_metadata(persona.metadata),
        groups=groups,
        avatar=avatar,
    )
    doc.yaml_set_start_comment(modeline(path))
    return doc


def dump_yaml(doc: CommentedMap) -> str:
    """YAML text in the repo's style (2-space indent, block sequences)."""
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    return buffer.getvalue()


def _personas_folder(repo: Repo) -> str:
    """The configured personas directory as a plain relative path ('' for the root)."""
    folder = posixpath.normpath(repo.config.repo.personas_dir.strip().strip("/") or ".")
    return "" if folder == "." else folder + "/"


def _slug_problem(slug: object) -> str | None:
    """Why a slug answered by the catalogue cannot name a file, or None."""
    if isinstance(slug, str) and len(slug) <= SLUG_MAX_LENGTH and SLUG_RE.match(slug):
        return None
    return (
        "the catalogue answered an invalid slug (lowercase letters, digits and single "
        f"hyphens, at most {SLUG_MAX_LENGTH} characters); nothing written for it"
    )


def _avatar_file(
    catalogue: Catalogue, persona: Persona, folder: str
) -> tuple[str, str, bytes] | None:
    """The avatar's (reference, repo path, bytes), checked like a file's avatar; None
    without one.  Raises ``CatalogueError`` when the catalogue's avatar is unsafe."""
    if not persona.avatar_url:
        return None
    data, content_type = catalogue.get_avatar(persona.id)
    mime = check_avatar(data, content_type)
    ext = _EXTENSION.get(mime, ".png")
    return f"avatars/{persona.slug}{ext}", f"{folder}avatars/{persona.slug}{ext}", data


def _chosen(
    catalogue: Catalogue, slugs: list[str] | None, result: ImportResult
) -> dict[str, Persona]:
    """The catalogue personas to import by slug (all when ``slugs`` is None); those with
    an invalid slug go to ``result.refused``.  Raises ``NotFound`` for a named slug the
    catalogue does not have."""
    personas: dict[str, Persona] = {}
    for persona in catalogue.iter_personas():
        problem = _slug_problem(persona.slug)
        if problem is None:
            personas[persona.slug] = persona
        else:
            result.refused[ascii(persona.slug)[1:-1][:200]] = problem
    if slugs is not None:
        missing = sorted(set(slugs) - set(personas))
        if missing:
            raise NotFound(f"no catalogue persona with slug {', '.join(missing)}")
        personas = {s: personas[s] for s in slugs}
    return personas


def import_personas(
    repo: Repo,
    catalogue: Catalogue,
    slugs: list[str] | None,
    *,
    overwrite: bool = False,
    adopt: frozenset[str] = frozenset(),
) -> ImportResult:
    """Write the chosen catalogue personas (all when ``slugs`` is None) as files; adopt them.

    A persona another repo manages is skipped unless its slug is in ``adopt``: then it
    is taken over (its marker becomes this repo's), and its file is written unless the
    repo has one already (the file then decides what the next apply changes).

    Every slug the catalogue answers is checked before it becomes a file name; a
    persona with an invalid slug or an unsafe avatar is refused (``result.refused``)
    and nothing is written for it.  Files are written without following symlinks.
    """
    if repo.root is None:
        raise PersonasError("import needs a repo directory")
    result = ImportResult()
    personas = _chosen(catalogue, slugs, result)
    tenant = repo.config.repo.tenant
    groups_of: dict[str, list[str]] = {}
    for group in catalogue.list_model_groups():
        for model_slug in group.model_slugs:
            groups_of.setdefault(model_slug, []).append(group.id)
    folder = _personas_folder(repo)
    for slug, persona in sorted(personas.items()):
        marker = read_marker(persona.metadata)
        taking_over = slug in adopt
        if marker is not None and marker.repo != repo.config.repo.id and not taking_over:
            result.skipped[slug] = (
                f"managed by repo '{marker.repo}'; `personas import --adopt {slug}` takes it over"
            )
            result.others[slug] = marker.repo
            continue
        rel = f"{folder}{slug}.yaml"
        exists = (repo.root / rel).exists() or slug in repo.personas
        if exists and taking_over and not overwrite:
            rel = repo.personas[slug].path if slug in repo.personas else rel
            _take_over(catalogue, persona, Marker(repo=repo.config.repo.id, path=rel))
            result.adopted[slug] = marker.repo if marker else None
            continue
        if exists and not overwrite:
            result.skipped[slug] = f"{rel} already exists (use --overwrite)"
            continue
        if persona.sources is None:
            persona.sources = catalogue.list_sources(persona.id)
        try:
            avatar = _avatar_file(catalogue, persona, folder)
        except CatalogueError as exc:
            result.refused[slug] = f"its avatar is refused: {exc.message}; nothing written"
            continue
        groups = groups_of.get(published_model_slug(tenant, slug), [])
        text = dump_yaml(persona_document(persona, groups, avatar[0] if avatar else None, rel))
        try:
            if avatar is not None:
                write_inside(repo.root, avatar[1], avatar[2])
            write_inside(repo.root, rel, text.encode("utf-8"))
        except WriteRefused as exc:
            result.refused[slug] = exc.message
            continue
        _take_over(catalogue, persona, Marker(repo=repo.config.repo.id, path=rel))
        result.written.append(rel)
        if taking_over:
            result.adopted[slug] = marker.repo if marker else None
    return result


def _take_over(catalogue: Catalogue, persona: Persona, marker: Marker) -> None:
    """Write this repo's ownership marker into the persona (nothing else changes)."""
    catalogue.update_persona(
        persona.id, PersonaUpdate(metadata=with_marker(persona.metadata, marker))
    )

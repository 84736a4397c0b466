"""Targeted plans (``personas plan SLUG…``, ``personas apply SLUG…``, like
``terraform -target``): only the named personas and what they need.

What a targeted plan covers:

- the named personas: their files, or — for an owned catalogue persona whose file is
  gone — its orphan (deleted only with an explicit ``--prune``; ``[safety] prune`` in
  ``personas.toml`` is never implied);
- the knowledge sources those personas name, indexed without dropping any other;
- nothing else: no other persona, orphan or unmanaged persona, no ``[backends]``, no
  test personas.  A full plan reconciles those.
"""

from __future__ import annotations

from collections.abc import Iterable

from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.loader.repo import Repo
from personas_as_code.schemas.errors import NotFound
from personas_as_code.sync.backends import BackendSection
from personas_as_code.sync.differ import DiffContext
from personas_as_code.sync.knowledge import plan_knowledge
from personas_as_code.sync.persona_section import PersonaSection
from personas_as_code.sync.section import Section
from personas_as_code.sync.simulated_users import SimulatedUsersSection
from personas_as_code.sync.state import ActualPersona

SHOWN_UNKNOWN = 20  # unknown targets named in the error, at most


def check_targets(targets: Iterable[str], repo: Repo, actual: Iterable[ActualPersona]) -> None:
    """Raise ``NotFound`` naming the targets that are neither a persona file of the repo
    nor a catalogue persona this repo owns."""
    repo_id = repo.config.repo.id
    known = set(repo.personas) | {
        a.slug for a in actual if a.marker is not None and a.marker.repo == repo_id
    }
    unknown = sorted(set(targets) - known)
    if unknown:
        names = ", ".join(ascii(t)[:80] for t in unknown[:SHOWN_UNKNOWN])
        more = f" and {len(unknown) - SHOWN_UNKNOWN} more" if len(unknown) > SHOWN_UNKNOWN else ""
        raise NotFound(
            f"unknown persona(s) {names}{more}: a target must be the slug of a persona file "
            "or of a catalogue persona this repo manages",
            details={"unknown": unknown[:SHOWN_UNKNOWN]},
        )


def targeted_sections(
    repo: Repo, catalogue: Catalogue, personas: PersonaSection, ctx: DiffContext
) -> tuple[Section, ...]:
    """The sections of a targeted plan: ``personas`` (already limited to the targets),
    the knowledge sources the targeted files name, and empty backends and test personas."""
    wanted = ctx.only_slugs or set()
    sources = frozenset(
        source.id
        for slug, persona in repo.personas.items()
        if slug in wanted
        for source in persona.spec.sources
    )
    return (
        personas,
        plan_knowledge(repo, catalogue, only=sources),
        BackendSection(),
        SimulatedUsersSection(),
    )


PARTIAL_REST = (
    "(and the knowledge sources they use); other personas, orphans, backends and test "
    "personas are left as they are, and only the named personas are pruned, with --prune. "
    "Run a full plan to reconcile the rest."
)


def partial_note(targets: tuple[str, ...]) -> str:
    """The sentence every format of a targeted plan carries."""
    return "Partial plan: only " + ", ".join(targets) + " " + PARTIAL_REST

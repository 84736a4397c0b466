"""Planning against a catalogue that answers exactly the reference API shape.

ScaiGrid's own ScaiPersona module does not inline sources or avatar hashes in
persona lists (our catalogue does, as an extension). The engine must then read
sources per persona and rely on the marker's avatar hash, and still converge.
"""

from __future__ import annotations

from pathlib import Path

from personas_as_code.catalogue.api import Page, Persona
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.sync.engine import apply_repo, compute_plan, load_valid_repo

from tests.sync.conftest import FAST_RETRY, open_target


class ReferenceShapeCatalogue(HttpCatalogue):
    """Our HTTP client, dropping the extension fields from every persona it reads."""

    def list_personas(self, **kwargs) -> Page[Persona]:
        page = super().list_personas(**kwargs)
        for persona in page.items:
            persona.sources = None
            persona.avatar_sha256 = None
        return page


def test_plan_and_apply_without_inline_sources(example_repo: Path, sqlite_url: str) -> None:
    with (
        open_target("http", sqlite_url) as target,
        ReferenceShapeCatalogue(target.base_url, target.key, retry=FAST_RETRY) as cat,
    ):
        repo = load_valid_repo(example_repo)
        plan, ctx = compute_plan(repo, cat)
        assert apply_repo(repo, cat, plan, ctx).ok
        before = cat.request_count
        again, _ = compute_plan(repo, cat)
        assert not again.has_changes, [p.to_dict() for p in again.changed]
        # 1 list page + one sources read per persona + groups + models + the test personas
        assert cat.request_count - before == 1 + len(repo.personas) + 2 + 1

        path = example_repo / "personas/support-agent.yaml"
        path.write_text(path.read_text().replace("weight: 1.5", "weight: 2.5"))
        (changed,) = compute_plan(load_valid_repo(example_repo), cat)[0].changed
        assert [c.kind for c in changed.changes] == ["update_source"]

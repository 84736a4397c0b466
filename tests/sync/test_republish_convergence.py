"""An interrupted republish is redone (issue 9, item 1).

A published persona whose model or slug changes is applied as a field update,
then unpublish + publish.  When the run stops in between, or the catalogue
syncs only some fields on save (ScaiGrid rewrites display fields, not the
slug or the backend links), the published model is out of step with the
persona.  The plan compares the published model with the persona and plans a
republish; killed at every write of such an apply, the next run converges.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from personas_as_code.catalogue.api import PersonaUpdate
from personas_as_code.catalogue.db import FrontendModelRow, ModelBackendLink
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.sync.changes import Republish
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tests.sync.conftest import Sync, Target, open_target
from tests.sync.test_resume import Killer, apply_until_killed, assert_converged


def change_model(root: Path) -> None:
    """sql-helper (published) moves from gpt-4o-mini to gpt-4o."""
    path = root / "personas" / "sql-helper.yaml"
    path.write_text(
        path.read_text().replace("model: scaigrid/gpt-4o-mini", "model: scaigrid/gpt-4o")
    )


def rename(root: Path, *, groups: bool = True) -> None:
    """translator (published) becomes interpreter; optionally published with no groups."""
    old = root / "personas" / "translator.yaml"
    text = old.read_text().replace("slug: translator", "slug: interpreter")
    text = text.replace("previous_slugs: [doc-translator]", "previous_slugs: [translator]")
    if not groups:
        text = text.replace("groups: [mg_internal_chat, mg_qa]", "groups: []")
    old.unlink()
    (root / "personas" / "interpreter.yaml").write_text(text)


def stale_model(engine, published: str, /, **values) -> None:
    """Make a published model look as a catalogue that did not sync it would leave it."""
    with Session(engine) as session:
        row = session.execute(
            select(FrontendModelRow).where(FrontendModelRow.slug == published)
        ).scalar_one()
        links = values.pop("links", None)
        for key, value in values.items():
            setattr(row, key, value)
        if links is not None:
            session.execute(
                delete(ModelBackendLink).where(ModelBackendLink.frontend_model_id == row.id)
            )
            session.flush()
            for backend_id in links:
                session.add(ModelBackendLink(frontend_model_id=row.id, backend_model_id=backend_id))
        session.commit()


def backend_ids(engine, model_slug: str) -> list[str]:
    with Session(engine) as session:
        return list(
            session.execute(
                select(ModelBackendLink.backend_model_id)
                .join(FrontendModelRow, FrontendModelRow.id == ModelBackendLink.frontend_model_id)
                .where(FrontendModelRow.slug == model_slug)
            ).scalars()
        )


def assert_published_in_step(cat: Catalogue, tenant: str = "acme") -> None:
    """Every published persona's model has the persona's slug, base model and fields."""
    models = {m.id: m for m in cat.list_models()}
    for persona in cat.iter_personas():
        if not persona.published:
            continue
        model = models[persona.published_model_id]
        assert model.slug == f"tenant/{tenant}/{persona.slug}"
        assert model.base_model_slug == persona.model_slug
        assert model.display_name == persona.name
        assert model.system_prompt_template == persona.system_prompt
        base = cat.get_model(persona.model_slug)
        detail = cat.get_model(model.slug)
        assert detail.backend_links == base.backend_links
        assert detail.context_window == base.context_window


def republish_of(plan, slug: str) -> Republish:
    persona = next(p for p in plan.personas if p.slug == slug)
    return next(c for c in persona.changes if isinstance(c, Republish))


def test_model_change_left_half_done_is_republished(sync: Sync, target: Target) -> None:
    sync.apply()
    old_links = backend_ids(target.engine, "tenant/acme/sql-helper")
    change_model(sync.root)
    # the run stopped after the field update: the persona wraps gpt-4o, but the published
    # model was not re-linked (as on a catalogue that syncs display fields only)
    persona = sync.persona("sql-helper")
    target.catalogue.update_persona(persona.id, PersonaUpdate(model_slug="scaigrid/gpt-4o"))
    stale_model(
        target.engine,
        "tenant/acme/sql-helper",
        base_model_slug="scaigrid/gpt-4o-mini",
        context_window=1,
        links=old_links,
    )
    plan = sync.plan()
    change = republish_of(plan, "sql-helper")
    assert "still wraps scaigrid/gpt-4o-mini, not scaigrid/gpt-4o" in change.reason
    assert [c.kind for c in next(p for p in plan.personas if p.slug == "sql-helper").changes] == [
        "republish"
    ]
    _, result = sync.apply()
    assert result.ok
    assert not sync.plan().has_changes
    assert_published_in_step(target.catalogue)


@pytest.mark.parametrize("groups", [True, False], ids=["with-groups", "no-groups"])
def test_rename_left_half_done_is_republished(sync: Sync, target: Target, groups: bool) -> None:
    if not groups:
        path = sync.root / "personas" / "translator.yaml"
        path.write_text(path.read_text().replace("groups: [mg_internal_chat, mg_qa]", "groups: []"))
    sync.apply()
    rename(sync.root, groups=groups)
    persona = sync.persona("translator")
    target.catalogue.update_persona(persona.id, PersonaUpdate(slug="interpreter"))
    stale_model(target.engine, "tenant/acme/interpreter", slug="tenant/acme/translator")
    plan = sync.plan()
    change = republish_of(plan, "interpreter")
    assert "the published model is still tenant/acme/translator, not tenant/acme/interpreter" in (
        change.reason
    )
    _, result = sync.apply()
    assert result.ok
    assert not sync.plan().has_changes
    slugs = {m.slug for m in target.catalogue.list_models()}
    assert "tenant/acme/interpreter" in slugs and "tenant/acme/translator" not in slugs
    want = ["mg_internal_chat", "mg_qa"] if groups else []
    assert target.catalogue.get_model("tenant/acme/interpreter").group_ids == want
    assert_published_in_step(target.catalogue)


def test_stale_display_fields_are_republished(esync: Sync, embedded: Target) -> None:
    esync.apply()
    stale_model(embedded.engine, "tenant/acme/support-agent", display_name="Old name")
    change = republish_of(esync.plan(), "support-agent")
    assert "stale on the published model: display name" in change.reason
    esync.apply()
    assert not esync.plan().has_changes
    assert_published_in_step(embedded.catalogue)


# Every write of an apply that changes a published persona's model and renames another:
# sql-helper (PUT, unpublish, publish) and interpreter (PUT, unpublish, publish).
KILL_POINTS = [(n, when) for n in range(1, 7) for when in ("before", "after")]


@pytest.mark.slow  # an apply per write, killed at each
@pytest.mark.parametrize(("at", "when"), KILL_POINTS, ids=[f"{n}-{w}" for n, w in KILL_POINTS])
def test_republish_and_rename_killed_at_every_write_converge(
    example_repo: Path, sqlite_url: str, at: int, when: str
) -> None:
    killer = Killer(at, when)
    with open_target("http", sqlite_url, app_wrapper=killer.wrap) as target:
        killer.at = 10**6  # let the first apply through
        assert_converged(target.catalogue, example_repo)
        change_model(example_repo)
        rename(example_repo)
        killer.at = killer.seen + at
        apply_until_killed(target, example_repo, killer)
        assert_converged(target.catalogue, example_repo)
        assert_published_in_step(target.catalogue)
        slugs = {m.slug for m in target.catalogue.list_models()}
        assert "tenant/acme/translator" not in slugs

"""The ``Catalogue`` contract, run on {embedded, HTTP over loopback} × {SQLite, PostgreSQL}."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from personas_as_code.catalogue.api import PersonaCreate, PersonaUpdate, SourceCreate, SourceUpdate
from personas_as_code.catalogue.db import ModelBackendLink
from personas_as_code.catalogue.protocol import Catalogue
from personas_as_code.schemas.errors import (
    FileTooLarge,
    InvalidFileType,
    ModelNotFound,
    NoAvatar,
    PersonaNotFound,
    PersonaNotPublished,
    SlugConflict,
    SourceDuplicate,
    SourceNotFound,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.catalogue.conftest import Kit

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 32
SAFE_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect/></svg>'
EVIL_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def new(cat: Catalogue, name: str = "Support Agent", **kw: object):
    return cat.create_persona(PersonaCreate(name=name, model_slug="scaigrid/gpt-4o", **kw))


def groups_of(cat: Catalogue, scope: str) -> dict[str, list[str]]:
    return {g.id: g.model_slugs for g in cat.list_model_groups() if g.scope == scope}


def test_implements_protocol(cat: Catalogue) -> None:
    assert isinstance(cat, Catalogue)


# --- CRUD ------------------------------------------------------------------


def test_create_derives_slug_and_applies_defaults(cat: Catalogue) -> None:
    p = new(cat, "Ünïcode Support  Agent!")
    assert re.fullmatch(r"per_[0-9a-f]+", p.id)
    assert p.slug == "unicode-support-agent"
    assert (p.system_prompt, p.rag_enabled, p.rag_strategy, p.rag_top_k) == (
        "",
        False,
        "single_step",
        5,
    )
    assert (p.status, p.status_messages_mode, p.published) == ("draft", "standard", False)
    assert p.sources == [] and p.avatar_sha256 is None and p.avatar_url is None
    assert cat.get_persona(p.id) == p


def test_slug_is_unique_per_tenant(kit: Kit) -> None:
    acme, globex = kit.catalogue("acme"), kit.catalogue("globex")
    new(acme, "Bot", slug="helper")
    with pytest.raises(SlugConflict):
        new(acme, "Other", slug="helper")
    with pytest.raises(SlugConflict):
        new(acme, "Helper")  # derived slug collides too
    assert new(globex, "Bot", slug="helper").slug == "helper"


def test_unknown_model_slug_on_create_and_on_put(cat: Catalogue) -> None:
    with pytest.raises(ModelNotFound):
        cat.create_persona(PersonaCreate(name="X", model_slug="scaigrid/nope"))
    p = new(cat)
    with pytest.raises(ModelNotFound):
        cat.update_persona(p.id, PersonaUpdate(model_slug="scaigrid/nope"))
    assert cat.get_persona(p.id).model_slug == "scaigrid/gpt-4o"
    assert cat.update_persona(
        p.id, PersonaUpdate(model_slug="scaigrid/llama-3.1-8b")
    ).model_slug == ("scaigrid/llama-3.1-8b")


def test_put_applies_only_non_null_fields(cat: Catalogue) -> None:
    p = new(
        cat,
        system_prompt="one",
        rag_min_score=0.4,
        default_params={"temperature": 0.2},
        metadata={"team": "support"},
    )
    q = cat.update_persona(p.id, PersonaUpdate(system_prompt="two", rag_min_score=None))
    assert q.system_prompt == "two"
    assert q.rag_min_score == 0.4  # null is ignored, never clears
    assert q.default_params == {"temperature": 0.2} and q.metadata == {"team": "support"}
    assert q.name == p.name and q.slug == p.slug
    r = cat.update_persona(p.id, PersonaUpdate(metadata={"x": 1}, rag_top_k=9, status="active"))
    assert (r.metadata, r.rag_top_k, r.status) == ({"x": 1}, 9, "active")


def test_put_slug_conflict(cat: Catalogue) -> None:
    new(cat, "A")
    b = new(cat, "B")
    with pytest.raises(SlugConflict):
        cat.update_persona(b.id, PersonaUpdate(slug="a"))
    assert cat.update_persona(b.id, PersonaUpdate(slug="b-two")).slug == "b-two"


def test_other_tenants_persona_is_not_found(kit: Kit) -> None:
    acme, globex = kit.catalogue("acme"), kit.catalogue("globex")
    p = new(acme)
    for call in (
        lambda: globex.get_persona(p.id),
        lambda: globex.update_persona(p.id, PersonaUpdate(name="hijack")),
        lambda: globex.delete_persona(p.id),
        lambda: globex.publish_persona(p.id),
        lambda: globex.list_sources(p.id),
        lambda: globex.add_source(p.id, SourceCreate(source_type="collection", source_id="c")),
        lambda: globex.upload_avatar(p.id, PNG, "image/png"),
    ):
        with pytest.raises(PersonaNotFound):
            call()
    assert [x.id for x in globex.iter_personas()] == []
    assert acme.get_persona(p.id).name == p.name


def test_delete_cascades_sources_and_unpublishes(kit: Kit) -> None:
    cat = kit.catalogue()
    p = new(cat)
    cat.add_source(p.id, SourceCreate(source_type="collection", source_id="docs"))
    cat.upload_avatar(p.id, PNG, "image/png")
    cat.publish_persona(p.id, ["mg_internal_chat"])
    cat.delete_persona(p.id)
    with pytest.raises(PersonaNotFound):
        cat.get_persona(p.id)
    with pytest.raises(PersonaNotFound):
        cat.get_avatar(p.id)
    assert not [m for m in cat.list_models() if m.slug.startswith("tenant/")]
    assert groups_of(cat, "tenant")["mg_internal_chat"] == []
    with pytest.raises(PersonaNotFound):
        cat.delete_persona(p.id)


# --- listing ---------------------------------------------------------------


def test_pagination_asc_desc_and_inline_sources(cat: Catalogue) -> None:
    ids = [new(cat, f"P{i}").id for i in range(7)]
    cat.add_source(ids[0], SourceCreate(source_type="collection", source_id="c0"))
    cat.upload_avatar(ids[1], PNG, "image/png")
    seen, cursor = [], None
    while True:
        page = cat.list_personas(limit=3, cursor=cursor)
        assert len(page.items) <= 3
        seen += page.items
        if not page.has_more:
            assert page.next_cursor is None
            break
        cursor = page.next_cursor
    assert [p.id for p in seen] == ids
    assert [s.source_id for s in seen[0].sources or []] == ["c0"]
    assert seen[1].avatar_sha256 and len(seen[1].avatar_sha256) == 64
    desc = cat.list_personas(limit=4, order="desc")
    assert [p.id for p in desc.items] == ids[::-1][:4] and desc.has_more
    rest = cat.list_personas(limit=4, order="desc", cursor=desc.next_cursor)
    assert [p.id for p in rest.items] == ids[::-1][4:] and not rest.has_more
    assert [p.id for p in cat.iter_personas(page_size=2)] == ids


def test_pagination_is_stable_under_inserts(cat: Catalogue) -> None:
    ids = [new(cat, f"P{i}").id for i in range(6)]
    first = cat.list_personas(limit=3)
    added = [new(cat, f"Late {i}").id for i in range(2)]
    second = cat.list_personas(limit=10, cursor=first.next_cursor)
    got = [p.id for p in first.items + second.items]
    assert got == ids + added  # nothing skipped or repeated; new rows come last
    desc = cat.list_personas(limit=2, order="desc")
    new(cat, "Later still")
    more = cat.list_personas(limit=100, order="desc", cursor=desc.next_cursor)
    assert [p.id for p in desc.items + more.items] == (ids + added)[::-1]


# --- publishing ------------------------------------------------------------


def test_publish_materialises_a_model_inheriting_from_the_wrapped_one(kit: Kit) -> None:
    cat = kit.catalogue()
    p = cat.create_persona(
        PersonaCreate(
            name="Helper",
            model_slug="scaigrid/claude-sonnet-4",
            system_prompt="You help.",
            rag_enabled=True,
            default_params={"temperature": 0.3},
            metadata={"team": "x"},
        )
    )
    q = cat.publish_persona(p.id)
    assert q.published and q.published_model_id
    models = {m.slug: m for m in cat.list_models()}
    base, m = models["scaigrid/claude-sonnet-4"], models["tenant/acme/helper"]
    assert m.id == q.published_model_id
    assert (m.modality, m.capabilities, m.context_window, m.pricing) == (
        base.modality,
        base.capabilities,
        200000,
        base.pricing,
    )
    assert m.system_prompt_template == "You help."
    assert m.display_name == "Helper"
    assert m.metadata == {"persona_id": p.id, "rag_enabled": True}
    assert m.default_params == {"temperature": 0.3}
    with Session(kit.engine) as s:
        links = lambda fid: sorted(  # noqa: E731
            s.execute(
                select(ModelBackendLink.backend_model_id).where(
                    ModelBackendLink.frontend_model_id == fid
                )
            ).scalars()
        )
        assert links(m.id) == links(base.id) != []


def test_publish_is_idempotent_and_ignores_new_groups(cat: Catalogue) -> None:
    p = new(cat)
    first = cat.publish_persona(p.id, ["mg_internal_chat"])
    again = cat.publish_persona(p.id, ["mg_qa"])
    assert again.published_model_id == first.published_model_id
    groups = groups_of(cat, "tenant")
    assert groups["mg_internal_chat"] == ["tenant/acme/support-agent"]
    assert groups["mg_qa"] == []
    assert len([m for m in cat.list_models() if m.slug == "tenant/acme/support-agent"]) == 1


def test_save_and_avatar_sync_the_published_model(cat: Catalogue) -> None:
    p = new(cat, system_prompt="v1")
    cat.publish_persona(p.id)
    cat.update_persona(
        p.id,
        PersonaUpdate(
            name="Renamed",
            system_prompt="v2",
            default_params={"max_tokens": 10},
            rag_enabled=True,
            metadata={"ignored": "by the model"},
        ),
    )
    url = cat.upload_avatar(p.id, PNG, "image/png")
    assert url == f"/v1/modules/scaipersona/personas/{p.id}/avatar"
    m = next(m for m in cat.list_models() if m.slug == "tenant/acme/support-agent")
    assert (m.display_name, m.system_prompt_template) == ("Renamed", "v2")
    assert m.default_params == {"max_tokens": 10}
    assert m.metadata == {"persona_id": p.id, "rag_enabled": True}
    assert m.avatar_url == url


def test_unpublish_removes_model_and_memberships(cat: Catalogue) -> None:
    p = new(cat)
    with pytest.raises(PersonaNotPublished):
        cat.unpublish_persona(p.id)
    cat.publish_persona(p.id, ["mg_internal_chat", "mg_qa"])
    q = cat.unpublish_persona(p.id)
    assert not q.published and q.published_model_id is None
    assert "tenant/acme/support-agent" not in {m.slug for m in cat.list_models()}
    assert all(not v for v in groups_of(cat, "tenant").values())
    with pytest.raises(PersonaNotPublished):
        cat.unpublish_persona(p.id)
    # republish applies groups again
    cat.publish_persona(p.id, ["mg_qa"])
    assert groups_of(cat, "tenant")["mg_qa"] == ["tenant/acme/support-agent"]


def test_tenant_admin_group_scope(kit: Kit) -> None:
    cat = kit.catalogue("acme", "tenant_admin")  # seeded first: gets the literal group ids
    other = kit.catalogue("initech")  # same partner, another tenant
    other_group = next(iter(groups_of(other, "tenant")))
    assert other_group.endswith("_initech")
    p = new(cat)
    cat.publish_persona(
        p.id, ["mg_internal_chat", "mg_global_public", "mg_partner_shared", other_group, "mg_nope"]
    )
    slug = "tenant/acme/support-agent"
    everything = kit.catalogue("root", "super_admin").list_model_groups()
    members = {g.id for g in everything if slug in g.model_slugs}
    assert members == {"mg_internal_chat"}
    assert other_group not in {g.id for g in cat.list_model_groups()}


def test_partner_admin_group_scope(kit: Kit) -> None:
    cat = kit.catalogue("acme", "partner_admin")
    sibling = next(iter(groups_of(kit.catalogue("initech"), "tenant")))
    globex = kit.catalogue("globex", partner="other")
    foreign = next(iter(groups_of(globex, "tenant")))
    foreign_partner = next(iter(groups_of(globex, "partner")))
    assert foreign_partner == "mg_partner_shared_other"
    p = new(cat)
    cat.publish_persona(
        p.id,
        ["mg_qa", "mg_partner_shared", sibling, foreign, foreign_partner, "mg_global_public"],
    )
    slug = "tenant/acme/support-agent"
    everything = kit.catalogue("root", "super_admin").list_model_groups()
    assert {g.id for g in everything if slug in g.model_slugs} == {
        "mg_qa",
        "mg_partner_shared",
        sibling,
    }


def test_super_admin_may_use_any_group(kit: Kit) -> None:
    cat = kit.catalogue("acme", "super_admin")
    foreign = next(iter(groups_of(kit.catalogue("globex", partner="other"), "tenant")))
    p = new(cat)
    wanted = {"mg_global_public", "mg_partner_shared", "mg_support", foreign}
    cat.publish_persona(p.id, sorted(wanted))
    slug = "tenant/acme/support-agent"
    assert {g.id for g in cat.list_model_groups() if slug in g.model_slugs} == wanted


def test_models_visible_are_global_plus_own(kit: Kit) -> None:
    acme, globex = kit.catalogue("acme"), kit.catalogue("globex")
    acme.publish_persona(new(acme).id)
    globex.publish_persona(new(globex).id)
    slugs = {m.slug for m in acme.list_models()}
    assert {
        "scaigrid/gpt-4o",
        "scaigrid/gpt-4o-mini",
        "scaigrid/claude-sonnet-4",
        "scaigrid/llama-3.1-8b",
        "scaigrid/mistral-large",
        "tenant/acme/support-agent",
    } == slugs
    ctx = {m.slug: m.context_window for m in acme.list_models()}
    assert ctx["scaigrid/llama-3.1-8b"] == 8192 and ctx["scaigrid/mistral-large"] == 32000
    assert {g.id: g.scope for g in acme.list_model_groups()} == {
        "mg_global_public": "global",
        "mg_partner_shared": "partner",
        "mg_internal_chat": "tenant",
        "mg_qa": "tenant",
        "mg_support": "tenant",
    }


# --- sources ---------------------------------------------------------------


def test_sources_order_duplicates_update_delete(cat: Catalogue) -> None:
    p = new(cat)
    a = cat.add_source(p.id, SourceCreate(source_type="collection", source_id="docs", weight=1.5))
    b = cat.add_source(
        p.id, SourceCreate(source_type="scaidrive", source_id="share1", source_name="Share")
    )
    c = cat.add_source(p.id, SourceCreate(source_type="scaidrive", source_id="docs"))
    assert re.fullmatch(r"src_[0-9a-f]+", a.id)
    assert (a.weight, a.status, b.source_name) == (1.5, "active", "Share")
    with pytest.raises(SourceDuplicate):
        cat.add_source(p.id, SourceCreate(source_type="collection", source_id="docs"))
    assert [s.id for s in cat.list_sources(p.id)] == [a.id, b.id, c.id]
    u = cat.update_source(
        p.id,
        a.id,
        SourceUpdate(weight=9.5, status="disabled", search_config={"search_type": "keyword"}),
    )
    assert (u.weight, u.status, u.search_config) == (9.5, "disabled", {"search_type": "keyword"})
    assert cat.update_source(p.id, a.id, SourceUpdate(weight=2.0)).status == "disabled"
    cat.delete_source(p.id, b.id)
    assert [s.id for s in cat.get_persona(p.id).sources or []] == [a.id, c.id]
    with pytest.raises(SourceNotFound):
        cat.delete_source(p.id, b.id)
    with pytest.raises(SourceNotFound):
        cat.update_source(p.id, "src_missing", SourceUpdate(weight=1))
    q = new(cat, "Other")
    with pytest.raises(SourceNotFound):
        cat.update_source(q.id, a.id, SourceUpdate(weight=1))


# --- avatars ---------------------------------------------------------------


def test_avatar_upload_and_get(cat: Catalogue) -> None:
    p = new(cat)
    with pytest.raises(NoAvatar):
        cat.get_avatar(p.id)
    cat.upload_avatar(p.id, PNG, "image/png")
    assert cat.get_avatar(p.id) == (PNG, "image/png")
    cat.upload_avatar(p.id, SAFE_SVG, "image/svg+xml")
    assert cat.get_avatar(p.id) == (SAFE_SVG, "image/svg+xml")
    got = cat.get_persona(p.id)
    assert got.avatar_url and got.avatar_sha256 and len(got.avatar_sha256) == 64


def test_avatar_rejections(cat: Catalogue) -> None:
    p = new(cat)
    with pytest.raises(FileTooLarge):
        cat.upload_avatar(p.id, PNG + b"\x00" * (2 * 1024 * 1024), "image/png")
    with pytest.raises(InvalidFileType):
        cat.upload_avatar(p.id, GIF, "image/png")  # bytes say GIF
    with pytest.raises(InvalidFileType):
        cat.upload_avatar(p.id, b"%PDF-1.4", "application/pdf")
    with pytest.raises(InvalidFileType):
        cat.upload_avatar(p.id, EVIL_SVG, "image/svg+xml")
    with pytest.raises(NoAvatar):
        cat.get_avatar(p.id)


# --- concurrency -----------------------------------------------------------


def test_concurrent_calls_from_a_thread_pool(cat: Catalogue) -> None:
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda i: new(cat, f"Worker {i}").id, range(16)))
        list(pool.map(lambda pid: cat.publish_persona(pid), made))
    assert len(set(made)) == 16
    assert sum(1 for p in cat.iter_personas() if p.published) == 16

    def same_slug(_: int) -> str:
        try:
            return new(cat, "Race").id
        except SlugConflict:
            return "conflict"

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(same_slug, range(6)))
    assert results.count("conflict") == 5


def test_concurrent_publish_of_one_persona_is_idempotent(cat: Catalogue) -> None:
    p = new(cat)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: cat.publish_persona(p.id).published_model_id, range(6)))
    assert len(set(results)) == 1 and results[0]
    assert [m.id for m in cat.list_models() if m.slug == "tenant/acme/support-agent"] == results[:1]

"""Issue 21: the embedded catalogue reads the models a plan names (its model slugs and
every published persona's model) in one Core query a few hundred values, never the
whole model list; the plan it gives is the slow path's plan (the protocol's generic
``models_matching``, pages of ``list_models_page``), poisoned rows included."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from personas_as_code.catalogue import frontend_models
from personas_as_code.catalogue.api import FrontendModel
from personas_as_code.catalogue.db import is_postgres
from personas_as_code.catalogue.protocol import MODEL_FILTER_CHUNK, Catalogue, models_matching
from personas_as_code.sync.engine import compute_plan, load_valid_repo
from personas_as_code.sync.reader import read_catalogue
from pydantic_core import to_json
from sqlalchemy import text

from tests.sync.conftest import Sync, Target, open_target

DEEP = "[" * 900 + "]" * 900


class SlowModels:
    """The same catalogue, its models read the protocol's generic way (the slow path)."""

    def __init__(self, inner: Catalogue) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def list_models(
        self, *, slugs: Iterable[str] | None = None, ids: Iterable[str] | None = None
    ) -> list[FrontendModel]:
        return models_matching(self._inner, slugs, ids)


@pytest.fixture
def applied(example_repo: Path, database_url: str) -> Iterator[tuple[Sync, Target]]:
    """The example repo applied into a fresh embedded catalogue (SQLite, PostgreSQL)."""
    with open_target("embedded", database_url) as target:
        sync = Sync(example_repo, target.catalogue)
        _plan, result = sync.apply()
        assert result.ok
        yield sync, target


def _poison(target: Target, table: str, column: str, value: str, where: str) -> None:
    cast = "CAST(:v AS json)" if is_postgres(target.engine) else ":v"
    with target.engine.begin() as conn:
        conn.execute(text(f"UPDATE {table} SET {column} = {cast} WHERE {where}"), {"v": value})


def _poison_models(target: Target) -> None:
    """Published models and a starter model holding what strict JSON does not."""
    published = "base_model_slug IS NOT NULL"
    odd = '{"a": "x\\ud800y", "d": ' + DEEP + "}"
    _poison(target, "frontend_models", "metadata", odd, published)
    _poison(target, "frontend_models", "pricing", '{"big": 99999999999999999999}', published)
    _poison(target, "frontend_models", "capabilities", "null", "slug = 'scaigrid/gpt-4o'")
    if not is_postgres(target.engine):  # PostgreSQL's json type refuses these itself
        _poison(target, "frontend_models", "default_params", '{"t": NaN}', published)
    with target.engine.begin() as conn:
        conn.execute(text(f"UPDATE frontend_models SET context_window = NULL WHERE {published}"))


def _plans_agree(sync: Sync, catalogue: Catalogue) -> dict[str, Any]:
    repo = load_valid_repo(sync.root)
    fast, _ = compute_plan(repo, catalogue)
    slow, _ = compute_plan(repo, SlowModels(catalogue))
    assert fast.to_dict() == slow.to_dict()
    assert fast.checksum == slow.checksum
    slugs = {p.spec.model for p in repo.personas.values()}
    assert read_catalogue(catalogue, "acme", model_slugs=slugs) == read_catalogue(
        SlowModels(catalogue),
        "acme",
        model_slugs=slugs,
    )
    return fast.to_dict()


def test_a_plan_from_the_fast_model_read_is_the_slow_paths_plan(
    applied: tuple[Sync, Target],
) -> None:
    sync, target = applied
    assert not _plans_agree(sync, target.catalogue)["summary"].get("update")
    _poison_models(target)
    sync.edit("personas/sql-helper.yaml", "No retrieval.", "No retrieval at all.")
    sync.edit("personas/support-agent.yaml", "enabled: true", "enabled: false")
    plan = _plans_agree(sync, target.catalogue)
    assert plan["summary"]["update"] >= 2


def test_the_models_asked_for_are_read_without_the_whole_list(
    applied: tuple[Sync, Target], monkeypatch: pytest.MonkeyPatch
) -> None:
    _sync, target = applied
    _poison_models(target)
    every = models_matching(target.catalogue, None, None)
    published = [m.id for m in every if m.base_model_slug]
    assert published
    ids = [*published, *(f"fm_unknown_{n}" for n in range(MODEL_FILTER_CHUNK)), "bad\x00id"]
    slugs = ["scaigrid/gpt-4o", "no/such-model", "x" * 600]
    slow = models_matching(target.catalogue, slugs, ids)
    pages: list[Any] = []
    real_page = frontend_models.list_models

    def counted_page(*args: Any, **kwargs: Any) -> Any:
        pages.append(args)
        return real_page(*args, **kwargs)

    monkeypatch.setattr(frontend_models, "list_models", counted_page)
    fast = target.catalogue.list_models(slugs=slugs, ids=ids)
    assert pages == []  # no page of the model list was read
    assert to_json(fast) == to_json(slow)
    repaired = next(m for m in fast if m.base_model_slug)
    assert repaired.metadata["a"] == "x\ufffdy" and repaired.context_window is None
    assert {m.id for m in fast} == {*published, *(m.id for m in every if m.slug in slugs)}
    assert target.catalogue.list_models(slugs=[], ids=[]) == []
    assert to_json(target.catalogue.list_models()) == to_json(every)

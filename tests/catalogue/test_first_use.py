"""Reading never writes to an existing catalogue; only a new local SQLite file is seeded.

An unknown tenant in an existing catalogue (PostgreSQL, or an SQLite file that
holds another tenant) is a clear error naming ``personas catalogue init``, and
the database is left exactly as it was.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from personas_as_code.catalogue.db import (
    ApiKey,
    FrontendModelRow,
    ModelGroupRow,
    Partner,
    PersonaRow,
    Tenant,
    make_engine,
)
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.catalogue.seed import STARTER_MODELS, bootstrap
from personas_as_code.schemas.errors import CatalogueNotInitialised, UnknownTenant
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from tests.repos import example_repo  # noqa: F401
from tests.sync.test_cli import personas

_SPAWN = multiprocessing.get_context("spawn")
TABLES = (Tenant, Partner, ModelGroupRow, FrontendModelRow, ApiKey, PersonaRow)


def counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return {
                t.__tablename__: int(s.execute(select(func.count()).select_from(t)).scalar_one())
                for t in TABLES
            }
    finally:
        engine.dispose()


def init(url: str, tenant: str = "acme") -> None:
    """What `personas catalogue init --tenant acme` does."""
    engine = make_engine(url)
    try:
        bootstrap(engine, tenant)
    finally:
        engine.dispose()


def set_tenant(repo: Path, tenant: str) -> None:
    config = repo / "personas.toml"
    config.write_text(config.read_text().replace('tenant = "acme"', f'tenant = "{tenant}"'))


@pytest.mark.postgres
def test_plan_with_a_typo_tenant_leaves_postgresql_unchanged(
    pg_url: str,
    example_repo: Path,  # noqa: F811
) -> None:
    init(pg_url)
    before = counts(pg_url)
    set_tenant(example_repo, "acme-typo")
    done = personas("plan", cwd=example_repo, env={"PERSONAS_DATABASE_URL": pg_url})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "error UNKNOWN_TENANT: tenant 'acme-typo' is not in the catalogue" in done.stderr
    assert "it holds acme" in done.stderr
    assert "personas catalogue init --database" in done.stderr
    assert "--tenant acme-typo" in done.stderr
    assert counts(pg_url) == before
    apply = personas(
        "apply", "--auto-approve", cwd=example_repo, env={"PERSONAS_DATABASE_URL": pg_url}
    )
    assert apply.returncode == 1 and "UNKNOWN_TENANT" in apply.stderr
    assert counts(pg_url) == before


@pytest.mark.postgres
def test_blank_postgresql_is_not_initialised_by_reading(pg_url: str) -> None:
    with pytest.raises(CatalogueNotInitialised) as caught:
        EmbeddedCatalogue.open(pg_url, "acme")
    assert "personas catalogue init --database" in caught.value.message
    engine = make_engine(pg_url)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_existing_sqlite_file_with_another_tenant_is_not_written(sqlite_url: str) -> None:
    init(sqlite_url, "acme")
    before = counts(sqlite_url)
    with pytest.raises(UnknownTenant) as caught:
        EmbeddedCatalogue.open(sqlite_url, "globex")
    assert caught.value.code == "UNKNOWN_TENANT"
    assert caught.value.details == {"tenant": "globex", "tenants": ["acme"]}
    assert counts(sqlite_url) == before


def test_sqlite_file_of_another_application_is_not_initialised(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    with pytest.raises(CatalogueNotInitialised):
        EmbeddedCatalogue.open(f"sqlite:///{path}", "acme")
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["notes"]


def test_new_sqlite_file_is_created_and_seeded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'catalogue.db'}"
    with EmbeddedCatalogue.open(url, "acme") as cat:
        assert len(cat.list_models()) == len(STARTER_MODELS)
    assert counts(url)["tenants"] == 1
    with EmbeddedCatalogue.open(url, "acme"):  # reopening writes nothing
        pass
    assert counts(url)["tenants"] == 1


def test_schema_only_sqlite_catalogue_counts_as_new(sqlite_url: str) -> None:
    """`personas catalogue serve` on a new file creates tables and no tenant."""
    init_engine = make_engine(sqlite_url)
    bootstrap(init_engine)
    init_engine.dispose()
    with EmbeddedCatalogue.open(sqlite_url, "acme") as cat:
        assert cat.list_model_groups()


def _open_models(url: str, tenant: str) -> int | str:
    try:
        with EmbeddedCatalogue.open(url, tenant) as cat:
            return len(cat.list_models())
    except UnknownTenant as exc:
        return exc.code


@pytest.mark.slow  # processes
def test_concurrent_first_use_of_a_new_file_seeds_one_tenant(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    with _SPAWN.Pool(4) as pool:
        results = pool.starmap(_open_models, [(url, "acme")] * 3 + [(url, "globex")])
    # whichever tenant came first seeded the new file; the other is then unknown
    assert sorted(map(str, results)) in (
        ["5", "5", "5", "UNKNOWN_TENANT"],
        ["5", "UNKNOWN_TENANT", "UNKNOWN_TENANT", "UNKNOWN_TENANT"],
    )
    assert counts(url)["tenants"] == 1

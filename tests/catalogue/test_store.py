"""Store-level behaviour: URLs, bootstrap and seed idempotency (also across
processes), the factory's choice, and the advisory lock."""

from __future__ import annotations

import multiprocessing
import os
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.catalogue.db import (
    FrontendModelRow,
    LockRow,
    ModelBackendLink,
    ModelGroupRow,
    Tenant,
    make_engine,
    normalise_url,
    utcnow,
)
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.catalogue.factory import open_catalogue
from personas_as_code.catalogue.seed import STARTER_MODELS, bootstrap
from personas_as_code.schemas.errors import ConfigError, LockHeld
from sqlalchemy import func, select
from sqlalchemy.orm import Session

_SPAWN = multiprocessing.get_context("spawn")


def _count(session: Session, table: type) -> int:
    return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def test_normalise_url() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_default_database_is_under_the_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cat = open_catalogue(None, "acme", env={})
    try:
        assert isinstance(cat, EmbeddedCatalogue)
        assert (tmp_path / ".personas" / "catalogue.db").is_file()
        assert len(cat.list_models()) == len(STARTER_MODELS)
    finally:
        cat.close()


def test_factory_picks_http_from_env(sqlite_url: str) -> None:
    env = {"SCAIGRID_HOST": "http://127.0.0.1:9", "SCAIGRID_API_KEY": "k"}
    cat = open_catalogue(sqlite_url, "acme", env=env)
    assert isinstance(cat, HttpCatalogue) and cat.base_url == "http://127.0.0.1:9"
    cat.close()
    only_host = open_catalogue(sqlite_url, "acme", env={"SCAIGRID_HOST": "http://x"})
    assert isinstance(only_host, EmbeddedCatalogue)
    only_host.close()
    with pytest.raises(ConfigError):
        HttpCatalogue.from_env({"SCAIGRID_HOST": "http://x"})


def test_seed_is_idempotent_and_complete(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        for _ in range(3):
            bootstrap(engine, "acme")
        with Session(engine) as s:
            models = {
                m.slug: m.context_window for m in s.execute(select(FrontendModelRow)).scalars()
            }
            assert models == {
                "scaigrid/gpt-4o": 128000,
                "scaigrid/gpt-4o-mini": 128000,
                "scaigrid/claude-sonnet-4": 200000,
                "scaigrid/llama-3.1-8b": 8192,
                "scaigrid/mistral-large": 32000,
            }
            assert _count(s, ModelBackendLink) == 5
            groups = {g.id: g.scope for g in s.execute(select(ModelGroupRow)).scalars()}
            assert groups == {
                "mg_internal_chat": "tenant",
                "mg_qa": "tenant",
                "mg_support": "tenant",
                "mg_partner_shared": "partner",
                "mg_global_public": "global",
            }
        bootstrap(engine, "other-team")
        with Session(engine) as s:
            ids = set(s.execute(select(ModelGroupRow.id)).scalars())
            assert {
                "mg_internal_chat_other_team",
                "mg_qa_other_team",
                "mg_support_other_team",
            } <= ids
            assert len(ids) == 8 and _count(s, Tenant) == 2
    finally:
        engine.dispose()


def _open_and_count(url: str, tenant: str) -> int:
    cat = open_catalogue(url, tenant, env={})
    try:
        return len(cat.list_models())
    finally:
        cat.close()


@pytest.mark.slow  # processes
def test_concurrent_first_use_from_processes(database_url: str) -> None:
    if "postgresql" in database_url:  # only a new SQLite file is created on first use
        bootstrap_engine = make_engine(database_url)
        bootstrap(bootstrap_engine, "acme")
        bootstrap_engine.dispose()
    with _SPAWN.Pool(4) as pool:
        counts = pool.starmap(_open_and_count, [(database_url, "acme")] * 4)
    assert counts == [5, 5, 5, 5]
    engine = make_engine(database_url)
    with Session(engine) as s:
        assert _count(s, Tenant) == 1 and _count(s, FrontendModelRow) == 5
    engine.dispose()


def _try_lock(url: str, name: str) -> str:
    engine = make_engine(url)
    try:
        with EmbeddedCatalogue(engine, "acme").lock(name):
            return "acquired"
    except LockHeld:
        return "held"
    finally:
        engine.dispose()


@pytest.mark.slow  # processes
def test_lock_excludes_other_holders(database_url: str) -> None:
    bootstrap_engine = make_engine(database_url)
    bootstrap(bootstrap_engine, "acme")  # `personas catalogue init`
    bootstrap_engine.dispose()
    cat = EmbeddedCatalogue.open(database_url, "acme")
    try:
        with cat.lock("apply"):
            with pytest.raises(LockHeld), cat.lock("apply"):
                pass
            with _SPAWN.Pool(1) as pool:
                assert pool.apply(_try_lock, (database_url, "apply")) == "held"
                assert pool.apply(_try_lock, (database_url, "other")) == "acquired"
        with _SPAWN.Pool(1) as pool:
            assert pool.apply(_try_lock, (database_url, "apply")) == "acquired"
        with cat.lock("apply"):
            pass
    finally:
        cat.close()


def test_sqlite_lock_takes_over_stale_rows(sqlite_url: str) -> None:
    cat = EmbeddedCatalogue.open(sqlite_url, "acme")
    try:
        host = socket.gethostname()
        with Session(cat.engine) as s:
            s.add(
                LockRow(name="expired", owner="elsewhere:1:x", expires_at=utcnow() - timedelta(1))
            )
            s.add(
                LockRow(
                    name="dead", owner=f"{host}:999999999:x", expires_at=utcnow() + timedelta(1)
                )
            )
            s.add(LockRow(name="alive", owner="elsewhere:1:x", expires_at=utcnow() + timedelta(1)))
            s.commit()
        for name in ("expired", "dead"):
            with cat.lock(name) as owner:
                assert owner.split(":")[1] == str(os.getpid())
        with pytest.raises(LockHeld) as info, cat.lock("alive"):
            pass
        assert info.value.details["owner"] == "elsewhere:1:x"
    finally:
        cat.close()

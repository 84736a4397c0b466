"""The server remembers a valid key's caller for a few seconds (issue 13): a revoked
key stops working once that time is up, on reads and on writes, and a new key works
at once."""

from __future__ import annotations

import time

import pytest
from personas_as_code.catalogue.callers import CallerCache
from personas_as_code.catalogue.db import ApiKey
from personas_as_code.catalogue.identity import hash_key
from personas_as_code.catalogue.rest import create_app
from personas_as_code.schemas.errors import Unauthorized
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from tests.catalogue.conftest import make_key, serve_live

P = "/v1/modules/scaipersona"


def revoke(engine, key: str) -> None:
    with Session(engine) as session:
        session.execute(delete(ApiKey).where(ApiKey.key_hash == hash_key(key)))
        session.commit()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_remembered_for_its_ttl_only(sqlite_url: str) -> None:
    live_engine = create_app(sqlite_url).state.engine  # creates the schema
    key = make_key(live_engine, "acme")
    clock = Clock()
    cache = CallerCache(live_engine, ttl=5, clock=clock)
    caller = cache.authenticate(key)
    assert caller.tenant_slug == "acme" and cache.cached(key) == caller
    revoke(live_engine, key)
    clock.now += 4.9
    assert cache.authenticate(key) == caller  # still trusted within the TTL
    clock.now += 0.2
    assert cache.cached(key) is None
    with pytest.raises(Unauthorized):
        cache.authenticate(key)
    with pytest.raises(Unauthorized):  # an invalid key is not remembered either way
        cache.authenticate(key)
    fresh = make_key(live_engine, "acme")  # a new key works at once
    assert cache.authenticate(fresh).tenant_slug == "acme"
    assert cache.cached(None) is None and CallerCache(live_engine, ttl=0).cached(fresh) is None
    with pytest.raises(ValueError):
        CallerCache(live_engine, ttl=-1)
    live_engine.dispose()


@pytest.mark.parametrize("ttl", [0.0, 0.5])
def test_revocation_takes_effect_on_a_live_server(database_url: str, ttl: float) -> None:
    with serve_live(database_url, key_cache_seconds=ttl) as live:
        created = live.client.post(
            f"{P}/personas",
            headers=live.auth(),
            json={"name": "Kept", "model_slug": "scaigrid/gpt-4o"},
        )
        assert created.status_code == 201, created.text
        pid = created.json()["data"]["id"]
        assert live.client.get(f"{P}/personas/{pid}", headers=live.auth()).status_code == 200
        revoke(live.engine, live.key)
        if ttl:
            time.sleep(ttl + 0.1)
        read = live.client.get(f"{P}/personas/{pid}", headers=live.auth())
        assert read.status_code == 401 and read.json()["error"]["code"] == "UNAUTHORIZED"
        write = live.client.put(f"{P}/personas/{pid}", headers=live.auth(), json={"name": "X"})
        assert write.status_code == 401 and write.headers["www-authenticate"] == "Bearer"


def test_a_re_scoped_key_is_seen_after_the_ttl(sqlite_url: str) -> None:
    with serve_live(sqlite_url, key_cache_seconds=0.3) as live:
        make_key(live.engine, "globex")  # a tenant whose groups only a super admin sees
        groups = live.client.get("/v1/models/groups", headers=live.auth())
        assert groups.status_code == 200
        with Session(live.engine) as session:
            session.execute(
                update(ApiKey)
                .where(ApiKey.key_hash == hash_key(live.key))
                .values(role="super_admin")
            )
            session.commit()
        time.sleep(0.4)
        wider = live.client.get("/v1/models/groups", headers=live.auth())
        assert len(wider.json()["data"]) > len(groups.json()["data"])

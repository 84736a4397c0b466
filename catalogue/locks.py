"""Database-level locks: a non-blocking named lock for applies, and the
blocking lock that serialises schema bootstrap across processes.

PostgreSQL uses advisory locks keyed on ``current_schema()`` and the name.
SQLite uses a lock row with an owner and an expiry (a row whose owner is a
dead process on this host is taken over at once), and an ``flock`` on a
side file for bootstrap.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, timedelta

from personas_as_code.catalogue.db import LockRow, is_postgres, sqlite_path, utcnow
from personas_as_code.schemas.errors import LockHeld
from sqlalchemy import Engine, delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

_PG_KEY = "hashtextextended(current_schema() || ':' || :name, 0)"
_HOST = socket.gethostname()


def _owner() -> str:
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_dead(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != _HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextlib.contextmanager
def named_lock(engine: Engine, name: str, *, ttl_seconds: float = 3600.0) -> Iterator[str]:
    """Hold the lock ``name`` for the ``with`` block; ``LockHeld`` if someone else has it.

    Yields the owner string.  Not re-entrant: a second acquisition, even from
    the same process, raises ``LockHeld``.
    """
    if is_postgres(engine):
        with engine.connect() as conn:
            got = conn.execute(text(f"SELECT pg_try_advisory_lock({_PG_KEY})"), {"name": name})
            if not got.scalar():
                conn.rollback()
                raise LockHeld(f"lock {name!r} is held by another process", details={"lock": name})
            conn.commit()
            try:
                yield f"pg:{os.getpid()}"
            finally:
                conn.execute(text(f"SELECT pg_advisory_unlock({_PG_KEY})"), {"name": name})
                conn.commit()
        return
    owner = _owner()
    _acquire_row(engine, name, owner, ttl_seconds)
    try:
        yield owner
    finally:
        with Session(engine) as s:
            s.execute(delete(LockRow).where(col(LockRow.name) == name, col(LockRow.owner) == owner))
            s.commit()


def _acquire_row(engine: Engine, name: str, owner: str, ttl: float) -> None:
    now = utcnow()
    with Session(engine) as s:
        current = s.get(LockRow, name)
        if current is not None:
            expires = current.expires_at
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            if expires <= now or _owner_dead(current.owner):
                s.execute(
                    delete(LockRow).where(
                        col(LockRow.name) == name, col(LockRow.owner) == current.owner
                    )
                )
                s.commit()
    with Session(engine) as s:
        s.add(LockRow(name=name, owner=owner, expires_at=now + timedelta(seconds=ttl)))
        try:
            s.commit()
        except IntegrityError as exc:
            s.rollback()
            holder = s.execute(select(col(LockRow.owner)).where(col(LockRow.name) == name)).scalar()
            raise LockHeld(
                f"lock {name!r} is held by {holder}", details={"lock": name, "owner": holder}
            ) from exc


@contextlib.contextmanager
def bootstrap_lock(engine: Engine) -> Iterator[None]:
    """Block until this process may create the schema and seed (cross-process)."""
    if is_postgres(engine):
        with engine.connect() as conn:
            conn.execute(text(f"SELECT pg_advisory_lock({_PG_KEY})"), {"name": "__bootstrap__"})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(
                    text(f"SELECT pg_advisory_unlock({_PG_KEY})"), {"name": "__bootstrap__"}
                )
                conn.commit()
        return
    path = sqlite_path(str(engine.url))
    if path is None:
        yield
        return
    lock_file = path.with_name(path.name + ".init-lock")
    with open(lock_file, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)

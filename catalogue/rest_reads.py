"""The REST app's two hottest reads, a list page and ``GET /personas/{id}``, answered as
JSON bytes (run in a worker thread: ``rest_dependencies.in_thread``).

``personas.list_personas`` and ``personas.get_persona`` are the catalogue's reads, and
answer every database.  Over SQLite through its standard driver (the embedded default),
``PersonaReads`` first reads the same rows through the pooled connection's driver, with
statements compiled once (no SQLAlchemy execution or result objects), and makes them
JSON values with ``rendering_rows`` (no model per row), which ``to_json`` writes as it
writes the models.  A row the shapes do not vouch for (``Unvouched``: one the model would
coerce or refuse, or ``servable`` repair), a persona not found, and every other database
take the canonical read, which answers, repairs and warns as it always has.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from personas_as_code.catalogue import personas
from personas_as_code.catalogue.api import Persona, PersonaBase, Source
from personas_as_code.catalogue.db import AvatarRow, PersonaRow, SourceRow
from personas_as_code.catalogue.identity import Caller
from personas_as_code.catalogue.paging import Order, check_limit, decode_cursor, encode_cursor
from personas_as_code.catalogue.records import valid_id
from personas_as_code.catalogue.rendering import json_columns
from personas_as_code.catalogue.rendering_rows import RowShape, Unvouched
from pydantic_core import to_json
from sqlalchemy import Engine, Select, bindparam, select

_PERSONAS = PersonaRow.__table__  # type: ignore[attr-defined]
_SOURCES = SourceRow.__table__  # type: ignore[attr-defined]
_AVATARS = AvatarRow.__table__  # type: ignore[attr-defined]

_PK = list(_PERSONAS.c).index(_PERSONAS.c.pk)
_ID = list(_PERSONAS.c).index(_PERSONAS.c.id)
_SOURCE_OWNER = list(_SOURCES.c).index(_SOURCES.c.persona_pk)


class _Statement:
    """A statement compiled once for a dialect with positional parameters: its SQL and
    its parameters in order, from the values named by its bind parameters."""

    def __init__(self, statement: Select[Any], engine: Engine) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self._defaults = {name: bind.value for name, bind in compiled.binds.items()}
        self._order = tuple(compiled.positiontup or ())

    def run(self, db: sqlite3.Connection, **values: Any) -> list[Any]:
        params = [values[n] if n in values else self._defaults[n] for n in self._order]
        return db.execute(self.sql, params).fetchall()


class PersonaReads:
    """The list page and one-persona reads of an app's engine, as answer bytes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = engine.dialect
        self.direct = dialect.name == "sqlite" and dialect.driver == "pysqlite"
        if not self.direct:
            return
        self._persona = RowShape(
            Persona,
            _PERSONAS,
            dialect,
            null_is_default=frozenset([*PersonaBase.model_fields, "metadata"]),
            extra=frozenset(["sources", "avatar_sha256"]),
        )
        self._source = RowShape(Source, _SOURCES, dialect, extra=frozenset(["persona_id"]))
        self._one = _Statement(personas.ONE_PERSONA, engine)
        self._sources_of_one = _Statement(personas.SOURCES_OF_ONE, engine)
        self._page = functools.cache(self._page_statement)
        self._of_many = functools.cache(self._of_many_statements)

    def one_json(self, caller: Caller, persona_id: str) -> bytes:
        """``{"data": persona}``, as ``personas.get_persona`` reads it."""
        if self.direct and valid_id(persona_id):
            with self._driver() as db:
                found = self._one_fast(db, caller, persona_id)
            if found is not None:
                return to_json({"data": found})
        with self.engine.connect() as conn:
            return to_json({"data": personas.get_persona(conn, caller, persona_id)})

    def page_json(
        self,
        caller: Caller,
        *,
        limit: int,
        cursor: str | None,
        order: Order,
        request_id: str | None,
    ) -> bytes:
        """A list page with its ``meta``, as ``personas.list_personas`` reads it."""
        page: tuple[Sequence[Any], str | None, bool] | None = None
        if self.direct:
            check_limit(limit)
            after = decode_cursor(cursor, order) if cursor else None
            with self._driver() as db:
                page = self._page_fast(db, caller, limit, after, order)
        if page is None:
            with self.engine.connect() as conn:
                slow = personas.list_personas(conn, caller, limit=limit, cursor=cursor, order=order)
            page = (slow.items, slow.next_cursor, slow.has_more)
        items, next_cursor, has_more = page
        meta = {"next_cursor": next_cursor, "has_more": has_more, "request_id": request_id}
        return to_json({"data": items, "meta": meta})

    @contextlib.contextmanager
    def _driver(self) -> Iterator[sqlite3.Connection]:
        """A pooled connection's driver connection, returned to the pool after."""
        pooled = self.engine.raw_connection()
        try:
            yield pooled.driver_connection  # type: ignore[misc]
        finally:
            pooled.close()

    def _one_fast(
        self, db: sqlite3.Connection, caller: Caller, persona_id: str
    ) -> dict[str, Any] | None:
        rows = self._one.run(db, persona_id=persona_id, tenant_id=caller.tenant_id)
        if not rows:
            return None  # the canonical read says it is not found
        row = rows[0]
        try:
            sources = [
                self._source.values(s, {"persona_id": row[_ID]})
                for s in self._sources_of_one.run(db, persona_pk=row[_PK])
            ]
            return self._persona.values(row, {"sources": sources, "avatar_sha256": row[-1]})
        except Unvouched:
            return None

    def _page_fast(
        self, db: sqlite3.Connection, caller: Caller, limit: int, after: int | None, order: Order
    ) -> tuple[list[dict[str, Any]], str | None, bool] | None:
        values: dict[str, Any] = {"tenant_id": caller.tenant_id, "limit": limit + 1}
        if after is not None:
            values["after"] = after
        rows = self._page(order, after is not None).run(db, **values)
        has_more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1][_PK], order) if has_more and rows else None
        if not rows:
            return [], next_cursor, has_more
        pks = [r[_PK] for r in rows]
        sources_of, avatars_of = self._of_many(len(pks))
        keyed = {f"pk{i}": pk for i, pk in enumerate(pks)}
        by_pk: dict[Any, list[Any]] = {pk: [] for pk in pks}
        for s in sources_of.run(db, **keyed):
            by_pk[s[_SOURCE_OWNER]].append(s)
        shas = dict(avatars_of.run(db, **keyed))
        try:
            items = [
                self._persona.values(
                    r,
                    {
                        "sources": [
                            self._source.values(s, {"persona_id": r[_ID]}) for s in by_pk[r[_PK]]
                        ],
                        "avatar_sha256": shas.get(r[_PK]),
                    },
                )
                for r in rows
            ]
        except Unvouched:
            return None
        return items, next_cursor, has_more

    def _page_statement(self, order: Order, after: bool) -> _Statement:
        pk = _PERSONAS.c.pk
        q = personas.PAGE_OF_PERSONAS.where(_PERSONAS.c.tenant_id == bindparam("tenant_id"))
        if after:
            q = q.where(pk > bindparam("after") if order == "asc" else pk < bindparam("after"))
        q = q.order_by(pk.asc() if order == "asc" else pk.desc())
        return _Statement(q.limit(bindparam("limit")), self.engine)

    def _of_many_statements(self, count: int) -> tuple[_Statement, _Statement]:
        """The sources and the avatar hashes of ``count`` personas, by ``pk0``..."""
        pks: list[Any] = [bindparam(f"pk{i}") for i in range(count)]
        sources = select(*json_columns(_SOURCES)).where(_SOURCES.c.persona_pk.in_(pks))
        avatars = select(_AVATARS.c.persona_pk, _AVATARS.c.sha256).where(
            _AVATARS.c.persona_pk.in_(pks)
        )
        return (
            _Statement(sources.order_by(_SOURCES.c.pk), self.engine),
            _Statement(avatars, self.engine),
        )

"""Issue 21: over SQLite, the list page and ``GET /personas/{id}`` are answered from
driver rows made JSON values with no model per row (``rest_reads``, ``rendering_rows``).
Held against the canonical reads (``personas.list_personas`` / ``get_persona``, whose
models pydantic validates and serialises): the answers are byte for byte the same for
representative personas and for every edge stored around the API, and the fast read
answers itself exactly when the model would take the stored values as they are."""

from __future__ import annotations

import contextvars
import math
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import anyio
import pytest
from personas_as_code.catalogue import avatars, personas
from personas_as_code.catalogue.api import Persona, PersonaCreate, Source, SourceCreate
from personas_as_code.catalogue.db import PersonaRow, make_engine
from personas_as_code.catalogue.identity import Caller, caller_for_tenant
from personas_as_code.catalogue.persona_sources import add_source
from personas_as_code.catalogue.rendering import _fast_persona
from personas_as_code.catalogue.rendering_rows import Unvouched, field_check, plain_types
from personas_as_code.catalogue.rest_dependencies import in_thread
from personas_as_code.catalogue.rest_reads import PersonaReads
from personas_as_code.catalogue.seed import bootstrap
from personas_as_code.schemas.errors import PersonaNotFound, ValidationFailed
from pydantic_core import to_json
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from tests.catalogue.conftest import make_key
from tests.catalogue.test_contract import PNG

NESTED_31: Any = "leaf"  # 31 brackets inside a map: 32 in all, the most a text may show
for _ in range(31):
    NESTED_31 = [NESTED_31]


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    bootstrap(engine)
    make_key(engine, "acme")
    make_key(engine, "globex")
    yield engine
    engine.dispose()


def _caller(engine: Engine, tenant: str = "acme") -> Caller:
    with Session(engine) as session:
        return caller_for_tenant(session, tenant)


def _create(engine: Engine, name: str, tenant: str = "acme", **fields: Any) -> str:
    with Session(engine, expire_on_commit=False) as session:
        caller = caller_for_tenant(session, tenant)
        body = PersonaCreate(name=name, model_slug="scaigrid/gpt-4o", **fields)
        return personas.create_persona(session, caller, body).id


def _add_source(engine: Engine, persona_id: str, **fields: Any) -> str:
    with Session(engine, expire_on_commit=False) as session:
        caller = caller_for_tenant(session, "acme")
        body = SourceCreate(source_type="collection", **fields)
        return add_source(session, caller, persona_id, body).id


def _store(engine: Engine, table: str, row_id: str, **columns: Any) -> None:
    """Set columns of a row around the API (as an older version or another tool might)."""
    if not columns:
        return
    sets = ", ".join(f"{name} = :{name}" for name in columns)
    with engine.begin() as conn:
        conn.execute(
            text(f"UPDATE {table} SET {sets} WHERE id = :row_id"), {**columns, "row_id": row_id}
        )


def _canonical_one(engine: Engine, caller: Caller, persona_id: str) -> bytes:
    with engine.connect() as conn:
        return to_json({"data": personas.get_persona(conn, caller, persona_id)})


def _canonical_page(engine: Engine, caller: Caller, **options: Any) -> bytes:
    with engine.connect() as conn:
        page = personas.list_personas(conn, caller, **options)
    meta = {"next_cursor": page.next_cursor, "has_more": page.has_more, "request_id": "req_1"}
    return to_json({"data": page.items, "meta": meta})


def _outcome(read: Any, *args: Any, **kwargs: Any) -> bytes | str:
    """A read's answer, or the type and text of the error it fails with."""
    try:
        return read(*args, **kwargs)  # type: ignore[no-any-return]
    except Exception as exc:  # the failure is the outcome compared
        return f"{type(exc).__name__}: {exc}"


def _answered_fast(reads: PersonaReads, caller: Caller, persona_id: str) -> bool:
    with reads._driver() as db:
        return reads._one_fast(db, caller, persona_id) is not None


# columns stored around the API that the model takes as they are: the fast read answers
VOUCHED: dict[str, dict[str, Any]] = {
    "plain": {},
    "unicode and escapes": {
        "name": "Zoë ✓ \U0001f600",
        "system_prompt": 'line\nquote " back \\ tab\t ctrl \x01 sep \u2028 end',
        "metadata": '{"\\u00e9": "\\u2713", "raw": "ü \U0001f600"}',
    },
    "white space around a map": {"metadata": ' {"a": 1} '},
    "a 32-bracket text": {"metadata": '{"a": "' + "[" * 31 + '"}'},
    "numbers": {
        "default_params": '{"a": 0.1, "b": -0.0, "c": 123456789012345678, "d": 1.5, "e": 0}',
        "rag_min_score": 0.25,
        "rag_top_k": 12,
    },
    "integer score in a REAL column": {"rag_min_score": 1},
    "deepest nesting": {"metadata": to_json({"d": NESTED_31}).decode()},
    "nulls": {  # the NOT NULL columns: test_a_null_column_is_served_at_its_default
        "rag_min_score": None,
        "rag_context_template": None,
        "default_params": None,
        "metadata": None,
        "rag_status_messages": None,
        "published_model_id": None,
        "avatar_url": None,
    },
    "JSON nulls": {"default_params": "null", "metadata": "null", "rag_status_messages": "null"},
    "empty maps": {"default_params": "{}", "metadata": "{}", "rag_status_messages": "{}"},
    "status messages": {"rag_status_messages": '{"searching": "Looking…", "done": ""}'},
    "every choice": {
        "rag_strategy": "agentic",
        "status_messages_mode": "custom",
        "status": "archived",
        "rag_enabled": 1,
        "published": 1,
        "published_model_id": "mdl_x",
        "avatar_url": "/x/avatar",
    },
    "a truthy boolean": {"published": 7},
    "bytes for a flag (truthy, as SQLAlchemy reads it)": {"published": b"\x00"},
    "whole-second times": {
        "created_at": "2026-01-01 00:00:00.000000",
        "updated_at": "2026-01-01 00:00:00",
    },
    "times with a zone": {
        "created_at": "2026-03-29T01:30:00+02:00",
        "updated_at": "0001-01-01 00:00:00.000001",
    },
    "free text": {"rag_context_template": "Context: $context", "system_prompt": ""},
}

# columns the model would coerce, refuse or ``servable`` repair: the canonical read answers
UNVOUCHED: dict[str, dict[str, Any]] = {
    "an unknown choice": {"rag_strategy": "psychic"},
    "bytes where text belongs": {"system_prompt": b"raw"},
    "an escaped surrogate pair (walked, then served as is)": {
        "metadata": '{"e": "\\ud83d\\ude00"}'
    },
    "text where a number belongs": {"rag_top_k": "many"},
    "a float where an integer belongs": {"rag_top_k": 2.5},
    "text where a score belongs": {"rag_min_score": "high"},
    "a list for a map": {"metadata": "[1, 2]"},
    "a number for a map": {"default_params": "5"},
    "a non-text status message": {"rag_status_messages": '{"k": 5}'},
    "a lone surrogate": {"metadata": '{"a": "x\\ud800y"}'},
    "too deep": {"metadata": to_json({"d": [NESTED_31]}).decode()},
    "a NUL": {"metadata": '{"a": "\\u0000"}'},
    "a long integer": {"metadata": '{"big": 99999999999999999999}'},
    "infinity": {"default_params": '{"t": Infinity}'},
    "not JSON (the canonical read fails on it: so does this one)": {"metadata": '{"a": '},
    "an exponent out of range": {"default_params": '{"t": 1e400}'},
}


@pytest.mark.parametrize("name", [*VOUCHED, *UNVOUCHED])
def test_one_persona_is_byte_for_byte_the_canonical_answer(engine: Engine, name: str) -> None:
    persona_id = _create(engine, "Edge", metadata={"team": "t"}, default_params={"t": 0.2})
    _store(engine, "personas", persona_id, **{**VOUCHED, **UNVOUCHED}[name])
    caller, reads = _caller(engine), PersonaReads(engine)
    assert _outcome(reads.one_json, caller, persona_id) == _outcome(
        _canonical_one, engine, caller, persona_id
    )
    assert _answered_fast(reads, caller, persona_id) == (name in VOUCHED)


SOURCES: list[tuple[dict[str, Any], bool]] = [
    ({}, True),
    ({"source_name": None, "search_config": None}, True),
    ({"search_config": "null"}, True),
    ({"search_config": '{"k": 1.5, "tags": ["a"]}'}, True),
    ({"weight": 2, "status": "disabled", "source_type": "scaidrive"}, True),
    ({"weight": "heavy"}, False),
    ({"status": "paused"}, False),
    ({"source_type": "web"}, False),  # the canonical read fails on it: so does this one
    ({"search_config": '{"q": "\\udfff"}'}, False),
]


@pytest.mark.parametrize(("columns", "vouched"), SOURCES, ids=range(len(SOURCES)))
def test_sources_and_avatars_are_answered_as_the_canonical_read_does(
    engine: Engine, columns: dict[str, Any], vouched: bool
) -> None:
    persona_id = _create(engine, "With sources")
    _add_source(engine, persona_id, source_id="first", weight=0.5)
    source_id = _add_source(engine, persona_id, source_id="second", search_config={"k": 3})
    _store(engine, "persona_sources", source_id, **columns)
    with Session(engine) as session:
        caller = caller_for_tenant(session, "acme")
        avatars.upload_avatar(session, caller, persona_id, PNG, "image/png")
    reads = PersonaReads(engine)
    assert _outcome(reads.one_json, caller, persona_id) == _outcome(
        _canonical_one, engine, caller, persona_id
    )
    assert _answered_fast(reads, caller, persona_id) == vouched
    page = {"limit": 10, "cursor": None, "order": "asc"}
    assert _outcome(reads.page_json, caller, **page, request_id="req_1") == _outcome(
        _canonical_page, engine, caller, **page
    )


@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("limit", [1, 2, 5, 200])
def test_every_page_is_byte_for_byte_the_canonical_page(
    engine: Engine, order: str, limit: int
) -> None:
    ids = [_create(engine, f"P{n}", metadata={"n": n, "é": "✓"}) for n in range(7)]
    _create(engine, "Other tenant", tenant="globex")
    for persona_id in ids[:3]:
        _add_source(engine, persona_id, source_id="docs")
    _store(engine, "personas", ids[4], **VOUCHED["nulls"])
    _store(engine, "personas", ids[5], **UNVOUCHED["an unknown choice"])  # the page goes slow
    caller, reads = _caller(engine), PersonaReads(engine)
    cursor, seen = None, []
    while True:
        options: dict[str, Any] = {"limit": limit, "cursor": cursor, "order": order}
        body = reads.page_json(caller, **options, request_id="req_1")
        assert body == _canonical_page(engine, caller, **options)
        with engine.connect() as conn:
            page = personas.list_personas(conn, caller, **options)
        seen += [p.id for p in page.items]
        if not page.has_more:
            break
        cursor = page.next_cursor
    assert seen == (ids if order == "asc" else ids[::-1])


def test_an_empty_page_and_the_misses_are_the_canonical_answers(engine: Engine) -> None:
    caller, reads = _caller(engine), PersonaReads(engine)
    empty = reads.page_json(caller, limit=50, cursor=None, order="asc", request_id=None)
    assert empty == b'{"data":[],"meta":{"next_cursor":null,"has_more":false,"request_id":null}}'
    theirs = _create(engine, "Theirs", tenant="globex")
    for missing in (theirs, "per_missing", "per_\x00"):
        with pytest.raises(PersonaNotFound):
            reads.one_json(caller, missing)
    with pytest.raises(ValidationFailed):
        reads.page_json(caller, limit=5, cursor="%%%", order="asc", request_id=None)
    with pytest.raises(ValidationFailed):
        reads.page_json(caller, limit=201, cursor=None, order="asc", request_id=None)


def test_a_time_no_reader_parses_fails_as_it_always_has(engine: Engine) -> None:
    persona_id = _create(engine, "Bad time")
    _store(engine, "personas", persona_id, created_at="yesterday")
    caller, reads = _caller(engine), PersonaReads(engine)
    with pytest.raises(ValueError, match="yesterday"):
        _canonical_one(engine, caller, persona_id)
    with pytest.raises(ValueError, match="yesterday"):
        reads.one_json(caller, persona_id)


def test_other_databases_take_the_canonical_read() -> None:
    engine = create_engine("postgresql://nobody@127.0.0.1:1/none")
    assert PersonaReads(engine).direct is False


def test_a_null_column_is_served_at_its_default(engine: Engine) -> None:
    """Columns an earlier version left NULL (the table forbids it now): the row as the
    driver gives it, shaped, is what the canonical read's model holds."""
    shape = PersonaReads(engine)._persona
    table = PersonaRow.__table__  # type: ignore[attr-defined]
    required = {"pk": 1, "id": "per_1", "tenant_id": "ten_1", "name": "N", "slug": "n"}
    required |= {"model_slug": "m", "published": 0, "created_at": "2026-01-01 00:00:00"}
    raw = tuple(required.get(c.name) for c in table.c)
    core = {c.name: value for c, value in zip(table.c, raw, strict=True)}
    core["metadata_"] = core.pop("metadata")
    core["created_at"] = datetime.fromisoformat(core["created_at"])
    canonical = _fast_persona(core, [], None)
    assert canonical is not None
    fast = shape.values(raw, {"sources": [], "avatar_sha256": None})
    assert to_json(fast) == to_json(canonical)
    assert fast["system_prompt"] == "" and fast["rag_top_k"] == 5 and fast["metadata"] == {}


@pytest.mark.parametrize(
    ("annotation", "value", "vouched"),
    [
        (int, True, False),  # a bool is an int to Python, not to the model's answer
        (float, 1, False),  # the model would make it 1.0
        (float, math.inf, False),
        (float | None, None, True),
        (str, "x", True),
        (dict[str, str], {"a": 1}, False),
    ],
)
def test_a_field_check_takes_only_what_the_model_keeps_as_it_is(
    annotation: Any, value: Any, vouched: bool
) -> None:
    check = field_check(annotation)
    if vouched:
        assert check(value) is value
    else:
        with pytest.raises(Unvouched):
            check(value)


def test_a_field_type_with_no_check_is_refused_when_the_shape_is_made() -> None:
    with pytest.raises(TypeError, match="no fast check"):
        field_check(list[int])


SAMPLES = [None, "x", "", 0, 7, True, False, 1.5, math.nan, b"x", {}, {"a": "b"}, {"a": 1}, []]


@pytest.mark.parametrize(
    "annotation",
    sorted(
        {
            str(i.annotation): i.annotation
            for m in (Persona, Source)
            for i in m.model_fields.values()
            if i.annotation != Persona.model_fields["sources"].annotation
        }.items()
    ),
    ids=str,
)
def test_a_plain_type_vouches_for_exactly_what_the_check_takes(annotation: tuple[str, Any]) -> None:
    types = plain_types(annotation[1])
    if types is None:
        return
    check = field_check(annotation[1])
    for value in SAMPLES:
        try:
            taken = check(value) is value
        except Unvouched:
            taken = False
        assert (type(value) in types) == taken, value


def test_a_read_runs_in_a_worker_thread_with_the_callers_context() -> None:
    where: contextvars.ContextVar[str] = contextvars.ContextVar("where")

    def read(suffix: str) -> tuple[bool, str]:
        return threading.current_thread() is threading.main_thread(), where.get() + suffix

    async def request() -> tuple[bool, str]:
        where.set("request")
        return await in_thread(read, suffix="!")

    assert anyio.run(request) == (False, "request!")

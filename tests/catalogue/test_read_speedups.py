"""Issue 21: the list page reads Core rows (no ORM objects) and screens stored maps at C
speed, walking them only when the screen cannot vouch for them.  Each speed-up is held
against its slow path: the screen never passes what the walk refuses, and a list page
is byte for byte what the ORM rows and the one-persona read give for the same data,
poisoned rows included."""

from __future__ import annotations

import gc
import json
import math
import sys
import weakref
from datetime import UTC, datetime
from typing import Any

import pytest
from personas_as_code.catalogue import personas, servable
from personas_as_code.catalogue.db import PersonaRow, is_postgres
from personas_as_code.catalogue.identity import caller_for_tenant
from personas_as_code.catalogue.rendering import as_utc, render
from personas_as_code.schemas.jsonvalue import json_problems
from pydantic_core import to_json
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from tests.catalogue.conftest import Live
from tests.catalogue.test_rest_hardening import DEEP, P, _poison, create

NESTED_32: Any = "leaf"
for _ in range(32):
    NESTED_32 = [NESTED_32]

# maps as a JSON column decodes them: string keys, lists, no tuples
DECODED: list[dict[str, Any]] = [
    {},
    {"team": "support", "n": 3, "f": 0.5, "ok": True, "none": None, "tags": ["a", "b"]},
    {"é": "ünïcode ✓", "emoji": "\U0001f600"},
    {"a": math.nan},
    {"a": math.inf},
    {"a": -math.inf},
    {"a": "x\ud800y"},
    {"\udfff": 1},
    {"a": "nul\x00"},
    {"nul\x00": 1},
    {"deep": NESTED_32},
    {"deep": [NESTED_32]},
    {"big": 2**63},
    {"big": -(2**63) - 1},
    {"edge": 2**63 - 1, "low": -(2**63)},
    {"digits": "1234567890123456789012"},
    {"many": [{"k": i} for i in range(40)]},
    {"text": "[[[[{{{{" * 10},
    {"esc": "\\u0000 is not a NUL", "quote": '"'},
]
# maps built in Python: other keys and sequences the walk has its own word on
BUILT: list[dict[Any, Any]] = [
    *DECODED,
    {1: "int key"},
    {True: "bool key"},
    {None: "none key"},
    {"t": (1, 2)},
    {"s": {1, 2}},
    {"b": b"bytes"},
]


def walk_says_strict(value: Any) -> bool:
    return not json_problems(value, max_nodes=sys.maxsize)


@pytest.mark.parametrize("value", DECODED, ids=range(len(DECODED)))
def test_the_screen_of_a_decoded_map_agrees_with_the_walk(value: dict[str, Any]) -> None:
    served = servable.servable_json(value, where="test", decoded=True)
    assert (served is value) == walk_says_strict(value)


@pytest.mark.parametrize("value", BUILT, ids=range(len(BUILT)))
def test_the_screen_of_any_map_agrees_with_the_walk(value: dict[Any, Any]) -> None:
    served = servable.servable_json(value, where="test")
    assert (served is value) == walk_says_strict(value)


TEXTS = [
    *(json.dumps(value) for value in DECODED),
    *(json.dumps(value, ensure_ascii=False) for value in DECODED[:3]),
    '{"a": NaN}',
    '{"a": -Infinity}',
    '{"a": 1e400}',
    '{"a": 1e300, "b": -0.0}',
    '{"big": 99999999999999999999}',
    '{"x": "\\ud800"}',
    '{"x": "\\ud83d\\ude00"}',
    '{"x": "\\u0000"}',
    '{"deep": ' + DEEP + "}",
    '"a string"',
    "null",
    "[1, 2]",
]


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_a_stored_text_is_decoded_as_json_loads_does_and_vouched_for_only_when_strict(
    text: str,
) -> None:
    value, clean = servable.stored_json(text)
    expected = json.loads(text)
    assert json.dumps(value) == json.dumps(expected)  # NaN != NaN, the texts are equal
    if clean:
        assert walk_says_strict(value)
    brackets = text.count("[") + text.count("{")
    if walk_says_strict(value) and "\\u" not in text and brackets <= 32:
        assert clean  # a plain healthy text needs no walk


def test_a_healthy_list_page_walks_no_map_and_builds_no_orm_object(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        create(live, name=f"P{n}", metadata={"team": "t", "n": n}, default_params={"t": 0.2})
    walks: list[Any] = []

    def counting_walk(value: Any, **_options: Any) -> list[Any]:
        walks.append(value)
        return []

    monkeypatch.setattr(servable, "json_problems", counting_walk)
    loaded: list[Any] = []

    def on_load(target: Any, _context: Any) -> None:
        loaded.append(target)

    event.listen(PersonaRow, "load", on_load)
    try:
        resp = live.client.get(f"{P}/personas?limit=200", headers=live.auth())
    finally:
        event.remove(PersonaRow, "load", on_load)
    assert resp.status_code == 200 and len(resp.json()["data"]) == 3
    assert walks == [] and loaded == []


def _orm_page(live: Live) -> bytes:
    """The slow path: ORM rows of the tenant in creation order, rendered."""
    with Session(live.engine) as session:
        caller = caller_for_tenant(session, "acme")
        rows = list(
            session.execute(
                select(PersonaRow)
                .where(PersonaRow.tenant_id == caller.tenant_id)  # type: ignore[arg-type]
                .order_by(PersonaRow.pk)  # type: ignore[arg-type]
            ).scalars()
        )
        return to_json(render(session, rows))


def test_a_list_page_is_byte_for_byte_the_slow_paths_answer(live: Live) -> None:
    healthy = create(live, name="Healthy", metadata={"team": "support", "é": "✓"})
    bad = create(live, name="Bad", default_params={"temperature": 0.1})
    plain = create(live, name="Plain")
    for persona in (healthy, bad):
        resp = live.client.post(
            f"{P}/personas/{persona['id']}/sources",
            json={"source_type": "collection", "source_id": "docs", "weight": 2.5},
            headers=live.auth(),
        )
        assert resp.status_code == 201, resp.text
    source_id = live.client.get(f"{P}/personas/{bad['id']}", headers=live.auth()).json()["data"][
        "sources"
    ][0]["id"]
    _poison(live, "personas", "metadata", '{"a": "x\\ud800y", "deep": ' + DEEP + "}", bad["id"])
    _poison(live, "personas", "rag_status_messages", '{"k": 5}', bad["id"])
    _poison(live, "persona_sources", "search_config", '{"q": ' + DEEP + "}", source_id)
    _poison(live, "personas", "metadata", '{"big": 99999999999999999999}', plain["id"])
    if not is_postgres(live.engine):
        _poison(live, "personas", "default_params", '{"t": Infinity, "n": NaN}', plain["id"])
    with live.engine.begin() as conn:
        psychic = text("UPDATE personas SET rag_strategy = 'psychic' WHERE id = :id")
        conn.execute(psychic, {"id": bad["id"]})

    with Session(live.engine) as session:
        caller = caller_for_tenant(session, "acme")
        page = personas.list_personas(session, caller, limit=200)
        ones = [personas.get_persona(session, caller, p.id) for p in page.items]
    assert to_json(page.items) == _orm_page(live)
    assert [to_json(p) for p in page.items] == [to_json(p) for p in ones]
    listed = live.client.get(f"{P}/personas?limit=200", headers=live.auth()).json()["data"]
    assert [p["id"] for p in listed] == [healthy["id"], bad["id"], plain["id"]]
    assert listed[1]["metadata"]["a"] == "x\ufffdy" and listed[1]["rag_strategy"] == "single_step"
    assert listed[2]["metadata"] == {"big": 99999999999999999999}  # served, with a warning


def test_the_repair_warning_encodes_as_utf8(caplog: pytest.LogCaptureFixture) -> None:
    """A stored key holding a lone surrogate is named escaped in the log line: written
    as it is, no UTF-8 log handler (or test runner's worker pipe) could encode it."""
    with caplog.at_level("WARNING"):
        servable.servable_json({"\udfff": 1}, where="test")
    (record,) = caplog.records
    assert "\\udfff" in record.getMessage()
    record.getMessage().encode("utf-8")  # raises on a lone surrogate


def test_a_list_page_does_not_rebuild_its_page_model(live: Live) -> None:
    """``Page[Persona]`` spelt in the function was a new pydantic class on most calls
    (pydantic's cache of parametrised models holds them weakly): milliseconds a page."""
    create(live, name="One")
    with Session(live.engine) as session:
        caller = caller_for_tenant(session, "acme")
        first = weakref.ref(type(personas.list_personas(session, caller)))
        gc.collect()
        second = type(personas.list_personas(session, caller))
    assert first() is second


@pytest.mark.parametrize(
    "ts",
    [
        datetime(2026, 12, 7, 5, 0, 0, 123456),
        datetime(2026, 3, 29, 1, 30, fold=1),
        datetime(1, 1, 1),
        datetime(9999, 12, 31, 23, 59, 59, 999999),
    ],
)
def test_a_naive_stored_time_is_served_as_the_same_utc_time(ts: datetime) -> None:
    served = as_utc(ts)
    assert served == ts.replace(tzinfo=UTC) and served is not None
    assert (served.tzinfo, served.fold, served.isoformat()) == (
        UTC,
        ts.fold,
        ts.replace(tzinfo=UTC).isoformat(),
    )
    aware = ts.replace(tzinfo=UTC)
    assert as_utc(aware) is aware and as_utc(None) is None


def _stored_json_by_decode(text: str) -> tuple[Any, bool]:
    """``stored_json`` as it was before it scanned without ``decode``'s wrapper."""
    try:
        value = servable._STRICT_NUMBERS.decode(text)
    except servable._Suspect:
        return json.loads(text), False
    clean = (
        "\\ud" not in text
        and "\\uD" not in text
        and "\\u0000" not in text
        and "\x00" not in text
        and text.count("{") + text.count("[") <= 32
        and (text.isascii() or servable._encodes(text))
    )
    return value, clean


SCANNED = [
    *TEXTS,
    ' {"a": 1}',
    '{"a": 1} ',
    "\n[1]\n",
    '{"a": 1} x',
    '{"a": }',
    "",
    "   ",
    '{"a": NaN} trailing',
    '{"a": "\\uD800"}',
    '{"a": "nul\x00"}',
    '{"a": "\udfff"}',
    '{"a": 1.5e3, "b": -12, "c": 123456789012345678}',
    "[" * 32 + "]" * 32,
    "[" * 33 + "]" * 33,
    "[" * 2000 + "]" * 2000,
]


@pytest.mark.parametrize("text", SCANNED, ids=range(len(SCANNED)))
def test_the_scan_decides_as_decode_did(text: str) -> None:
    def outcome(read: Any) -> Any:
        try:
            value, clean = read(text)
        except Exception as exc:  # the failure is the outcome compared
            return type(exc)
        return json.dumps(value), clean  # NaN != NaN: compare the texts

    assert outcome(servable.stored_json) == outcome(_stored_json_by_decode)

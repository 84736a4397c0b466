"""Rows of the catalogue's tables served as ``catalogue.api`` models."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from personas_as_code.catalogue.api import API_PREFIX, FrontendModel, Persona, PersonaBase, Source
from personas_as_code.catalogue.db import AvatarRow, FrontendModelRow, PersonaRow, SourceRow
from personas_as_code.catalogue.servable import served, stored_json
from pydantic import ValidationError
from sqlalchemy import JSON, Connection, Row, Table, Text, bindparam, cast, select
from sqlalchemy.orm import Session


def avatar_path(persona_id: str) -> str:
    """The public ``avatar_url`` of a persona."""
    return f"{API_PREFIX}/personas/{persona_id}/avatar"


def as_utc(ts: datetime | None) -> datetime | None:
    """``ts`` in UTC when it came naive (SQLite stores no zone): the same value as
    ``ts.replace(tzinfo=UTC)``, built at a fraction of its cost (a list page has 1,200)."""
    if ts is not None and ts.tzinfo is None:
        return datetime.combine(ts.date(), ts.time(), UTC)
    return ts


def json_columns(table: Table, renamed: Mapping[str, str] | None = None) -> list[Any]:
    """The columns of ``table`` to select for serving: its JSON columns read as their
    text (``stored_json`` decodes it and vouches for most without a walk), ``renamed``
    ones labelled with their attribute's name."""
    renamed = renamed or {}
    return [
        (cast(c, Text) if isinstance(c.type, JSON) else c).label(renamed.get(c.name, c.name))
        for c in table.c
    ]


def _stored(row: Any, names: Sequence[str]) -> tuple[dict[str, Any], frozenset[str]]:
    """The JSON fields ``names`` of ``row`` decoded, and those their text vouched for."""
    values: dict[str, Any] = {}
    clean: set[str] = set()
    for name in names:
        value = getattr(row, name)
        if isinstance(value, str):  # a JSON column read as text
            value, vouched = stored_json(value)
            if vouched:
                clean.add(name)
        values[name] = value
    return values, frozenset(clean)


_PERSONA_NULL_AT_DEFAULT = (*PersonaBase.model_fields, "metadata")
_PERSONA_JSON = ("rag_status_messages", "default_params", "metadata_")


def _decoded_all(values: dict[str, Any], names: Sequence[str]) -> bool:
    """Decode the JSON texts ``names`` of ``values`` in place; False when one is not
    vouched for by its text (or came decoded by a driver): the caller takes the way
    that repairs."""
    for name in names:
        text = values[name]
        if isinstance(text, str):
            values[name], clean = stored_json(text)
            if not clean:
                return False
        elif text is not None:
            return False
    return True


def _values(row: Row[*tuple[Any, ...]], fields: Sequence[str] | None) -> dict[str, Any]:
    """A Core row as a fresh dict by its field names (``fields``: the result's names,
    taken once per result; a row's ``_fields`` costs a lookup per row, its ``_mapping``
    ten times as much)."""
    return dict(zip(row._fields if fields is None else fields, row, strict=True))


def _fast_source(values: dict[str, Any], persona_id: str) -> Source | None:
    """``source_out`` of a Core row's ``values`` (JSON columns read as text) in one
    validation, when its text vouches for itself and the model takes every value as it
    is; else None.  The columns the model has no field for are ignored."""
    if not _decoded_all(values, ("search_config",)):
        return None
    values["persona_id"] = persona_id
    values["created_at"] = as_utc(values["created_at"])
    values["updated_at"] = as_utc(values["updated_at"])
    try:
        return Source.model_validate(values)
    except ValidationError:
        return None


def _fast_persona(
    values: dict[str, Any], sources: list[Source], avatar_sha: str | None
) -> Persona | None:
    """``persona_out`` of a Core row's ``values`` (JSON columns read as text) in one
    validation, when its text vouches for itself and the model takes every value as it
    is; else None.  The columns the model has no field for are ignored."""
    if not _decoded_all(values, _PERSONA_JSON):
        return None
    values["metadata"] = values.pop("metadata_")
    for name in _PERSONA_NULL_AT_DEFAULT:
        if name in values and values[name] is None:
            del values[name]
    values["created_at"] = as_utc(values["created_at"])
    values["updated_at"] = as_utc(values["updated_at"])
    values["sources"] = sources
    values["avatar_sha256"] = avatar_sha
    try:
        return Persona.model_validate(values)
    except ValidationError:
        return None


def source_out(
    row: SourceRow | Row[*tuple[Any, ...]],
    persona_id: str,
    fields: Sequence[str] | None = None,
) -> Source:
    """A source row served as a ``Source`` of ``persona_id`` (``fields``: a Core row's
    field names, when the caller has them)."""
    if isinstance(row, Row):
        fast = _fast_source(_values(row, fields), persona_id)
        if fast is not None:
            return fast
    stored, clean = _stored(row, ("search_config",))
    return served(
        Source,
        f"source {row.id}",
        clean,
        id=row.id,
        persona_id=persona_id,
        source_type=row.source_type,
        source_id=row.source_id,
        source_name=row.source_name,
        weight=row.weight,
        search_config=stored["search_config"],
        status=row.status,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def persona_out(
    row: PersonaRow | Row[*tuple[Any, ...]],
    sources: list[Source],
    avatar_sha: str | None,
    fields: Sequence[str] | None = None,
) -> Persona:
    """A persona row served as a ``Persona`` with its sources and avatar hash
    (``fields``: a Core row's field names, when the caller has them)."""
    if isinstance(row, Row):
        fast = _fast_persona(_values(row, fields), sources, avatar_sha)
        if fast is not None:
            return fast
    stored = {name: getattr(row, name) for name in PersonaBase.model_fields}
    decoded, clean = _stored(row, ("rag_status_messages", "default_params", "metadata_"))
    stored.update(decoded)
    stored["metadata"] = stored.pop("metadata_")
    if "metadata_" in clean:
        clean = clean - {"metadata_"} | {"metadata"}
    return served(
        Persona,
        f"persona {row.id}",
        clean,
        id=row.id,
        tenant_id=row.tenant_id,
        # a column an earlier version left NULL is served at the field's default
        **{name: value for name, value in stored.items() if value is not None},
        published=row.published,
        published_model_id=row.published_model_id,
        avatar_url=row.avatar_url,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        sources=sources,
        avatar_sha256=avatar_sha,
    )


def render(session: Session, rows: list[PersonaRow]) -> list[Persona]:
    """Personas with their sources and avatar hashes, in two queries for the lot."""
    return render_rows(session, rows)


_SOURCES = SourceRow.__table__  # type: ignore[attr-defined]

_AVATARS = AvatarRow.__table__  # type: ignore[attr-defined]

# built once (a statement built per call costs its construction and cache key each time)
_SOURCES_OF_MANY = (
    select(*json_columns(_SOURCES))
    .where(_SOURCES.c.persona_pk.in_(bindparam("pks", expanding=True)))
    .order_by(_SOURCES.c.pk)
)

_AVATARS_OF_MANY = select(_AVATARS.c.persona_pk, _AVATARS.c.sha256).where(
    _AVATARS.c.persona_pk.in_(bindparam("pks", expanding=True))
)


def render_rows(
    session: Session | Connection, rows: Sequence[PersonaRow | Row[*tuple[Any, ...]]]
) -> list[Persona]:
    """Personas (ORM or Core rows with ``metadata_``) with their sources and avatar
    hashes, in two Core queries for the lot."""
    if not rows:
        return []
    pks = [r.pk for r in rows]
    by_pk: dict[int, list[Row[*tuple[Any, ...]]]] = {pk: [] for pk in pks if pk is not None}
    conn = session.connection() if isinstance(session, Session) else session
    sources = conn.execute(_SOURCES_OF_MANY, {"pks": pks})
    source_fields = tuple(sources.keys())
    for src in sources:
        by_pk[src.persona_pk].append(src)
    shas = {pk: sha for pk, sha in conn.execute(_AVATARS_OF_MANY, {"pks": pks})}
    fields = rows[0]._fields if isinstance(rows[0], Row) else None
    return [
        persona_out(
            r,
            [source_out(s, r.id, source_fields) for s in by_pk.get(r.pk or 0, [])],
            shas.get(r.pk or 0),
            fields,
        )
        for r in rows
    ]


def model_out(row: FrontendModelRow) -> FrontendModel:
    """A frontend model row served as a ``FrontendModel`` (no groups or links)."""
    return served(
        FrontendModel,
        f"frontend model {row.id}",
        id=row.id,
        slug=row.slug,
        display_name=row.display_name,
        modality=row.modality,
        capabilities=row.capabilities or {},
        context_window=row.context_window,
        pricing=row.pricing or {},
        system_prompt_template=row.system_prompt_template,
        avatar_url=row.avatar_url,
        default_params=row.default_params or {},
        metadata=row.metadata_ or {},
        tenant_id=row.tenant_id,
        base_model_slug=row.base_model_slug,
    )


_MODEL_JSON = ("capabilities", "pricing", "default_params", "metadata_")


def model_row_out(row: Row[*tuple[Any, ...]]) -> FrontendModel:
    """``model_out`` of a Core row of ``json_columns(frontend_models)``: one validation
    when the JSON texts vouch for themselves and the model takes every value as it is;
    else the row's decoded values go the way ``model_out`` repairs them."""
    values = dict(zip(row._fields, row, strict=True))
    if _decoded_all(values, _MODEL_JSON):
        for name in _MODEL_JSON:
            values[name] = values[name] or {}
        values["metadata"] = values.pop("metadata_")
        try:
            return FrontendModel.model_validate(values)
        except ValidationError:
            pass
        values["metadata_"] = values.pop("metadata")
    else:
        values = dict(zip(row._fields, row, strict=True))
        for name in _MODEL_JSON:
            if isinstance(values[name], str):
                values[name] = json.loads(values[name])
    return model_out(SimpleNamespace(**values))  # type: ignore[arg-type]

"""The knowledge sources attached to a persona: list, add, update, remove."""

from __future__ import annotations

from personas_as_code.catalogue.api import Source, SourceCreate, SourceUpdate
from personas_as_code.catalogue.db import PersonaRow, SourceRow, new_id, utcnow
from personas_as_code.catalogue.identity import Caller
from personas_as_code.catalogue.records import check_body, commit, persona_row, valid_id
from personas_as_code.catalogue.rendering import source_out
from personas_as_code.schemas.errors import SourceDuplicate, SourceNotFound
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col


def _source_row(session: Session, persona: PersonaRow, source_id: str) -> SourceRow:
    row = (
        None
        if not valid_id(source_id)
        else (
            session.execute(
                select(SourceRow).where(
                    col(SourceRow.id) == source_id, col(SourceRow.persona_pk) == persona.pk
                )
            )
            .scalars()
            .first()
        )
    )
    if row is None:
        raise SourceNotFound(
            "Source does not exist for that persona",
            details={"persona_id": persona.id, "source_id": source_id},
        )
    return row


def list_sources(session: Session, caller: Caller, persona_id: str) -> list[Source]:
    """The persona's sources in creation order."""
    persona = persona_row(session, caller, persona_id)
    rows = session.execute(
        select(SourceRow).where(col(SourceRow.persona_pk) == persona.pk).order_by(col(SourceRow.pk))
    ).scalars()
    return [source_out(r, persona.id) for r in rows]


def add_source(session: Session, caller: Caller, persona_id: str, body: SourceCreate) -> Source:
    """Attach a source; ``SourceDuplicate`` when ``(source_type, source_id)`` is attached."""
    check_body(body)
    persona = persona_row(session, caller, persona_id)
    duplicate = SourceDuplicate(
        f"{body.source_type} {body.source_id!r} is already attached to the persona",
        details={"source_type": body.source_type, "source_id": body.source_id},
    )
    exists = session.execute(
        select(col(SourceRow.pk)).where(
            col(SourceRow.persona_pk) == persona.pk,
            col(SourceRow.source_type) == body.source_type,
            col(SourceRow.source_id) == body.source_id,
        )
    ).first()
    if exists is not None:
        raise duplicate
    now = utcnow()
    row = SourceRow(
        id=new_id("src"),
        persona_pk=persona.pk or 0,
        created_at=now,
        updated_at=now,
        **body.model_dump(),
    )
    session.add(row)
    commit(session, duplicate)
    session.refresh(row)
    return source_out(row, persona.id)


def update_source(
    session: Session, caller: Caller, persona_id: str, source_id: str, body: SourceUpdate
) -> Source:
    """Update a source's weight, search_config or status (non-null fields only)."""
    check_body(body)
    persona = persona_row(session, caller, persona_id)
    row = _source_row(session, persona, source_id)
    for key, value in body.model_dump(exclude_none=True).items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    session.add(row)
    session.commit()
    session.refresh(row)
    return source_out(row, persona.id)


def delete_source(session: Session, caller: Caller, persona_id: str, source_id: str) -> None:
    """Remove a source."""
    persona = persona_row(session, caller, persona_id)
    session.delete(_source_row(session, persona, source_id))
    session.commit()

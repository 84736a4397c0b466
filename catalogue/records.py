"""The catalogue's shared row lookups and input checks: a persona or model the caller
may see, a body of strict JSON, a commit that answers a typed conflict.
"""

from __future__ import annotations

from personas_as_code.catalogue.db import FrontendModelRow, PersonaRow
from personas_as_code.catalogue.identity import Caller
from personas_as_code.schemas.errors import ModelNotFound, PersonaNotFound, ValidationFailed
from personas_as_code.schemas.jsonvalue import dotted, json_problems
from pydantic import BaseModel
from sqlalchemy import bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col


def check_body(body: BaseModel) -> None:
    """Refuse a body holding anything but strict JSON (``schemas.jsonvalue``).

    The body models check this when they are built; this catches a body changed
    after that (pydantic does not validate assignments), before it is stored.
    """
    found: list[tuple[str, str]] = []
    for name, value in body.model_dump(exclude_none=True).items():
        found += [
            (f"{name}.{dotted(path)}" if path else name, reason)
            for path, reason in json_problems(value)
        ]
    if found:
        raise ValidationFailed(
            "Invalid request: " + ", ".join(f"{field}: {reason}" for field, reason in found)[:500],
            details={"fields": list(dict.fromkeys(field for field, _ in found))},
        )


def valid_id(value: str) -> bool:
    """Whether ``value`` may name a row (no NUL, which no database column holds)."""
    return "\x00" not in value


def persona_row(session: Session, caller: Caller, persona_id: str) -> PersonaRow:
    """The caller's tenant's persona ``persona_id``; ``PersonaNotFound`` otherwise."""
    if not valid_id(persona_id):
        raise PersonaNotFound("Persona does not exist", details={"persona_id": persona_id})
    row = (
        session.execute(
            select(PersonaRow).where(
                col(PersonaRow.id) == persona_id, col(PersonaRow.tenant_id) == caller.tenant_id
            )
        )
        .scalars()
        .first()
    )
    if row is None:
        raise PersonaNotFound("Persona does not exist", details={"persona_id": persona_id})
    return row


# built once (building a statement per call cost more than running it)
_VISIBLE_MODEL = select(FrontendModelRow).where(
    col(FrontendModelRow.slug) == bindparam("slug"),
    or_(
        col(FrontendModelRow.tenant_id).is_(None),
        col(FrontendModelRow.tenant_id) == bindparam("tenant_id"),
    ),
)


def find_visible_model(session: Session, caller: Caller, slug: str) -> FrontendModelRow | None:
    """The frontend model ``slug`` the caller may see (global or its tenant's), or None."""
    found = session.execute(_VISIBLE_MODEL, {"slug": slug, "tenant_id": caller.tenant_id})
    return found.scalars().first()


def model_by_slug(session: Session, caller: Caller, slug: str) -> FrontendModelRow:
    """The frontend model ``slug`` the caller may see; ``ModelNotFound`` otherwise."""
    row = find_visible_model(session, caller, slug)
    if row is None:
        raise ModelNotFound(
            f"model_slug {slug!r} does not resolve to a frontend model",
            details={"model_slug": slug},
        )
    return row


def commit(session: Session, on_conflict: Exception) -> None:
    """Commit; on an integrity error roll back and raise ``on_conflict``."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise on_conflict from exc

"""The catalogue's personas: list, read, create, update, delete and count.

These, with ``persona_sources``, ``avatars``, ``publishing``, ``frontend_models`` and
``scaidrive``, are the catalogue's behaviour that both the REST app and the embedded
catalogue call, so they cannot drift apart.  Every function takes an open ``Session``
and, where it acts for someone, the ``Caller``; it commits its own work and returns
``catalogue.api`` models.  It raises the typed errors of ``schemas.errors``.
"""

from __future__ import annotations

from personas_as_code.catalogue.api import Page, Persona, PersonaCreate, PersonaUpdate
from personas_as_code.catalogue.db import AvatarRow, PersonaRow, SourceRow, new_id, utcnow
from personas_as_code.catalogue.identity import Caller
from personas_as_code.catalogue.paging import Order, check_limit, decode_cursor, encode_cursor
from personas_as_code.catalogue.publishing import delete_model, sync_published
from personas_as_code.catalogue.records import (
    check_body,
    commit,
    model_by_slug,
    persona_row,
    valid_id,
)
from personas_as_code.catalogue.rendering import (
    json_columns,
    persona_out,
    render,
    render_rows,
    source_out,
)
from personas_as_code.schemas.errors import PersonaNotFound, SlugConflict
from personas_as_code.schemas.fields import slugify
from sqlalchemy import Connection, bindparam, delete, func, select
from sqlalchemy.orm import Session
from sqlmodel import col


def _slug_taken(session: Session, caller: Caller, slug: str, except_pk: int | None) -> bool:
    q = select(col(PersonaRow.pk)).where(
        col(PersonaRow.tenant_id) == caller.tenant_id, col(PersonaRow.slug) == slug
    )
    if except_pk is not None:
        q = q.where(col(PersonaRow.pk) != except_pk)
    return session.execute(q).first() is not None


def _slug_conflict(slug: str) -> SlugConflict:
    return SlugConflict(
        f"Another persona in the tenant already uses slug {slug!r}", details={"slug": slug}
    )


def list_personas(
    session: Session | Connection,
    caller: Caller,
    *,
    limit: int = 50,
    cursor: str | None = None,
    order: Order = "asc",
) -> Page[Persona]:
    """One page of the tenant's personas, keyed on creation order (a read: a session or,
    cheaper, a bare connection)."""
    check_limit(limit)
    q = PAGE_OF_PERSONAS.where(_PERSONAS.c.tenant_id == caller.tenant_id)
    if cursor:
        after = decode_cursor(cursor, order)
        q = q.where(_PERSONAS.c.pk > after if order == "asc" else _PERSONAS.c.pk < after)
    q = q.order_by(_PERSONAS.c.pk.asc() if order == "asc" else _PERSONAS.c.pk.desc())
    conn = session.connection() if isinstance(session, Session) else session
    rows = list(conn.execute(q.limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].pk, order) if has_more and rows else None
    items = render_rows(conn, rows)
    return _PersonaPage(items=items, next_cursor=next_cursor, has_more=has_more)


_PERSONAS = PersonaRow.__table__  # type: ignore[attr-defined]

# made once: pydantic's cache of parametrised models holds them weakly, so a
# ``Page[Persona]`` written in the function was built anew (a few ms) on most calls
_PersonaPage = Page[Persona]

_SOURCES = SourceRow.__table__  # type: ignore[attr-defined]

_AVATARS = AvatarRow.__table__  # type: ignore[attr-defined]


# The read of one persona, built once: ``GET /personas/{id}`` is the hottest route, and
# Core rows from a prepared statement skip the ORM's per-call statement and object work.
# (``rest_reads`` compiles the same statements once more for SQLite's driver.)
_PERSONA_COLUMNS = json_columns(_PERSONAS, {"metadata": "metadata_"})

ONE_PERSONA = (
    select(*_PERSONA_COLUMNS, _AVATARS.c.sha256.label("avatar_sha"))
    .outerjoin(_AVATARS, _AVATARS.c.persona_pk == _PERSONAS.c.pk)
    .where(_PERSONAS.c.id == bindparam("persona_id"))
    .where(_PERSONAS.c.tenant_id == bindparam("tenant_id"))
)

# A page of personas as Core rows (the same columns ``ONE_PERSONA`` reads, without the
# avatar join): a list page skips the ORM's objects, as the read of one does.
PAGE_OF_PERSONAS = select(*_PERSONA_COLUMNS)

SOURCES_OF_ONE = (
    select(*json_columns(_SOURCES))
    .where(_SOURCES.c.persona_pk == bindparam("persona_pk"))
    .order_by(_SOURCES.c.pk)
)


def get_persona(session: Session | Connection, caller: Caller, persona_id: str) -> Persona:
    """One persona of the caller's tenant, sources inline (a read: a session or, cheaper,
    a bare connection)."""
    missing = PersonaNotFound("Persona does not exist", details={"persona_id": persona_id})
    if not valid_id(persona_id):
        raise missing
    conn = session.connection() if isinstance(session, Session) else session
    row = conn.execute(ONE_PERSONA, {"persona_id": persona_id, "tenant_id": caller.tenant_id})
    found = row.first()
    if found is None:
        raise missing
    sources = conn.execute(SOURCES_OF_ONE, {"persona_pk": found.pk})
    return persona_out(found, [source_out(s, found.id) for s in sources], found.avatar_sha)


def create_persona(session: Session, caller: Caller, body: PersonaCreate) -> Persona:
    """Create a persona; the slug defaults to ``slugify(name)`` and is unique per tenant."""
    check_body(body)
    slug = body.slug or slugify(body.name)
    model_by_slug(session, caller, body.model_slug)
    if _slug_taken(session, caller, slug, None):
        raise _slug_conflict(slug)
    now = utcnow()
    # by a dict: the type checker does not see the fields PersonaRow inherits from PersonaBase
    data = {**body.model_dump(exclude={"metadata"}), "slug": slug}
    row = PersonaRow(
        id=new_id("per"),
        tenant_id=caller.tenant_id,
        metadata_=body.metadata,
        created_at=now,
        updated_at=now,
        **data,
    )
    session.add(row)
    commit(session, _slug_conflict(slug))
    session.refresh(row)
    return render(session, [row])[0]


def update_persona(
    session: Session, caller: Caller, persona_id: str, body: PersonaUpdate
) -> Persona:
    """Apply every non-null field; sync the published model when there is one."""
    row = persona_row(session, caller, persona_id)
    check_body(body)
    changes = body.model_dump(exclude_none=True)
    base = None
    if "model_slug" in changes and changes["model_slug"] != row.model_slug:
        base = model_by_slug(session, caller, changes["model_slug"])
    if "slug" in changes and _slug_taken(session, caller, changes["slug"], row.pk):
        raise _slug_conflict(changes["slug"])
    for key, value in changes.items():
        setattr(row, "metadata_" if key == "metadata" else key, value)
    row.updated_at = utcnow()
    session.add(row)
    sync_published(session, caller, row, base)
    commit(session, _slug_conflict(changes.get("slug", row.slug)))
    session.refresh(row)
    return render(session, [row])[0]


def delete_persona(session: Session, caller: Caller, persona_id: str) -> None:
    """Hard-delete a persona: unpublish first, then sources and avatar go too.

    Of concurrent deletes exactly one succeeds; the others find no persona (404).
    """
    row = persona_row(session, caller, persona_id)
    session.execute(delete(SourceRow).where(col(SourceRow.persona_pk) == row.pk))
    session.execute(delete(AvatarRow).where(col(AvatarRow.persona_pk) == row.pk))
    # The conditional delete is the claim; RETURNING names the model published at that moment.
    gone = session.execute(
        delete(PersonaRow)
        .where(col(PersonaRow.pk) == row.pk)
        .returning(col(PersonaRow.published_model_id))
        .execution_options(synchronize_session=False)
    ).all()
    if not gone:
        session.rollback()
        raise PersonaNotFound("Persona does not exist", details={"persona_id": persona_id})
    if gone[0][0]:
        delete_model(session, gone[0][0])
    session.commit()


def count_personas(session: Session, caller: Caller) -> int:
    """How many personas the caller's tenant has."""
    return int(
        session.execute(
            select(func.count())
            .select_from(PersonaRow)
            .where(col(PersonaRow.tenant_id) == caller.tenant_id)
        ).one()[0]
    )

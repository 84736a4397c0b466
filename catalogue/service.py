"""The catalogue's behaviour: one module that both the REST app and the
embedded catalogue call, so they cannot drift apart.

Every function takes an open ``Session`` and, where it acts for someone, the
``Caller``; it commits its own work and returns ``catalogue.api`` models.  It
raises the typed errors of ``schemas.errors``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from personas_as_code.catalogue.api import (
    API_PREFIX,
    BackendLink,
    FrontendModel,
    ModelGroup,
    Page,
    Persona,
    PersonaBase,
    PersonaCreate,
    PersonaUpdate,
    Source,
    SourceCreate,
    SourceUpdate,
    published_model_slug,
)
from personas_as_code.catalogue.db import (
    ApiKey,
    AvatarRow,
    BackendModelRow,
    FrontendModelRow,
    ModelBackendLink,
    ModelGroupMember,
    ModelGroupRow,
    PersonaRow,
    SourceRow,
    Tenant,
    new_id,
    utcnow,
)
from personas_as_code.catalogue.servable import served
from personas_as_code.knowledge_index import store as knowledge_store
from personas_as_code.loader.avatar import check_avatar
from personas_as_code.schemas.errors import (
    ModelNotFound,
    NoAvatar,
    PersonaNotFound,
    PersonaNotPublished,
    ScaiDriveTokenExchangeFailed,
    SlugConflict,
    SourceDuplicate,
    SourceNotFound,
    Unauthorized,
    ValidationFailed,
)
from personas_as_code.schemas.fields import slugify
from personas_as_code.schemas.jsonvalue import dotted, json_problems
from pydantic import BaseModel
from sqlalchemy import CursorResult, Row, bindparam, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

Role = Literal["tenant_admin", "partner_admin", "super_admin"]
Order = Literal["asc", "desc"]

MAX_PAGE_SIZE = 200
"""The longest page a list answers (personas, models)."""
MAX_MODEL_FILTERS = 200
"""The most slugs and ids one ``GET /v1/models`` may filter on."""
MAX_FILTER_CHARS = 512
"""The longest slug or id a filter or cursor may name."""


@dataclass(frozen=True)
class Caller:
    """Who is calling: their tenant (personas live there), partner and role."""

    tenant_id: str
    tenant_slug: str
    role: Role = "tenant_admin"
    partner_id: str | None = None


def hash_key(api_key: str) -> str:
    """The stored form of an API key (sha256 hex; keys are high-entropy)."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def avatar_path(persona_id: str) -> str:
    """The public ``avatar_url`` of a persona."""
    return f"{API_PREFIX}/personas/{persona_id}/avatar"


# --- callers ---------------------------------------------------------------


def caller_for_tenant(session: Session, tenant_slug: str, role: Role = "tenant_admin") -> Caller:
    """The caller acting for ``tenant_slug`` (the embedded catalogue's identity)."""
    tenant = (
        session.execute(select(Tenant).where(col(Tenant.slug) == tenant_slug)).scalars().first()
    )
    if tenant is None:
        raise Unauthorized(f"unknown tenant {tenant_slug!r}")
    return Caller(tenant.id, tenant.slug, role, tenant.partner_id)


def authenticate(session: Session, api_key: str | None) -> Caller:
    """Resolve a bearer API key to its caller; ``Unauthorized`` when unknown."""
    if not api_key:
        raise Unauthorized("missing bearer token")
    row = session.execute(
        select(ApiKey, Tenant)
        .join(Tenant, col(Tenant.id) == col(ApiKey.tenant_id))
        .where(col(ApiKey.key_hash) == hash_key(api_key))
    ).first()
    if row is None:
        raise Unauthorized("invalid API key")
    key, tenant = row
    return Caller(tenant.id, tenant.slug, key.role, tenant.partner_id)  # type: ignore[arg-type]


# --- conversions -----------------------------------------------------------


def _aware(ts: datetime | None) -> datetime | None:
    if ts is not None and ts.tzinfo is None:
        return ts.replace(tzinfo=UTC)
    return ts


def _source_out(row: SourceRow | Row[*tuple[Any, ...]], persona_id: str) -> Source:
    return served(
        Source,
        f"source {row.id}",
        id=row.id,
        persona_id=persona_id,
        source_type=row.source_type,
        source_id=row.source_id,
        source_name=row.source_name,
        weight=row.weight,
        search_config=row.search_config,
        status=row.status,
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
    )


def _persona_out(
    row: PersonaRow | Row[*tuple[Any, ...]], sources: list[Source], avatar_sha: str | None
) -> Persona:
    stored = {name: getattr(row, name) for name in PersonaBase.model_fields}
    stored["metadata"] = row.metadata_
    return served(
        Persona,
        f"persona {row.id}",
        id=row.id,
        tenant_id=row.tenant_id,
        # a column an earlier version left NULL is served at the field's default
        **{name: value for name, value in stored.items() if value is not None},
        published=row.published,
        published_model_id=row.published_model_id,
        avatar_url=row.avatar_url,
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
        sources=sources,
        avatar_sha256=avatar_sha,
    )


def _render(session: Session, rows: list[PersonaRow]) -> list[Persona]:
    """Personas with their sources and avatar hashes, in two queries for the lot."""
    if not rows:
        return []
    pks = [r.pk for r in rows]
    by_pk: dict[int, list[SourceRow]] = {pk: [] for pk in pks if pk is not None}
    for src in session.execute(
        select(SourceRow).where(col(SourceRow.persona_pk).in_(pks)).order_by(col(SourceRow.pk))
    ).scalars():
        by_pk[src.persona_pk].append(src)
    shas = dict(
        session.execute(
            select(col(AvatarRow.persona_pk), col(AvatarRow.sha256)).where(
                col(AvatarRow.persona_pk).in_(pks)
            )
        ).all()
    )
    return [
        _persona_out(
            r,
            [_source_out(s, r.id) for s in by_pk.get(r.pk or 0, [])],
            shas.get(r.pk or 0),
        )
        for r in rows
    ]


def _model_out(row: FrontendModelRow) -> FrontendModel:
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


# --- cursors ---------------------------------------------------------------


def encode_cursor(key: int | str, order: Order) -> str:
    """An opaque cursor: the last row's key (a persona's ``pk``, a model's slug) and the
    order it was read in."""
    raw = json.dumps({"k": key, "o": order}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: Order) -> int:
    """The integer key encoded in ``cursor``; ``ValidationFailed`` when it is not ours.

    Anything but what ``encode_cursor`` makes is refused: a cursor is
    client-held input, and its key goes into a query.
    """
    # bool is an int to Python, not to the database
    return _cursor_key(cursor, order, lambda k: type(k) is int and 0 <= k < 2**63)


def decode_text_cursor(cursor: str, order: Order) -> str:
    """The text key (a model slug) encoded in ``cursor``; ``ValidationFailed`` otherwise."""
    return _cursor_key(
        cursor,
        order,
        lambda k: isinstance(k, str) and _valid_id(k) and len(k) <= MAX_FILTER_CHARS,
    )


def _cursor_key(cursor: str, order: Order, valid: Callable[[Any], bool]) -> Any:
    invalid = ValidationFailed("invalid cursor", details={"fields": ["cursor"]})
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise invalid from exc
    if not isinstance(data, dict) or set(data) != {"k", "o"}:
        raise invalid
    key, cursor_order = data["k"], data["o"]
    if not valid(key) or cursor_order not in ("asc", "desc"):
        raise invalid
    if cursor_order != order:
        raise ValidationFailed(
            "cursor does not match this listing (order changed?)", details={"fields": ["cursor"]}
        )
    return key


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValidationFailed(
            f"limit must be between 1 and {MAX_PAGE_SIZE}", details={"fields": ["limit"]}
        )


# --- input hygiene ---------------------------------------------------------


def _check_body(body: BaseModel) -> None:
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


def _valid_id(value: str) -> bool:
    return "\x00" not in value


# --- personas --------------------------------------------------------------


def _persona_row(session: Session, caller: Caller, persona_id: str) -> PersonaRow:
    if not _valid_id(persona_id):
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


def find_visible_model(session: Session, caller: Caller, slug: str) -> FrontendModelRow | None:
    """The frontend model ``slug`` the caller may see (global or its tenant's), or None."""
    return (
        session.execute(
            select(FrontendModelRow).where(
                col(FrontendModelRow.slug) == slug,
                or_(
                    col(FrontendModelRow.tenant_id).is_(None),
                    col(FrontendModelRow.tenant_id) == caller.tenant_id,
                ),
            )
        )
        .scalars()
        .first()
    )


def _model_by_slug(session: Session, caller: Caller, slug: str) -> FrontendModelRow:
    row = find_visible_model(session, caller, slug)
    if row is None:
        raise ModelNotFound(
            f"model_slug {slug!r} does not resolve to a frontend model",
            details={"model_slug": slug},
        )
    return row


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


def _commit(session: Session, on_conflict: Exception) -> None:
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise on_conflict from exc


def list_personas(
    session: Session,
    caller: Caller,
    *,
    limit: int = 50,
    cursor: str | None = None,
    order: Order = "asc",
) -> Page[Persona]:
    """One page of the tenant's personas, keyed on creation order."""
    _check_limit(limit)
    q = select(PersonaRow).where(col(PersonaRow.tenant_id) == caller.tenant_id)
    if cursor:
        after = decode_cursor(cursor, order)
        q = q.where(col(PersonaRow.pk) > after if order == "asc" else col(PersonaRow.pk) < after)
    q = q.order_by(col(PersonaRow.pk).asc() if order == "asc" else col(PersonaRow.pk).desc())
    rows = list(session.execute(q.limit(limit + 1)).scalars())
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].pk or 0, order) if has_more and rows else None
    return Page[Persona](items=_render(session, rows), next_cursor=next_cursor, has_more=has_more)


_PERSONAS = PersonaRow.__table__  # type: ignore[attr-defined]
_SOURCES = SourceRow.__table__  # type: ignore[attr-defined]
_AVATARS = AvatarRow.__table__  # type: ignore[attr-defined]
# The read of one persona, built once: ``GET /personas/{id}`` is the hottest route, and
# Core rows from a prepared statement skip the ORM's per-call statement and object work.
_ONE_PERSONA = (
    select(
        *(c for c in _PERSONAS.c if c.name != "metadata"),
        _PERSONAS.c.metadata.label("metadata_"),
        _AVATARS.c.sha256.label("avatar_sha"),
    )
    .outerjoin(_AVATARS, _AVATARS.c.persona_pk == _PERSONAS.c.pk)
    .where(_PERSONAS.c.id == bindparam("persona_id"))
    .where(_PERSONAS.c.tenant_id == bindparam("tenant_id"))
)
_SOURCES_OF_ONE = (
    select(_SOURCES).where(_SOURCES.c.persona_pk == bindparam("persona_pk")).order_by(_SOURCES.c.pk)
)


def get_persona(session: Session, caller: Caller, persona_id: str) -> Persona:
    """One persona of the caller's tenant, sources inline."""
    missing = PersonaNotFound("Persona does not exist", details={"persona_id": persona_id})
    if not _valid_id(persona_id):
        raise missing
    conn = session.connection()
    row = conn.execute(_ONE_PERSONA, {"persona_id": persona_id, "tenant_id": caller.tenant_id})
    found = row.first()
    if found is None:
        raise missing
    sources = conn.execute(_SOURCES_OF_ONE, {"persona_pk": found.pk})
    return _persona_out(found, [_source_out(s, found.id) for s in sources], found.avatar_sha)


def create_persona(session: Session, caller: Caller, body: PersonaCreate) -> Persona:
    """Create a persona; the slug defaults to ``slugify(name)`` and is unique per tenant."""
    _check_body(body)
    slug = body.slug or slugify(body.name)
    _model_by_slug(session, caller, body.model_slug)
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
    _commit(session, _slug_conflict(slug))
    session.refresh(row)
    return _render(session, [row])[0]


def update_persona(
    session: Session, caller: Caller, persona_id: str, body: PersonaUpdate
) -> Persona:
    """Apply every non-null field; sync the published model when there is one."""
    row = _persona_row(session, caller, persona_id)
    _check_body(body)
    changes = body.model_dump(exclude_none=True)
    base = None
    if "model_slug" in changes and changes["model_slug"] != row.model_slug:
        base = _model_by_slug(session, caller, changes["model_slug"])
    if "slug" in changes and _slug_taken(session, caller, changes["slug"], row.pk):
        raise _slug_conflict(changes["slug"])
    for key, value in changes.items():
        setattr(row, "metadata_" if key == "metadata" else key, value)
    row.updated_at = utcnow()
    session.add(row)
    _sync_published(session, caller, row, base)
    _commit(session, _slug_conflict(changes.get("slug", row.slug)))
    session.refresh(row)
    return _render(session, [row])[0]


def delete_persona(session: Session, caller: Caller, persona_id: str) -> None:
    """Hard-delete a persona: unpublish first, then sources and avatar go too.

    Of concurrent deletes exactly one succeeds; the others find no persona (404).
    """
    row = _persona_row(session, caller, persona_id)
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
        _delete_model(session, gone[0][0])
    session.commit()


# --- publishing ------------------------------------------------------------


def _published_metadata(row: PersonaRow) -> dict[str, Any]:
    return {"persona_id": row.id, "rag_enabled": row.rag_enabled}


def _link_base(session: Session, model: FrontendModelRow, base: FrontendModelRow) -> None:
    """Make ``model`` wrap ``base``: copy what publish copies and link its backends."""
    model.base_model_slug = base.slug
    model.modality = base.modality
    model.capabilities = dict(base.capabilities or {})
    model.context_window = base.context_window
    model.pricing = dict(base.pricing or {})
    session.add(model)
    session.flush()
    session.execute(
        delete(ModelBackendLink).where(col(ModelBackendLink.frontend_model_id) == model.id)
    )
    links = session.execute(
        select(ModelBackendLink).where(col(ModelBackendLink.frontend_model_id) == base.id)
    ).scalars()
    for link in list(links):
        session.add(
            ModelBackendLink(
                frontend_model_id=model.id,
                backend_model_id=link.backend_model_id,
                priority=link.priority,
            )
        )


def _sync_published(
    session: Session, caller: Caller, row: PersonaRow, base: FrontendModelRow | None = None
) -> None:
    """Keep the published model in step with the persona it was published from: its
    slug follows the persona's, a new ``model_slug`` re-links it to that base model,
    and the persona-derived fields are rewritten in place."""
    if not row.published_model_id:
        return
    model = session.get(FrontendModelRow, row.published_model_id)
    if model is None:
        return
    model.slug = published_model_slug(caller.tenant_slug, row.slug)
    if base is not None:
        _link_base(session, model, base)
    model.display_name = row.name
    model.system_prompt_template = row.system_prompt
    model.avatar_url = row.avatar_url
    model.default_params = dict(row.default_params or {})
    model.metadata_ = _published_metadata(row)
    session.add(model)


def group_in_scope(session: Session, caller: Caller, group: ModelGroupRow) -> bool:
    """Whether ``caller`` may add models to ``group`` (the publish scope rules)."""
    if caller.role == "super_admin":
        return True
    if group.scope == "tenant" and group.tenant_id == caller.tenant_id:
        return True
    if caller.role != "partner_admin" or caller.partner_id is None:
        return False
    if group.scope == "partner":
        return group.partner_id == caller.partner_id
    if group.scope == "tenant" and group.tenant_id:
        tenant = session.get(Tenant, group.tenant_id)
        return tenant is not None and tenant.partner_id == caller.partner_id
    return False


def _materialise(
    session: Session,
    caller: Caller,
    row: PersonaRow,
    base: FrontendModelRow,
    slug: str,
    group_ids: list[str] | None,
) -> None:
    """Add the published model, its backend links and in-scope memberships."""
    model = FrontendModelRow(
        id=new_id("fm"),
        slug=slug,
        display_name=row.name,
        system_prompt_template=row.system_prompt,
        avatar_url=row.avatar_url,
        default_params=dict(row.default_params or {}),
        metadata_=_published_metadata(row),
        tenant_id=caller.tenant_id,
    )
    _link_base(session, model, base)
    for group_id in dict.fromkeys(g for g in group_ids or [] if _valid_id(g)):
        group = session.get(ModelGroupRow, group_id)
        if group is not None and group_in_scope(session, caller, group):
            session.add(ModelGroupMember(group_id=group.id, frontend_model_id=model.id))
    row.published = True
    row.published_model_id = model.id
    row.updated_at = utcnow()
    session.add(row)
    session.flush()


def publish_persona(
    session: Session, caller: Caller, persona_id: str, group_ids: list[str] | None = None
) -> Persona:
    """Materialise the persona as ``tenant/{tenant}/{slug}``; idempotent.

    On an already-published persona the current state is returned and
    ``group_ids`` are *not* applied.  Groups outside the caller's scope (or
    unknown) are silently skipped.
    """
    row = _persona_row(session, caller, persona_id)
    if row.published and row.published_model_id:
        return _render(session, [row])[0]
    base = _model_by_slug(session, caller, row.model_slug)
    slug = published_model_slug(caller.tenant_slug, row.slug)
    try:
        _materialise(session, caller, row, base, slug, group_ids)
        session.commit()
    except IntegrityError as exc:
        # A concurrent publish of the same persona won: answer its state (idempotent).
        session.rollback()
        row = _persona_row(session, caller, persona_id)
        if row.published:
            return _render(session, [row])[0]
        raise SlugConflict(
            f"a frontend model with slug {slug!r} already exists", details={"model_slug": slug}
        ) from exc
    session.refresh(row)
    return _render(session, [row])[0]


def _delete_model(session: Session, model_id: str) -> None:
    """Delete a frontend model with its group memberships and backend links."""
    session.execute(
        delete(ModelGroupMember).where(col(ModelGroupMember.frontend_model_id) == model_id)
    )
    session.execute(
        delete(ModelBackendLink).where(col(ModelBackendLink.frontend_model_id) == model_id)
    )
    session.execute(delete(FrontendModelRow).where(col(FrontendModelRow.id) == model_id))


def unpublish_persona(session: Session, caller: Caller, persona_id: str) -> Persona:
    """Delete the published model and its memberships; 409 when not published.

    Of concurrent unpublishes exactly one succeeds: each claims the row with a
    conditional ``UPDATE`` (published, with the model it read), which the
    database serialises; the losers find it unpublished and answer 409.
    """
    not_published = PersonaNotPublished(
        "Persona is not published", details={"persona_id": persona_id}
    )
    for _ in range(5):  # re-read only when someone republished in between
        row = _persona_row(session, caller, persona_id)
        model_id = row.published_model_id
        if not row.published:
            raise not_published
        claimed = session.execute(
            update(PersonaRow)
            .where(
                col(PersonaRow.pk) == row.pk,
                col(PersonaRow.published).is_(True),
                col(PersonaRow.published_model_id) == model_id
                if model_id
                else col(PersonaRow.published_model_id).is_(None),
            )
            .values(published=False, published_model_id=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        if cast("CursorResult[Any]", claimed).rowcount == 1:  # an UPDATE: it has a rowcount
            if model_id:
                _delete_model(session, model_id)
            session.commit()
            session.refresh(row)
            return _render(session, [row])[0]
        session.rollback()
    raise not_published


# --- sources ---------------------------------------------------------------


def _source_row(session: Session, persona: PersonaRow, source_id: str) -> SourceRow:
    row = (
        None
        if not _valid_id(source_id)
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
    persona = _persona_row(session, caller, persona_id)
    rows = session.execute(
        select(SourceRow).where(col(SourceRow.persona_pk) == persona.pk).order_by(col(SourceRow.pk))
    ).scalars()
    return [_source_out(r, persona.id) for r in rows]


def add_source(session: Session, caller: Caller, persona_id: str, body: SourceCreate) -> Source:
    """Attach a source; ``SourceDuplicate`` when ``(source_type, source_id)`` is attached."""
    _check_body(body)
    persona = _persona_row(session, caller, persona_id)
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
    _commit(session, duplicate)
    session.refresh(row)
    return _source_out(row, persona.id)


def update_source(
    session: Session, caller: Caller, persona_id: str, source_id: str, body: SourceUpdate
) -> Source:
    """Update a source's weight, search_config or status (non-null fields only)."""
    _check_body(body)
    persona = _persona_row(session, caller, persona_id)
    row = _source_row(session, persona, source_id)
    for key, value in body.model_dump(exclude_none=True).items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    session.add(row)
    session.commit()
    session.refresh(row)
    return _source_out(row, persona.id)


def delete_source(session: Session, caller: Caller, persona_id: str, source_id: str) -> None:
    """Remove a source."""
    persona = _persona_row(session, caller, persona_id)
    session.delete(_source_row(session, persona, source_id))
    session.commit()


# --- avatars ---------------------------------------------------------------


def upload_avatar(
    session: Session, caller: Caller, persona_id: str, data: bytes, content_type: str
) -> str:
    """Validate and store an avatar; sync the published model; return ``avatar_url``.

    Concurrent uploads: the last to commit wins (a first upload that loses the
    race to insert the row writes over the winner's instead).
    """
    mime = check_avatar(data, content_type)
    sha = hashlib.sha256(data).hexdigest()
    for attempt in range(2):
        persona = _persona_row(session, caller, persona_id)
        avatar = session.get(AvatarRow, persona.pk)
        if avatar is None:
            avatar = AvatarRow(persona_pk=persona.pk or 0, content_type=mime, sha256=sha, data=data)
        else:
            avatar.content_type, avatar.sha256, avatar.data = mime, sha, data
            avatar.updated_at = utcnow()
        session.add(avatar)
        persona.avatar_url = avatar_path(persona.id)
        persona.updated_at = utcnow()
        session.add(persona)
        _sync_published(session, caller, persona)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            if attempt:
                raise
            continue
        return persona.avatar_url
    raise AssertionError("unreachable")


def get_avatar(session: Session, persona_id: str) -> tuple[bytes, str, str]:
    """A persona's avatar (bytes, content type, sha256); public, no tenant check."""
    if not _valid_id(persona_id):
        raise PersonaNotFound("Persona does not exist", details={"persona_id": persona_id})
    row = session.execute(
        select(col(PersonaRow.pk)).where(col(PersonaRow.id) == persona_id)
    ).first()
    if row is None:
        raise PersonaNotFound("Persona does not exist", details={"persona_id": persona_id})
    avatar = session.get(AvatarRow, row[0])
    if avatar is None:
        raise NoAvatar("Persona has no avatar", details={"persona_id": persona_id})
    return bytes(avatar.data), avatar.content_type, avatar.sha256


# --- models and groups -----------------------------------------------------


def list_models(
    session: Session,
    caller: Caller,
    *,
    limit: int = 50,
    cursor: str | None = None,
    order: Order = "asc",
    slugs: Sequence[str] = (),
    ids: Sequence[str] = (),
) -> Page[FrontendModel]:
    """One page of the frontend models the caller sees (global ones plus the tenant's
    own), keyed on slug; with ``slugs`` or ``ids``, only the models matching one of them."""
    _check_limit(limit)
    wanted = [*slugs, *ids]
    if len(wanted) > MAX_MODEL_FILTERS:
        raise ValidationFailed(
            f"at most {MAX_MODEL_FILTERS} slugs and ids per request",
            details={"fields": ["slug" if slugs else "id"]},
        )
    if any(len(v) > MAX_FILTER_CHARS for v in wanted):
        raise ValidationFailed(
            f"a slug or id is longer than {MAX_FILTER_CHARS} characters",
            details={"fields": ["slug" if slugs else "id"]},
        )
    q = select(FrontendModelRow).where(
        or_(
            col(FrontendModelRow.tenant_id).is_(None),
            col(FrontendModelRow.tenant_id) == caller.tenant_id,
        )
    )
    if wanted:
        q = q.where(
            or_(
                col(FrontendModelRow.slug).in_([s for s in slugs if _valid_id(s)]),
                col(FrontendModelRow.id).in_([i for i in ids if _valid_id(i)]),
            )
        )
    if cursor:
        after = decode_text_cursor(cursor, order)
        slug = col(FrontendModelRow.slug)
        q = q.where(slug > after if order == "asc" else slug < after)
    q = q.order_by(
        col(FrontendModelRow.slug).asc() if order == "asc" else col(FrontendModelRow.slug).desc()
    )
    rows = list(session.execute(q.limit(limit + 1)).scalars())
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].slug, order) if has_more and rows else None
    return Page[FrontendModel](
        items=[_model_out(r) for r in rows], next_cursor=next_cursor, has_more=has_more
    )


def get_model(session: Session, caller: Caller, slug: str) -> FrontendModel:
    """One frontend model the caller sees, with its groups and backend links."""
    row = _model_by_slug(session, caller, slug)
    visible = {g.id for g in _visible_groups(session, caller)}
    group_ids = session.execute(
        select(col(ModelGroupMember.group_id))
        .where(col(ModelGroupMember.frontend_model_id) == row.id)
        .order_by(ModelGroupMember.group_id)
    ).scalars()
    links = session.execute(
        select(
            col(ModelBackendLink.priority),
            col(BackendModelRow.slug),
            col(BackendModelRow.provider_type),
        )
        .join(BackendModelRow, col(BackendModelRow.id) == col(ModelBackendLink.backend_model_id))
        .where(col(ModelBackendLink.frontend_model_id) == row.id)
        .order_by(col(ModelBackendLink.priority), col(BackendModelRow.slug))
    ).all()
    model = _model_out(row)
    model.group_ids = [g for g in group_ids if g in visible]
    model.backend_links = [
        BackendLink(backend_model_slug=slug, provider_type=provider, priority=priority)
        for priority, slug, provider in links
    ]
    return model


def _visible_groups(session: Session, caller: Caller) -> Iterable[ModelGroupRow]:
    rows = session.execute(select(ModelGroupRow).order_by(ModelGroupRow.id)).scalars()
    for g in rows:
        if (
            g.scope == "global"
            or (g.scope == "partner" and caller.partner_id and g.partner_id == caller.partner_id)
            or group_in_scope(session, caller, g)
        ):
            yield g


def list_model_groups(session: Session, caller: Caller) -> list[ModelGroup]:
    """Model groups the caller can see (global, its partner's, its tenant's; all for super)."""
    groups = list(_visible_groups(session, caller))
    members: dict[str, list[str]] = {g.id: [] for g in groups}
    if groups:
        for gid, slug in session.execute(
            select(col(ModelGroupMember.group_id), col(FrontendModelRow.slug))
            .join(
                FrontendModelRow,
                col(FrontendModelRow.id) == col(ModelGroupMember.frontend_model_id),
            )
            .where(col(ModelGroupMember.group_id).in_(list(members)))
            .order_by(FrontendModelRow.slug)
        ).all():
            members[gid].append(slug)
    return [
        ModelGroup(
            id=g.id,
            name=g.name,
            scope=g.scope,
            partner_id=g.partner_id,
            tenant_id=g.tenant_id,
            model_slugs=members[g.id],
        )
        for g in groups
    ]


def count_personas(session: Session, caller: Caller) -> int:
    """How many personas the caller's tenant has."""
    return int(
        session.execute(
            select(func.count())
            .select_from(PersonaRow)
            .where(col(PersonaRow.tenant_id) == caller.tenant_id)
        ).one()[0]
    )


# --- ScaiDrive -------------------------------------------------------------


def scaidrive_shares(
    session: Session, caller: Caller, base_url: str | None
) -> list[dict[str, Any]]:
    """The caller's ScaiDrive shares.

    Without a ScaiDrive base URL the embedded catalogue is its own ScaiDrive: the
    shares are the ``scaidrive`` knowledge folders the repo defines and ``apply``
    indexed for the caller's tenant (an empty list when there are none).  With a base
    URL, shares live in that ScaiDrive, and the embedded catalogue cannot exchange its
    API keys for ScaiDrive-scoped tokens: ``SCAIDRIVE_TOKEN_EXCHANGE_FAILED`` (502),
    as ScaiGrid answers for an API key without ScaiDrive scope.
    """
    if not base_url:
        conn = session.connection()
        if not knowledge_store.tables_exist(conn.engine):
            return []
        counts = knowledge_store.document_counts(conn, caller.tenant_id, "scaidrive")
        return [
            {
                "id": share.source_id,
                "name": share.name or share.source_id,
                "description": share.description,
                "document_count": counts.get(share.source_id, 0),
            }
            for share in knowledge_store.list_sources(
                conn, caller.tenant_id, source_type="scaidrive"
            )
        ]
    raise ScaiDriveTokenExchangeFailed(
        "Could not exchange the caller's token for a ScaiDrive token "
        "(API keys of the embedded catalogue carry no ScaiDrive scope)",
        details={"scaidrive_base_url": base_url},
    )

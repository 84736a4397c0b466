"""The frontend models and model groups a caller sees."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from personas_as_code.catalogue.api import BackendLink, FrontendModel, ModelGroup, Page
from personas_as_code.catalogue.db import (
    BackendModelRow,
    FrontendModelRow,
    ModelBackendLink,
    ModelGroupMember,
    ModelGroupRow,
)
from personas_as_code.catalogue.identity import Caller
from personas_as_code.catalogue.paging import (
    MAX_FILTER_CHARS,
    MAX_MODEL_FILTERS,
    Order,
    check_limit,
    decode_text_cursor,
    encode_cursor,
)
from personas_as_code.catalogue.publishing import group_in_scope
from personas_as_code.catalogue.records import model_by_slug, valid_id
from personas_as_code.catalogue.rendering import json_columns, model_out, model_row_out
from personas_as_code.schemas.errors import ValidationFailed
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlmodel import col


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
    check_limit(limit)
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
                col(FrontendModelRow.slug).in_([s for s in slugs if valid_id(s)]),
                col(FrontendModelRow.id).in_([i for i in ids if valid_id(i)]),
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
        items=[model_out(r) for r in rows], next_cursor=next_cursor, has_more=has_more
    )


_MODELS = FrontendModelRow.__table__  # type: ignore[attr-defined]

# every column, JSON ones as their text (``model_row_out`` decodes and vouches for them)
_MODEL_ROWS = select(*json_columns(_MODELS, {"metadata": "metadata_"}))

MATCH_CHUNK = 500
"""The most slugs and ids one query of ``matching_models`` binds (far below the
database's limit on bound parameters)."""


def matching_models(
    session: Session, caller: Caller, slugs: Iterable[str], ids: Iterable[str]
) -> list[FrontendModel]:
    """The frontend models the caller sees whose slug is in ``slugs`` or id in ``ids``,
    by slug, however many are asked for: what ``protocol.models_matching`` gives, read
    as Core rows in one query a ``MATCH_CHUNK`` of values (what a plan reads)."""
    wanted = sorted({("slug", s) for s in slugs} | {("id", i) for i in ids})
    wanted = [(kind, v) for kind, v in wanted if valid_id(v)]
    visible = or_(_MODELS.c.tenant_id.is_(None), _MODELS.c.tenant_id == caller.tenant_id)
    conn = session.connection()
    found: dict[str, FrontendModel] = {}
    for start in range(0, len(wanted), MATCH_CHUNK):
        chunk = wanted[start : start + MATCH_CHUNK]
        by_slug = [v for kind, v in chunk if kind == "slug"]
        by_id = [v for kind, v in chunk if kind == "id"]
        q = _MODEL_ROWS.where(visible, or_(_MODELS.c.slug.in_(by_slug), _MODELS.c.id.in_(by_id)))
        for row in conn.execute(q):
            if row.id not in found:
                found[row.id] = model_row_out(row)
    return sorted(found.values(), key=lambda m: m.slug)


def get_model(session: Session, caller: Caller, slug: str) -> FrontendModel:
    """One frontend model the caller sees, with its groups and backend links."""
    row = model_by_slug(session, caller, slug)
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
    model = model_out(row)
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

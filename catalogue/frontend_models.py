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
from personas_as_code.catalogue.rendering import model_out
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

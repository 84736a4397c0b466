"""Publishing a persona as a frontend model, keeping that model in step, and
unpublishing it; the model-group scope rules publishing applies.
"""

from __future__ import annotations

from typing import Any, cast

from personas_as_code.catalogue.api import Persona, published_model_slug
from personas_as_code.catalogue.db import (
    FrontendModelRow,
    ModelBackendLink,
    ModelGroupMember,
    ModelGroupRow,
    PersonaRow,
    Tenant,
    new_id,
    utcnow,
)
from personas_as_code.catalogue.identity import Caller
from personas_as_code.catalogue.records import model_by_slug, persona_row, valid_id
from personas_as_code.catalogue.rendering import render
from personas_as_code.schemas.errors import PersonaNotPublished, SlugConflict
from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col


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


def sync_published(
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
    for group_id in dict.fromkeys(g for g in group_ids or [] if valid_id(g)):
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
    row = persona_row(session, caller, persona_id)
    if row.published and row.published_model_id:
        return render(session, [row])[0]
    base = model_by_slug(session, caller, row.model_slug)
    slug = published_model_slug(caller.tenant_slug, row.slug)
    try:
        _materialise(session, caller, row, base, slug, group_ids)
        session.commit()
    except IntegrityError as exc:
        # A concurrent publish of the same persona won: answer its state (idempotent).
        session.rollback()
        row = persona_row(session, caller, persona_id)
        if row.published:
            return render(session, [row])[0]
        raise SlugConflict(
            f"a frontend model with slug {slug!r} already exists", details={"model_slug": slug}
        ) from exc
    session.refresh(row)
    return render(session, [row])[0]


def delete_model(session: Session, model_id: str) -> None:
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
        row = persona_row(session, caller, persona_id)
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
                delete_model(session, model_id)
            session.commit()
            session.refresh(row)
            return render(session, [row])[0]
        session.rollback()
    raise not_published

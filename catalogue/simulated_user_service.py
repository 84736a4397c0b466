"""The test-personas API's behaviour, shared by the REST routes and the embedded store.

Every function takes an open ``Session``, the ``Caller`` (whose tenant holds
the projects) and the project name; it commits its own work and returns
``catalogue.simulated_user_api`` models or raises the typed errors of
``schemas.errors``.  Names are unique per project, enforced by the database:
of concurrent creates (or renames) to one name exactly one wins, the others
get ``SimulatedUserNameConflict`` (409).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Mapping

from personas_as_code.catalogue.db import utcnow
from personas_as_code.catalogue.identity import Caller
from personas_as_code.catalogue.simulated_user_api import (
    TestPersona,
    TestPersonaCreate,
    TestPersonaUpdate,
)
from personas_as_code.catalogue.simulated_user_images import (
    Portrait,
    image_prompt,
    local_portrait,
    openai_portrait,
)
from personas_as_code.catalogue.simulated_user_tables import (
    SimulatedUserImageRow,
    SimulatedUserProjectRow,
    SimulatedUserRow,
)
from personas_as_code.schemas.errors import (
    ImageNotFound,
    SimulatedUserNameConflict,
    SimulatedUserNotFound,
    ValidationFailed,
)
from personas_as_code.schemas.simulated_user_config import ImageSettings
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col

MAX_PER_PROJECT = 1000
"""The most test personas one project holds (the list is not paginated)."""


def _out(row: SimulatedUserRow) -> TestPersona:
    return TestPersona(
        id=row.id,
        name=row.name,
        description=row.description,
        system_prompt=row.system_prompt or "",
        headers=row.headers or {},
        image_url=row.image_id,
        metadata=row.metadata_ or {},
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _not_found(persona_id: str) -> SimulatedUserNotFound:
    return SimulatedUserNotFound("Persona not found", details={"id": persona_id[:100]})


def _conflict(name: str) -> SimulatedUserNameConflict:
    return SimulatedUserNameConflict(
        "Persona with name already exists", details={"name": name[:200]}
    )


def _row(session: Session, caller: Caller, project: str, persona_id: str) -> SimulatedUserRow:
    if "\x00" in persona_id:
        raise _not_found(persona_id)
    row = session.execute(
        select(SimulatedUserRow).where(
            col(SimulatedUserRow.id) == persona_id,
            col(SimulatedUserRow.tenant_id) == caller.tenant_id,
            col(SimulatedUserRow.project) == project,
        )
    ).scalar_one_or_none()
    if row is None:
        raise _not_found(persona_id)
    return row


def _name_taken(
    session: Session, caller: Caller, project: str, name: str, except_pk: int | None = None
) -> bool:
    query = select(col(SimulatedUserRow.pk)).where(
        col(SimulatedUserRow.tenant_id) == caller.tenant_id,
        col(SimulatedUserRow.project) == project,
        col(SimulatedUserRow.name) == name,
    )
    if except_pk is not None:
        query = query.where(col(SimulatedUserRow.pk) != except_pk)
    return session.execute(query).first() is not None


def _commit(session: Session, name: str) -> None:
    try:
        session.commit()
    except IntegrityError as exc:  # the unique name lost a race
        session.rollback()
        raise _conflict(name) from exc


def _required_name(name: str | None) -> str:
    if name is None or not name.strip():
        raise ValidationFailed("Name is required", details={"fields": ["name"]})
    return name


def list_test_personas(session: Session, caller: Caller, project: str) -> list[TestPersona]:
    """Every test persona of the project, oldest first."""
    rows = session.execute(
        select(SimulatedUserRow)
        .where(
            col(SimulatedUserRow.tenant_id) == caller.tenant_id,
            col(SimulatedUserRow.project) == project,
        )
        .order_by(col(SimulatedUserRow.pk))
        .limit(MAX_PER_PROJECT)
    ).scalars()
    return [_out(r) for r in rows]


def get_test_persona(
    session: Session, caller: Caller, project: str, persona_id: str
) -> TestPersona:
    """One test persona; ``SimulatedUserNotFound`` when the project has no such id."""
    return _out(_row(session, caller, project, persona_id))


def create_test_persona(
    session: Session, caller: Caller, project: str, body: TestPersonaCreate
) -> TestPersona:
    """Create a test persona; 400 without a name, 409 when the name is taken."""
    name = _required_name(body.name)
    if _name_taken(session, caller, project, name):
        raise _conflict(name)
    count = session.execute(
        select(func.count())
        .select_from(SimulatedUserRow)
        .where(
            col(SimulatedUserRow.tenant_id) == caller.tenant_id,
            col(SimulatedUserRow.project) == project,
        )
    ).scalar_one()
    if count >= MAX_PER_PROJECT:
        raise ValidationFailed(
            f"the project holds {MAX_PER_PROJECT} test personas, the most it may",
            details={"limit": MAX_PER_PROJECT},
        )
    now = utcnow()
    row = SimulatedUserRow(
        id=str(uuid.uuid4()),
        tenant_id=caller.tenant_id,
        project=project,
        name=name,
        description=body.description,
        system_prompt=body.system_prompt or "",
        headers=body.headers or {},
        metadata_=body.metadata or {},
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    _commit(session, name)
    session.refresh(row)
    return _out(row)


def update_test_persona(
    session: Session, caller: Caller, project: str, persona_id: str, body: TestPersonaUpdate
) -> TestPersona:
    """Apply every non-null field; 404 unknown id, 409 a taken name, 400 an unknown image."""
    row = _row(session, caller, project, persona_id)
    changes = body.model_dump(exclude_none=True)
    if "name" in changes:
        _required_name(changes["name"])
        if _name_taken(session, caller, project, changes["name"], row.pk):
            raise _conflict(changes["name"])
    if "image_url" in changes:
        _image_row(session, caller, project, changes["image_url"], missing=ValidationFailed)
        row.image_id = changes.pop("image_url")
    for key, value in changes.items():
        setattr(row, "metadata_" if key == "metadata" else key, value)
    row.updated_at = utcnow()
    session.add(row)
    _commit(session, row.name)
    session.refresh(row)
    return _out(row)


def delete_test_persona(session: Session, caller: Caller, project: str, persona_id: str) -> None:
    """Delete a test persona (and its image when nothing else uses it).

    Of concurrent deletes exactly one succeeds; the others get 404.
    """
    row = _row(session, caller, project, persona_id)
    gone = session.execute(
        delete(SimulatedUserRow)
        .where(col(SimulatedUserRow.pk) == row.pk)
        .returning(col(SimulatedUserRow.image_id))
        .execution_options(synchronize_session=False)
    ).all()
    if not gone:
        session.rollback()
        raise _not_found(persona_id)
    _drop_unused_image(session, caller, project, gone[0][0])
    session.commit()


# --- images ------------------------------------------------------------------------


def _image_row(
    session: Session,
    caller: Caller,
    project: str,
    image_id: str,
    *,
    missing: type[Exception] = ImageNotFound,
) -> SimulatedUserImageRow:
    row = session.execute(
        select(SimulatedUserImageRow).where(
            col(SimulatedUserImageRow.id) == image_id,
            col(SimulatedUserImageRow.tenant_id) == caller.tenant_id,
            col(SimulatedUserImageRow.project) == project,
        )
    ).scalar_one_or_none()
    if row is None:
        message = f"no stored image {image_id[:100]!r} in this project"
        if missing is ValidationFailed:
            raise ValidationFailed(message, details={"fields": ["imageUrl"]})
        raise ImageNotFound(message, details={"image_id": image_id[:100]})
    return row


def _drop_unused_image(
    session: Session, caller: Caller, project: str, image_id: str | None
) -> None:
    if not image_id:
        return
    used = session.execute(
        select(col(SimulatedUserRow.pk)).where(
            col(SimulatedUserRow.tenant_id) == caller.tenant_id,
            col(SimulatedUserRow.project) == project,
            col(SimulatedUserRow.image_id) == image_id,
        )
    ).first()
    if used is None:
        session.execute(
            delete(SimulatedUserImageRow).where(
                col(SimulatedUserImageRow.id) == image_id,
                col(SimulatedUserImageRow.tenant_id) == caller.tenant_id,
            )
        )


def get_image(
    session: Session, caller: Caller, project: str, image_id: str
) -> tuple[bytes, str, str]:
    """A stored image: bytes, content type and sha256."""
    row = _image_row(session, caller, project, image_id)
    return row.data, row.content_type, row.sha256


def project_image_settings(session: Session, caller: Caller, project: str) -> ImageSettings | None:
    """The project's image endpoint, or None (portraits are drawn locally)."""
    row = session.get(SimulatedUserProjectRow, (caller.tenant_id, project))
    if row is None or not row.image_settings:
        return None
    return ImageSettings.model_validate(row.image_settings)


def set_project_image_settings(
    session: Session,
    caller: Caller,
    project: str,
    settings: ImageSettings | None,
    *,
    managed_by: str | None,
) -> None:
    """Store (or, with None, clear) the project's image endpoint; the key is never stored,
    only the name of the variable holding it."""
    row = session.get(SimulatedUserProjectRow, (caller.tenant_id, project))
    if row is None:
        row = SimulatedUserProjectRow(tenant_id=caller.tenant_id, project=project)
    row.image_settings = settings.model_dump(mode="json") if settings else None
    row.managed_by = managed_by
    row.updated_at = utcnow()
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # created concurrently: write over it
        session.rollback()
        existing = session.get(SimulatedUserProjectRow, (caller.tenant_id, project))
        assert existing is not None
        existing.image_settings = row.image_settings
        existing.managed_by = managed_by
        session.commit()


def generate_image(
    session: Session,
    caller: Caller,
    project: str,
    persona_id: str,
    *,
    env: Mapping[str, str] = os.environ,
) -> TestPersona:
    """Make a portrait (the project's image endpoint, or drawn locally), store it and
    set it as the persona's ``imageUrl``; 400 when the persona has no system prompt."""
    row = _row(session, caller, project, persona_id)
    if not (row.system_prompt or "").strip():
        raise ValidationFailed("Persona has no system prompt", details={"fields": ["systemPrompt"]})
    settings = project_image_settings(session, caller, project)
    name, description, prompt = row.name, row.description, row.system_prompt
    # no transaction is held open while a remote endpoint takes its time
    session.rollback()
    portrait: Portrait
    if settings is None:
        portrait = local_portrait(name, prompt)
    else:
        portrait = openai_portrait(settings, image_prompt(name, description, prompt), env=env)
    image = SimulatedUserImageRow(
        id=f"{uuid.uuid4()}.{portrait.extension}",
        tenant_id=caller.tenant_id,
        project=project,
        content_type=portrait.content_type,
        sha256=hashlib.sha256(portrait.data).hexdigest(),
        data=portrait.data,
    )
    session.add(image)
    session.flush()
    row = _row(session, caller, project, persona_id)  # deleted meanwhile: 404, nothing stored
    previous, row.image_id = row.image_id, image.id
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    _drop_unused_image(session, caller, project, previous)
    session.commit()
    session.refresh(row)
    return _out(row)

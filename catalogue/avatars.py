"""Persona avatars: validated uploads (kept in step with the published model) and
the public read.
"""

from __future__ import annotations

import hashlib

from personas_as_code.catalogue.db import AvatarRow, PersonaRow, utcnow
from personas_as_code.catalogue.identity import Caller
from personas_as_code.catalogue.publishing import sync_published
from personas_as_code.catalogue.records import persona_row, valid_id
from personas_as_code.catalogue.rendering import avatar_path
from personas_as_code.loader.avatar import check_avatar
from personas_as_code.schemas.errors import NoAvatar, PersonaNotFound
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col


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
        persona = persona_row(session, caller, persona_id)
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
        sync_published(session, caller, persona)
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
    if not valid_id(persona_id):
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

"""Tables of the test-personas API (seed ``reference/test-personas-api.txt``).

A *project* is a namespace inside a tenant, named by the URL
(``/api/projects/{project}/personas``): it exists as soon as it holds a test
persona or settings, and one tenant's projects are invisible to another's
keys.  ``(tenant_id, project, name)`` is unique, so of concurrent creates of
one name the database lets exactly one through.

Imported by ``catalogue.db`` so ``create_schema`` creates these tables too;
this module imports nothing of the catalogue, so that import cannot cycle.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


def _ts() -> Any:
    return Field(default_factory=_now, sa_column=Column(DateTime(timezone=True), nullable=False))


class SimulatedUserRow(SQLModel, table=True):
    """A simulated user of one tenant's project."""

    __tablename__ = "test_personas"
    __table_args__ = (
        UniqueConstraint("tenant_id", "project", "name", name="uq_test_persona_name"),
    )
    pk: int | None = Field(default=None, primary_key=True)
    id: str = Field(unique=True, index=True)
    tenant_id: str = Field(foreign_key="tenants.id", index=True)
    project: str = Field(index=True)
    name: str
    description: str | None = None
    system_prompt: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    headers: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))
    metadata_: dict[str, Any] | None = Field(default=None, sa_column=Column("metadata", JSON))
    image_id: str | None = None
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class SimulatedUserImageRow(SQLModel, table=True):
    """A stored portrait; its id (``<uuid>.<ext>``) is what ``imageUrl`` holds."""

    __tablename__ = "test_persona_images"
    id: str = Field(primary_key=True)
    tenant_id: str = Field(foreign_key="tenants.id", index=True)
    project: str
    content_type: str
    sha256: str
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _ts()


class SimulatedUserProjectRow(SQLModel, table=True):
    """A project's settings: the image endpoint of ``generate-image`` (none: local)."""

    __tablename__ = "test_persona_projects"
    tenant_id: str = Field(primary_key=True, foreign_key="tenants.id")
    project: str = Field(primary_key=True)
    image_settings: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    managed_by: str | None = None
    updated_at: datetime = _ts()

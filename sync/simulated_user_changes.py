"""What the plan says about simulated users (the files of ``test-personas/``): their
ownership marker, their change kinds, the plan of one, and an owned one whose file
is gone.  Data only: ``sync.simulated_users`` plans and applies them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from personas_as_code.loader.simulated_users import LoadedSimulatedUser
from personas_as_code.sync.changes import (
    Change,
    CreateWithFields,
    ItemPlan,
    Leftover,
    SetMarker,
    UpdateWithDiffs,
)
from personas_as_code.sync.marker import read_marker_as
from pydantic import BaseModel, ConfigDict


class SimulatedUserMarker(BaseModel):
    """Ownership marker of a test persona (``metadata.personas_as_code``)."""

    model_config = ConfigDict(extra="ignore")

    repo: str
    slug: str
    path: str
    commit: str | None = None
    spec_hash: str | None = None
    protect: bool = False

    def identity(self) -> tuple[str, str, str, bool]:
        """What the plan compares (commit and spec hash change with every edit)."""
        return (self.repo, self.slug, self.path, self.protect)


def read_marker(metadata: dict[str, Any] | None) -> SimulatedUserMarker | None:
    """The marker in ``metadata``, or None when absent or unreadable."""
    return read_marker_as(metadata, SimulatedUserMarker)


@dataclass(frozen=True)
class SimulatedUserChange(Change):
    """Base of the test-persona change kinds."""


@dataclass(frozen=True)
class CreateSimulatedUser(CreateWithFields, SimulatedUserChange):
    kind: ClassVar[str] = "create"


@dataclass(frozen=True)
class UpdateSimulatedUser(UpdateWithDiffs, SimulatedUserChange):
    kind: ClassVar[str] = "update"


@dataclass(frozen=True)
class OwnSimulatedUser(SetMarker, SimulatedUserChange):
    """Only the ownership marker changes (file moved, protect toggled, first marker)."""

    kind: ClassVar[str] = "ownership"


@dataclass(frozen=True)
class DeleteSimulatedUser(SimulatedUserChange):
    kind: ClassVar[str] = "delete"


@dataclass(frozen=True)
class SetImageSettings(SimulatedUserChange):
    """The project's image endpoint (``[test_personas.images]``) changes."""

    kind: ClassVar[str] = "image_settings"
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "before": self.before, "after": self.after}


@dataclass
class SimulatedUserPlan(ItemPlan):
    """Everything the plan says about one test persona (action: create, update, delete
    or error)."""

    name: str = ""
    desired: LoadedSimulatedUser | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "path": self.path,
            "name": self.name,
            "action": self.action,
            "id": self.persona_id,
            "changes": [c.to_dict() for c in self.changes],
            "warnings": list(self.warnings),
            "error": self.error,
        }


@dataclass(frozen=True)
class SimulatedUserOrphan(Leftover):
    """An owned test persona whose file is gone."""

    name: str

    def to_dict(self, deleted: bool) -> dict[str, Any]:
        """The orphan as plan JSON; ``deleted``: whether this plan deletes it."""
        return {
            "slug": self.slug,
            "name": self.name,
            "id": self.persona_id,
            "path": self.path,
            "protected": self.protected,
            "deleted_by_this_plan": deleted,
        }

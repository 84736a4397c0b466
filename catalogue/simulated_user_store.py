"""Where test personas live: the embedded catalogue, or any server speaking the
test-personas API (seed ``reference/test-personas-api.txt``) over HTTP.

``SimulatedUserStore`` is what the sync engine needs from either: list, create,
update, delete in one project, and (embedded only) the project's image
settings.  ``HttpSimulatedUsers`` goes through ``HttpCatalogue.call`` (timeouts,
retries with backoff honouring ``Retry-After``, an answer cap, typed errors);
a create that may or may not have reached the server is settled by listing
the project for the name instead of being re-sent.  A server that answers
404/409 without this app's error envelope still maps to
``SimulatedUserNotFound`` / ``SimulatedUserNameConflict``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import quote

from personas_as_code.catalogue.simulated_user_api import (
    TestPersona,
    TestPersonaCreate,
    TestPersonaUpdate,
)
from personas_as_code.schemas.errors import (
    CatalogueBadResponse,
    CatalogueError,
    SimulatedUserNameConflict,
    SimulatedUserNotFound,
)
from personas_as_code.schemas.simulated_user_config import ImageSettings

if TYPE_CHECKING:
    import httpx
    from personas_as_code.catalogue.identity import Caller
    from sqlalchemy import Engine

R = TypeVar("R")
MAX_LISTED = 10_000
"""The most test personas read from one project (a bigger answer is refused)."""


class SimulatedUserStore(Protocol):
    """One project of a test-personas server."""

    if not TYPE_CHECKING:  # no protocol member: the stores do not carry it
        __test__ = False  # not a pytest test class

    where: str
    """Where the store is, for messages (``embedded catalogue, project p``)."""
    keeps_settings: bool
    """Whether the project's image settings can be read and written."""

    def list_all(self) -> list[TestPersona]: ...

    def create(self, body: TestPersonaCreate) -> TestPersona: ...

    def update(self, persona_id: str, body: TestPersonaUpdate) -> TestPersona: ...

    def delete(self, persona_id: str) -> None: ...

    def image_settings(self) -> ImageSettings | None: ...

    def set_image_settings(self, settings: ImageSettings | None, *, managed_by: str) -> None: ...

    def close(self) -> None: ...


class EmbeddedSimulatedUsers:
    """A project of the embedded catalogue, in-process (the default store)."""

    keeps_settings = True

    def __init__(self, engine: Engine, caller: Caller, project: str) -> None:
        self.engine = engine
        self.caller = caller
        self.project = project
        self.where = f"the embedded catalogue, project {project}"

    def _run(self, name: str, *args: object, **kwargs: object) -> Any:
        """Call ``test_persona_service.<name>`` in a session of its own."""
        # imported on use: an HTTP store (and every command over HTTP) needs no SQLAlchemy
        from personas_as_code.catalogue import simulated_user_service as service
        from sqlalchemy.orm import Session

        with Session(self.engine, expire_on_commit=False) as session:
            return getattr(service, name)(session, self.caller, self.project, *args, **kwargs)

    def list_all(self) -> list[TestPersona]:
        return self._run("list_test_personas")

    def create(self, body: TestPersonaCreate) -> TestPersona:
        return self._run("create_test_persona", body)

    def update(self, persona_id: str, body: TestPersonaUpdate) -> TestPersona:
        return self._run("update_test_persona", persona_id, body)

    def delete(self, persona_id: str) -> None:
        self._run("delete_test_persona", persona_id)

    def image_settings(self) -> ImageSettings | None:
        return self._run("project_image_settings")

    def set_image_settings(self, settings: ImageSettings | None, *, managed_by: str) -> None:
        self._run("set_project_image_settings", settings, managed_by=managed_by)

    def close(self) -> None:
        """The engine belongs to the catalogue that lent it."""


def _typed(exc: CatalogueError) -> CatalogueError:
    """A foreign server's bare 404/409 as the typed error this API means by it."""
    if type(exc) is CatalogueError:
        status = exc.details.get("status")
        if status == 404:
            return SimulatedUserNotFound("Persona not found", details=exc.details)
        if status == 409:
            return SimulatedUserNameConflict(
                "Persona with name already exists", details=exc.details
            )
    return exc


class HttpCaller(Protocol):
    """What the HTTP store needs of ``catalogue.client.HttpCatalogue``: one call with its
    retries and typed errors (a protocol, so this module does not import the client,
    whose catalogue hands out this store)."""

    base_url: str

    def call(self, method: str, path: str, *, parse: Callable[[httpx.Response], R], **kw: Any) -> R:
        """Send one request and parse its answer."""
        ...

    def close(self) -> None:
        """Close the connection pool."""
        ...


class HttpSimulatedUsers:
    """A project of a test-personas server reached over HTTP (ours or another)."""

    keeps_settings = False

    def __init__(self, http: HttpCaller, project: str, *, owns_http: bool = False) -> None:
        """Project ``project`` through ``http`` (an ``HttpCatalogue``: its timeouts,
        retries and key); ``owns_http``: closing the store closes it."""
        self._http, self._owns_http = http, owns_http
        self.project = project
        self.where = f"{http.base_url}, project {project}"
        self._prefix = f"/api/projects/{quote(project, safe='')}/personas"

    def _call(self, method: str, path: str, parse: Callable[[httpx.Response], R], **kw) -> R:
        try:
            return self._http.call(method, self._prefix + path, parse=parse, **kw)
        except CatalogueError as exc:
            raise _typed(exc) from None

    @staticmethod
    def _one(resp: httpx.Response) -> TestPersona:
        return TestPersona.model_validate(resp.json())

    def list_all(self) -> list[TestPersona]:
        def parse(resp: httpx.Response) -> list[TestPersona]:
            items = resp.json()
            if not isinstance(items, list):
                raise TypeError("not a list")
            if len(items) > MAX_LISTED:
                raise CatalogueBadResponse(
                    f"{self.where} lists more than {MAX_LISTED:,} test personas; refused"
                )
            return [TestPersona.model_validate(item) for item in items]

        return self._call("GET", "", parse)

    def create(self, body: TestPersonaCreate) -> TestPersona:
        def reconcile() -> TestPersona | None:
            return next((p for p in self.list_all() if p.name == body.name), None)

        return self._call(
            "POST",
            "",
            self._one,
            json=body.model_dump(mode="json", by_alias=True, exclude_none=True),
            idempotent=False,
            reconcile=reconcile,
        )

    def update(self, persona_id: str, body: TestPersonaUpdate) -> TestPersona:
        return self._call(
            "PUT",
            f"/{quote(persona_id, safe='')}",
            self._one,
            json=body.model_dump(mode="json", by_alias=True, exclude_none=True),
        )

    def delete(self, persona_id: str) -> None:
        # gone already (an earlier, interrupted apply, or a retried DELETE): done
        with contextlib.suppress(SimulatedUserNotFound):
            self._call("DELETE", f"/{quote(persona_id, safe='')}", lambda _r: None)

    def image_settings(self) -> ImageSettings | None:
        return None

    def set_image_settings(self, settings: ImageSettings | None, *, managed_by: str) -> None:
        raise CatalogueError(f"{self.where}: image settings are set on the server itself")

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

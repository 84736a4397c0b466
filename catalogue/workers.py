"""``personas catalogue serve``: one server process, or N worker processes on PostgreSQL.

uvicorn starts each worker process from an import string, so a worker builds its
app with ``app_from_env`` from settings the parent leaves in the environment.
The parent creates the schema once before the workers start (they never race
to create it).  SQLite is one file written under one lock: several processes
would only queue on it, so more than one worker on SQLite is refused.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

from personas_as_code.schemas.errors import ConfigError

FACTORY = "personas_as_code.catalogue.workers:app_from_env"
"""The import string uvicorn builds each worker's app from."""

_ENV = {
    "database": "PERSONAS_SERVE_DATABASE_URL",
    "scaidrive_url": "PERSONAS_SERVE_SCAIDRIVE_URL",
    "max_body_bytes": "PERSONAS_SERVE_MAX_BODY_BYTES",
    "key_cache_seconds": "PERSONAS_SERVE_KEY_CACHE_SECONDS",
    "cors_origins": "PERSONAS_SERVE_CORS_ORIGINS",
}


@dataclass(frozen=True)
class ServeSettings:
    """What a server process needs to build its app."""

    database: str
    scaidrive_url: str | None = None
    max_body_bytes: int | None = None
    key_cache_seconds: float | None = None
    cors_origins: tuple[str, ...] = ()

    def to_env(self) -> dict[str, str]:
        """The settings as the environment variables ``from_env`` reads."""
        return {
            _ENV[name]: " ".join(value) if isinstance(value, tuple) else str(value)
            for name, value in vars(self).items()
            if value is not None and value != () and name in _ENV
        }

    @classmethod
    def from_env(cls, env: dict[str, str] | os._Environ[str] = os.environ) -> ServeSettings:
        """The settings a parent process left in ``env``."""
        raw = {name: env.get(var) for name, var in _ENV.items()}
        if not raw["database"]:
            raise ConfigError(f"{_ENV['database']} is not set: start workers with `serve`")
        return cls(
            database=raw["database"],
            scaidrive_url=raw["scaidrive_url"] or None,
            max_body_bytes=int(raw["max_body_bytes"]) if raw["max_body_bytes"] else None,
            key_cache_seconds=(
                float(raw["key_cache_seconds"]) if raw["key_cache_seconds"] else None
            ),
            cors_origins=tuple((raw["cors_origins"] or "").split()),
        )

    def app_options(self) -> dict[str, object]:
        """Keyword arguments of ``create_app`` beyond the database."""
        options: dict[str, object] = {"scaidrive_base_url": self.scaidrive_url}
        if self.max_body_bytes:
            options["max_body_bytes"] = self.max_body_bytes
        if self.key_cache_seconds is not None:
            options["key_cache_seconds"] = self.key_cache_seconds
        if self.cors_origins:
            options["cors_origins"] = self.cors_origins
        return options


def check_workers(database_url: str, workers: int) -> None:
    """Refuse a worker count the database cannot use (``ConfigError``)."""
    from personas_as_code.catalogue.db import is_postgres

    if workers < 1:
        raise ConfigError("--workers must be at least 1")
    if workers > 1 and not is_postgres(database_url):
        raise ConfigError(
            f"--workers {workers} needs PostgreSQL: SQLite is one file behind one write "
            "lock, so more processes would only queue on it; serve SQLite with one worker "
            "or use a postgresql:// database"
        )


def app_from_env():
    """The app of one worker process, from the settings its parent left in the env."""
    from personas_as_code.catalogue.rest import create_app

    settings = ServeSettings.from_env()
    app = create_app(settings.database, init_schema=False, **settings.app_options())  # type: ignore[arg-type]
    gc.freeze()  # what startup built lives as long as the worker: keep it out of GC passes
    return app


def serve(settings: ServeSettings, *, host: str, port: int, workers: int = 1) -> None:
    """Run the server until interrupted: in this process, or in ``workers`` processes."""
    import uvicorn
    from personas_as_code.catalogue.db import make_engine, normalise_url
    from personas_as_code.catalogue.rest import create_app
    from personas_as_code.catalogue.seed import bootstrap

    settings = ServeSettings(
        normalise_url(settings.database),
        settings.scaidrive_url,
        settings.max_body_bytes,
        settings.key_cache_seconds,
        settings.cors_origins,
    )
    check_workers(settings.database, workers)
    if workers == 1:
        app = create_app(settings.database, **settings.app_options())  # type: ignore[arg-type]
        gc.freeze()  # what startup built lives as long as the server: keep it out of GC passes
        uvicorn.run(app, host=host, port=port, log_level="info")
        return
    engine = make_engine(settings.database)
    try:
        bootstrap(engine)
    finally:
        engine.dispose()
    os.environ.update(settings.to_env())
    uvicorn.run(FACTORY, factory=True, workers=workers, host=host, port=port, log_level="info")

"""``personas catalogue ...``: serve and administer the embedded catalogue."""

from __future__ import annotations

from typing import Annotated

import typer
from personas_as_code.catalogue.defaults import (
    DEFAULT_DATABASE_URL,
    DEFAULT_KEY_CACHE_SECONDS,
    ROLES,
)
from personas_as_code.cli.common import FullHelpGroup, guarded

app = typer.Typer(
    cls=FullHelpGroup,
    help="Serve and administer the embedded ScaiPersona-compatible catalogue.",
    no_args_is_help=True,
)

DatabaseOpt = Annotated[
    str,
    typer.Option(
        "--database",
        envvar="PERSONAS_DATABASE_URL",
        help="SQLAlchemy URL; a postgresql:// URL selects PostgreSQL (psycopg 3).",
    ),
]


@app.command()
@guarded
def init(
    database: DatabaseOpt = DEFAULT_DATABASE_URL,
    tenant: Annotated[str, typer.Option(help="Tenant slug to create.")] = "default",
    role: Annotated[str, typer.Option(help="Role of the new API key: " + ", ".join(ROLES))] = (
        "tenant_admin"
    ),
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="PERSONAS_CATALOGUE_API_KEY",
            help="Register this key value instead of generating one (idempotent).",
        ),
    ] = None,
) -> None:
    """Create the schema, the tenant, the starter models and groups, and an API key.

    Idempotent: the tenant, models and groups are created once.  Each run
    without --api-key makes a new key; its value is printed once and only its
    sha256 is stored.
    """
    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}", param_hint="--role")
    from personas_as_code.catalogue.db import make_engine, normalise_url
    from personas_as_code.catalogue.seed import init_tenant

    url = normalise_url(database)
    engine = make_engine(url)
    try:
        key = init_tenant(engine, tenant, role, api_key)
    finally:
        engine.dispose()
    typer.echo(f"catalogue ready at {engine.url.render_as_string(hide_password=True)}")
    typer.echo(f"tenant: {tenant} ({role})")
    if api_key:
        typer.echo("API key: the one given with --api-key")
    else:
        typer.echo(f"API key (shown once, store it now): {key}")
    typer.echo("\nThen run `personas catalogue serve` and point the tools at it:")
    typer.echo("  export SCAIGRID_HOST=http://127.0.0.1:8700")
    typer.echo("  export SCAIGRID_API_KEY=<the key>")


def _cors_origin(value: str) -> str:
    """An origin as browsers send it (``scheme://host[:port]``, no path); else refused."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or len(value) > 300
    ):
        raise typer.BadParameter(
            f"{value!r} is not an origin like https://chat.example.com", param_hint="--cors-origin"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _cors_origins(values: list[str] | None) -> list[str]:
    """``--cors-origin`` values checked while the command line is parsed."""
    return [_cors_origin(v) for v in values or ()]


@app.command()
@guarded
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8700,
    database: DatabaseOpt = DEFAULT_DATABASE_URL,
    scaidrive_url: Annotated[
        str | None,
        typer.Option(
            "--scaidrive-url",
            envvar="PERSONAS_SCAIDRIVE_URL",
            help="ScaiDrive base URL. Without it, GET /scaidrive/shares lists the scaidrive "
            "knowledge folders apply indexed, and answers 503 SCAIDRIVE_NOT_CONFIGURED when "
            "there are none.",
        ),
    ] = None,
    max_body_bytes: Annotated[
        int | None,
        typer.Option(
            "--max-body-bytes",
            envvar="PERSONAS_MAX_BODY_BYTES",
            min=1,
            help="Largest request body accepted, in bytes (default 4 MiB; 413 beyond). "
            "Avatar uploads have their own cap (2 MB plus multipart overhead).",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            envvar="PERSONAS_SERVE_WORKERS",
            min=1,
            help="Server processes (PostgreSQL only; SQLite is served by one).",
        ),
    ] = 1,
    key_cache_seconds: Annotated[
        float,
        typer.Option(
            "--key-cache-seconds",
            min=0,
            help="How long a valid API key is trusted before it is looked up again "
            "(a revoked key stops working within this time; 0: every request).",
        ),
    ] = DEFAULT_KEY_CACHE_SECONDS,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            help="A browser origin allowed to call the API (CORS), e.g. "
            "http://localhost:3000; repeatable. None by default: no CORS headers.",
            callback=_cors_origins,
        ),
    ] = None,
) -> None:
    """Serve the ScaiPersona-compatible REST API (OpenAPI at /docs and /openapi.json) and
    the OpenAI-compatible /oai/v1 (chat/completions, models)."""
    from personas_as_code.catalogue.workers import ServeSettings, check_workers
    from personas_as_code.catalogue.workers import serve as run_server

    origins = tuple(cors_origin or ())
    settings = ServeSettings(database, scaidrive_url, max_body_bytes, key_cache_seconds, origins)
    check_workers(database, workers)
    processes = f" in {workers} processes" if workers > 1 else ""
    typer.echo(f"serving the catalogue on http://{host}:{port}{processes} (OpenAPI: /docs)")
    run_server(settings, host=host, port=port, workers=workers)

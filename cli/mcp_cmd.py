"""``personas mcp``: serve the persona repo to AI assistants over MCP."""

from __future__ import annotations

import contextlib
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from personas_as_code.cli.common import EnvOption, RepoOption, guarded, say


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


def mcp(
    repo: RepoOption = Path("."),
    transport: Annotated[
        Transport, typer.Option(help="stdio for local assistants, http for streamable HTTP.")
    ] = Transport.stdio,
    host: Annotated[str, typer.Option(help="HTTP bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8765,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Hide the draft (write) tools.")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="PERSONAS_MCP_TOKEN",
            help="Bearer token required over HTTP (mandatory for non-loopback hosts).",
        ),
    ] = None,
    catalogue: Annotated[
        bool,
        typer.Option(
            "--catalogue/--no-catalogue",
            help="Read the repo's catalogue (remote when SCAIGRID_HOST is set, else embedded) "
            "for plan_sync, drift in get_persona and context windows in previews; "
            "--no-catalogue opens none (plan_sync is not offered).",
        ),
    ] = True,
    env: EnvOption = None,
) -> None:
    """Serve get/search/draft/preview/export/validate/plan tools over MCP (stdio by default)."""
    from personas_as_code.loader.config import load_config
    from personas_as_code.loader.files import DirectoryFiles
    from personas_as_code.loader.repo import Repo
    from personas_as_code.mcp_server.http import http_app, serve_http
    from personas_as_code.mcp_server.server import build_server
    from personas_as_code.mcp_server.unconfigured import repo_refusal
    from personas_as_code.sync.engine import open_repo_catalogue

    refusal = repo_refusal(repo.resolve())
    if refusal is not None:  # the server starts, every tool answers this; nothing is created
        say(f"warning {refusal.code}: {refusal.message}; every tool answers this", err=True)
    with contextlib.ExitStack() as stack:
        opened = None
        if catalogue and refusal is None:  # the config only: no load of every persona here
            root = repo.resolve()
            config, _ = load_config(DirectoryFiles(root), root.name, env)
            opened = stack.enter_context(open_repo_catalogue(Repo(root, config, {}, [], [])))
        server = build_server(
            repo,
            read_only=read_only,
            catalogue=opened,
            with_catalogue=catalogue,
            environment=env,
        )
        if transport is Transport.stdio:
            server.run()
            return
        http_app(server, host, token)  # refuses unsafe binds before anything listens
        say(f"serving MCP on http://{host}:{port}/mcp", err=True)
        serve_http(server, host, port, token)


def register(app: typer.Typer) -> None:
    """Add ``mcp`` to the CLI."""
    app.command("mcp")(guarded(mcp))

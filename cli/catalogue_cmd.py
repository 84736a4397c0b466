"""``personas catalogue ...``: serve and administer the embedded catalogue."""

from __future__ import annotations

import typer

app = typer.Typer(help="Serve and administer the embedded ScaiPersona-compatible catalogue.")

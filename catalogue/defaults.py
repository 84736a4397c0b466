"""The embedded catalogue's defaults, importable without SQLAlchemy (the CLI's help
shows them, and ``personas --help`` must stay fast)."""

from __future__ import annotations

DEFAULT_DATABASE_URL = "sqlite:///.personas/catalogue.db"
ROLES = ("tenant_admin", "partner_admin", "super_admin")
DEFAULT_KEY_CACHE_SECONDS = 5.0
"""How long a server trusts an API key it has resolved before looking it up again."""

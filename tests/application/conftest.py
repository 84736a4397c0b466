"""Fixtures: the example repo as a real git repo (shared with the MCP server's tests)."""

from __future__ import annotations

from tests.mcp_server.conftest import git_repo  # noqa: F401
from tests.repos import example_repo, repo  # noqa: F401

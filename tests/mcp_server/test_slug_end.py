"""Issue 20: ``duplicate_persona`` with ``new_slug="x\\n"`` answered a version conflict;
a slug with anything after it is an invalid input, and nothing is created."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from tests.mcp_server.conftest import call_error, git

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("new_slug", ["x\n", "translator-de\n"])
async def test_duplicate_refuses_a_new_slug_ending_in_a_newline(
    client: Client, git_repo: Path, new_slug: str
) -> None:
    message = await call_error(client, "duplicate_persona", slug="translator", new_slug=new_slug)
    assert "INVALID_INPUT" in message and "invalid slug" in message, message
    assert git(git_repo, "for-each-ref", "refs/heads/persona-drafts/") == ""

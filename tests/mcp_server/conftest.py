"""Fixtures: the example repo as a real git repo in a temp dir, a server and a client."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client
from personas_as_code.mcp_server import build_server

from tests.repos import example_repo, repo  # noqa: F401


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` and return its stdout."""
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


def init_git(root: Path) -> Path:
    """Turn ``root`` into a git repo with everything committed on ``main``."""
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Test User")
    git(root, "config", "user.email", "test@example.com")
    git(root, "config", "commit.gpgsign", "false")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial personas")
    return root


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def git_repo(example_repo: Path) -> Path:  # noqa: F811
    """The shipped examples, committed in a fresh git repo."""
    return init_git(example_repo)


@pytest.fixture
async def client(git_repo: Path) -> AsyncIterator[Client]:
    async with Client(build_server(git_repo)) as c:
        yield c


async def call(client: Client, tool: str, **arguments: object) -> dict:
    """Call ``tool``; fail the test with the tool's message if it errored."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    return result.structured_content or {}


async def call_error(client: Client, tool: str, **arguments: object) -> str:
    """Call ``tool`` expecting an error; return its message."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return result.content[0].text  # type: ignore[union-attr]

"""The real ``personas mcp`` process over stdio and over streamable HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp import Client, StdioServerParameters

from tests.loopback import free_port
from tests.mcp_server.conftest import call

pytestmark = pytest.mark.anyio
PERSONAS = str(Path(sys.executable).with_name("personas"))


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"port {port} did not open")


def spawn(args: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([PERSONAS, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()


@pytest.fixture
def http_server(git_repo: Path) -> Iterator[int]:
    port = free_port()
    for proc in spawn(["mcp", "--repo", str(git_repo), "--transport", "http", "--port", str(port)]):
        wait_for_port(port, proc)
        yield port


@pytest.fixture
def http_server_with_token(git_repo: Path) -> Iterator[int]:
    port = free_port()
    args = ["mcp", "--repo", str(git_repo), "--transport", "http", "--port", str(port)]
    for proc in spawn([*args, "--token", "s3cret"]):
        wait_for_port(port, proc)
        yield port


async def test_stdio_subprocess(git_repo: Path) -> None:
    params = StdioServerParameters(command=PERSONAS, args=["mcp", "--repo", str(git_repo)])
    async with Client(params) as c:
        result = await call(c, "search_personas", query="translate")
        assert [r["slug"] for r in result["results"]] == ["translator"]
        draft = await call(c, "patch_persona_draft", slug="translator", description="Translates.")
        assert draft["draft"]["version"] == 1


async def test_stdio_read_only(git_repo: Path) -> None:
    params = StdioServerParameters(
        command=PERSONAS, args=["mcp", "--repo", str(git_repo), "--read-only"]
    )
    async with Client(params) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert "patch_persona_draft" not in names and "get_persona" in names


async def test_streamable_http(http_server: int) -> None:
    async with Client(f"http://127.0.0.1:{http_server}/mcp") as c:
        view = await call(c, "get_persona", slug="sql-helper")
        assert view["fields"]["model"] == "scaigrid/gpt-4o-mini"
    # DNS-rebinding protection: a foreign Host header is refused
    response = httpx.post(
        f"http://127.0.0.1:{http_server}/mcp",
        headers={"Host": "evil.example", "Content-Type": "application/json"},
        content=b"{}",
    )
    assert response.status_code in (400, 403, 421)


def test_http_token_is_required_when_set(http_server_with_token: int) -> None:
    url = f"http://127.0.0.1:{http_server_with_token}/mcp"
    assert httpx.post(url, json={}).status_code == 401
    wrong = httpx.post(url, json={}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    right = httpx.post(
        url,
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        headers={"Authorization": "Bearer s3cret", "Accept": "application/json, text/event-stream"},
    )
    assert right.status_code != 401


def test_non_loopback_without_token_is_refused(git_repo: Path) -> None:
    done = subprocess.run(
        [PERSONAS, "mcp", "--repo", str(git_repo), "--transport", "http", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode != 0
    assert "without a token" in done.stderr

"""The operator's backend key never reaches a caller (issue 19, high): an upstream that
repeats the ``Authorization`` header (and another secret) in its 401 message and in a
stream's error event, checked on every surface -- the REST API (plain and streamed),
the server's log, ``personas run``, ``personas test`` in each report format, and the
MCP ``run_persona`` / ``preview_persona`` tools.  The key is an opaque value no secret
detector knows: only redaction of the backend's actual key hides it."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp import Client
from personas_as_code.catalogue.backends import configure_backend
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.embedded import EmbeddedCatalogue
from personas_as_code.mcp_server import build_server

from tests.catalogue.conftest import Live, serve_live
from tests.catalogue.test_inference_rest import sse
from tests.inference.hostile import LEAKED, Hostile, serve_hostile
from tests.mcp_server.conftest import call
from tests.persona_tests.conftest import apply_into, copy_examples
from tests.sync.conftest import api_key

KEY_ENV = "ISOLATION_TEST_BACKEND_KEY"
KEY = "opaque-operator-credential-7Qx2"  # no known shape: only the key's value finds it
QUESTION = "Can I get a refund on my annual plan?"
CLI = [sys.executable, "-m", "personas_as_code.cli.main"]


def assert_clean(text: str, where: str) -> None:
    assert KEY not in text, f"the backend key reached {where}: {text[:2000]}"
    assert LEAKED not in text, f"the upstream's other secret reached {where}"


@pytest.fixture(scope="module")
def upstream() -> Iterator[Hostile]:
    with serve_hostile("echo-key") as server:
        yield server


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)


@pytest.fixture
def live(sqlite_url: str, upstream: Hostile, keyed: None) -> Iterator[Live]:
    with serve_live(sqlite_url) as server:
        configure_backend(
            server.engine,
            "openai/gpt-4o",
            {
                "provider": "openai",
                "base_url": upstream.base_url,
                "model": "m",
                "api_key_env": KEY_ENV,
                "max_retries": 0,
            },
            managed_by="tests",
        )
        yield server


def test_rest_plain_and_stream_and_the_log(live: Live, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = {"model": "scaigrid/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    plain = live.client.post("/v1/inference/chat", json=body, headers=live.auth())
    assert plain.status_code == 502 and plain.json()["error"]["code"] == "BACKEND_ERROR"
    assert "Incorrect API key provided: Bearer [REDACTED]" in plain.text  # the rest is kept
    assert_clean(plain.text, "the REST answer")
    streamed = live.client.post(
        "/v1/inference/chat", json={**body, "stream": True}, headers=live.auth()
    )
    events = sse(streamed.text)
    assert events[1]["choices"][0]["delta"]["content"] == "Hi"
    assert events[-2]["error"]["code"] == "BACKEND_ERROR"
    assert_clean(streamed.text, "the REST stream")
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert_clean(logged, "the log")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, upstream: Hostile) -> Iterator[Path]:
    """The example repo, applied, whose gpt-4o backend is the echoing upstream."""
    root = copy_examples(tmp_path_factory.mktemp("redaction") / "repo")
    with (root / "personas.toml").open("a", encoding="utf-8") as toml:
        toml.write(
            f'\n[backends."openai/gpt-4o"]\nprovider = "openai"\nbase_url = "{upstream.base_url}"'
            f'\nmodel = "m"\napi_key_env = "{KEY_ENV}"\nmax_retries = 0\n'
        )
    engine = make_engine(f"sqlite:///{root / '.personas' / 'catalogue.db'}")
    api_key(engine)
    apply_into(root, engine)
    engine.dispose()
    yield root


def personas(root: Path, *args: str) -> str:
    env = {**os.environ, KEY_ENV: KEY, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [*CLI, *args], cwd=root, capture_output=True, text=True, env=env, timeout=120
    )
    return done.stdout + done.stderr


def test_personas_run_and_every_test_report_format(repo: Path) -> None:
    ran = personas(repo, "run", "support-agent", QUESTION)
    assert "BACKEND_ERROR" in ran and "[REDACTED]" in ran
    assert_clean(ran, "personas run")
    assert_clean(personas(repo, "run", "support-agent", QUESTION, "--format", "json"), "run json")
    for fmt in ("text", "json", "junit", "markdown"):
        report = personas(repo, "test", "support-agent", "--format", fmt)
        assert "Incorrect API key provided" in report, report[:2000]
        assert_clean(report, f"personas test --format {fmt}")


@pytest.mark.anyio
async def test_mcp_run_and_preview(repo: Path, keyed: None) -> None:
    engine = make_engine(f"sqlite:///{repo / '.personas' / 'catalogue.db'}")
    try:
        async with Client(build_server(repo, catalogue=EmbeddedCatalogue(engine, "acme"))) as c:
            ran = await c.call_tool("run_persona", {"slug": "support-agent", "message": QUESTION})
            text = json.dumps([getattr(p, "text", "") for p in ran.content])
            assert ran.is_error and "Incorrect API key provided" in text
            assert_clean(text + json.dumps(ran.structured_content), "MCP run_persona")
            preview = await call(c, "preview_persona", slug="support-agent")
            assert_clean(json.dumps(preview), "MCP preview_persona")  # it calls no backend
    finally:
        engine.dispose()

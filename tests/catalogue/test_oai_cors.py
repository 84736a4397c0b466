"""CORS on ``personas catalogue serve``: off by default; ``--cors-origin`` (repeatable)
lets the listed browser origins call the API -- preflight included -- and no other."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.catalogue.oai_kit import oai_server
from tests.loopback import free_port

ALLOWED = "http://chat.example.com:3000"
PATH = "/oai/v1/chat/completions"
ROOT = Path(__file__).resolve().parents[2]


def preflight(base: str, origin: str) -> httpx.Response:
    return httpx.options(
        base + PATH,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os",
        },
    )


def cors_headers(resp: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in resp.headers.items() if k.lower().startswith("access-control-")}


def test_no_cors_by_default(sqlite_url: str) -> None:
    with oai_server(sqlite_url) as server:
        resp = preflight(server.live.base_url, ALLOWED)
        assert resp.status_code == 405 and cors_headers(resp) == {}
        models = httpx.get(
            server.base_url + "/models",
            headers={"Origin": ALLOWED, "Authorization": f"Bearer {server.key}"},
        )
        assert models.status_code == 200 and cors_headers(models) == {}


def test_listed_origins_only(sqlite_url: str) -> None:
    with oai_server(sqlite_url, cors_origins=(ALLOWED, "https://ui.example")) as server:
        ok = preflight(server.live.base_url, ALLOWED)
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in ok.headers["access-control-allow-methods"]
        allowed_headers = ok.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed_headers and "x-stainless-os" in allowed_headers
        assert preflight(server.live.base_url, "https://ui.example").status_code == 200
        other = preflight(server.live.base_url, "http://evil.example")
        assert other.status_code != 200
        assert "access-control-allow-origin" not in other.headers
        # the real call of a listed origin carries the header, an unlisted one's does not
        auth = {"Authorization": f"Bearer {server.key}"}
        mine = httpx.get(server.base_url + "/models", headers={"Origin": ALLOWED, **auth})
        assert mine.headers["access-control-allow-origin"] == ALLOWED
        theirs = httpx.get(
            server.base_url + "/models", headers={"Origin": "http://evil.example", **auth}
        )
        assert theirs.status_code == 200
        assert "access-control-allow-origin" not in theirs.headers  # the browser blocks it
        # an error answer to a listed origin is readable by the page too
        refused = httpx.get(server.base_url + "/models", headers={"Origin": ALLOWED})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == ALLOWED


@contextlib.contextmanager
def serve_process(tmp_path: Path, *options: str) -> Iterator[str]:
    """``personas catalogue serve`` in its own process; yields the base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_"))}
    env["PYTHONPATH"] = str(ROOT)
    database = f"sqlite:///{tmp_path / 'c.db'}"
    command = [sys.executable, "-m", "personas_as_code.cli.main", "catalogue", "serve"]
    proc = subprocess.Popen(
        [*command, "--database", database, "--port", str(port), *options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "no server")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_takes_cors_origins(tmp_path: Path) -> None:
    with serve_process(
        tmp_path, "--cors-origin", ALLOWED, "--cors-origin", "https://b.example/"
    ) as base:
        assert preflight(base, ALLOWED).headers["access-control-allow-origin"] == ALLOWED
        assert preflight(base, "https://b.example").status_code == 200
        assert "access-control-allow-origin" not in preflight(base, "https://c.example").headers


@pytest.mark.parametrize(
    "origin", ["chat.example.com", "http://x.example/path", "ftp://x.example", "*"]
)
def test_serve_refuses_what_is_not_an_origin(tmp_path: Path, origin: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_"))}
    env["PYTHONPATH"] = str(ROOT)
    database = f"sqlite:///{tmp_path / 'c.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "personas_as_code.cli.main", "catalogue", "serve",
         "--database", database, "--port", str(free_port()), "--cors-origin", origin],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--cors-origin" in done.stderr and origin in done.stderr


def test_worker_processes_get_the_origins() -> None:
    from personas_as_code.catalogue.workers import ServeSettings

    settings = ServeSettings("sqlite:///x.db", cors_origins=(ALLOWED, "https://b.example"))
    again = ServeSettings.from_env(settings.to_env())
    assert again.cors_origins == (ALLOWED, "https://b.example")
    assert again.app_options()["cors_origins"] == (ALLOWED, "https://b.example")
    assert (
        "cors_origins"
        not in ServeSettings.from_env(ServeSettings("sqlite:///x.db").to_env()).app_options()
    )

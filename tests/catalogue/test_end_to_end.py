"""The issue's "done when": `personas catalogue init`, then `serve`, then create
and publish a persona exactly as the reference's curl examples do, and see the
model in `GET /v1/models`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from personas_as_code.cli.catalogue_cmd import app
from typer.testing import CliRunner

from tests.loopback import free_port

ROOT = Path(__file__).resolve().parents[2]


def _init(database_url: str, *extra: str) -> str:
    result = CliRunner().invoke(
        app, ["init", "--database", database_url, "--tenant", "acme", *extra]
    )
    assert result.exit_code == 0, result.output
    match = re.search(r"API key \(shown once, store it now\): (\S+)", result.output)
    assert match, result.output
    return match.group(1)


def test_init_serve_create_publish_list(database_url: str, tmp_path: Path) -> None:
    key = _init(database_url)
    second = _init(database_url)  # idempotent: same tenant and starter set, one more key
    assert key != second
    port = free_port()
    serve = ["serve", "--port", str(port), "--database", database_url, "--max-body-bytes", "65536"]
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-c", "from personas_as_code.cli.catalogue_cmd import app; app()", *serve],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    host = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{host}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            alive = server.poll() is None and time.monotonic() < deadline
            assert alive, (tmp_path / "server.log").read_text()
            time.sleep(0.1)

        created = httpx.post(
            f"{host}/v1/modules/scaipersona/personas",
            headers={**headers, "Content-Type": "application/json"},
            json={"name": "Support Agent", "model_slug": "scaigrid/gpt-4o", "system_prompt": "Hi."},
        )
        assert created.status_code == 201, created.text
        persona = created.json()["data"]
        published = httpx.post(
            f"{host}/v1/modules/scaipersona/personas/{persona['id']}/publish",
            headers={**headers, "Content-Type": "application/json"},
            json={"group_ids": ["mg_internal_chat", "mg_qa"]},
        ).json()["data"]
        assert published["published"] is True and published["published_model_id"]

        models = httpx.get(f"{host}/v1/models", headers=headers).json()["data"]
        model = next(m for m in models if m["slug"] == "tenant/acme/support-agent")
        assert model["id"] == published["published_model_id"]
        assert model["context_window"] == 128000 and model["system_prompt_template"] == "Hi."
        groups = httpx.get(
            f"{host}/v1/models/groups", headers={"Authorization": f"Bearer {second}"}
        )
        joined = {g["id"] for g in groups.json()["data"] if model["slug"] in g["model_slugs"]}
        assert joined == {"mg_internal_chat", "mg_qa"}
        assert httpx.get(f"{host}/v1/models").status_code == 401
        too_big = httpx.post(
            f"{host}/v1/modules/scaipersona/personas",
            headers={**headers, "Content-Type": "application/json"},
            content=b" " * 65537,
        )
        assert too_big.status_code == 413, too_big.text
        assert too_big.json()["error"]["details"]["limit"] == 65536
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()

"""``personas catalogue serve --workers N`` (issue 13): several server processes on one
PostgreSQL database lose and duplicate no writes under concurrent applies; SQLite
with more than one worker is refused clearly."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.sync.engine import apply_repo, compute_plan, load_valid_repo

from tests.catalogue.conftest import FAST_RETRY
from tests.loopback import free_port
from tests.sync.test_cli import personas

KEY = "sk_workers_" + "k" * 32
ROOT = Path(__file__).resolve().parents[2]


def write_repo(
    root: Path, repo_id: str, prefix: str, count: int, prompt: str = "Be brief."
) -> Path:
    """A repo of ``count`` personas ``{prefix}-NN`` (two in three published)."""
    (root / "personas").mkdir(parents=True, exist_ok=True)
    (root / "personas.toml").write_text(
        f'[repo]\nid = "{repo_id}"\ntenant = "acme"\n[safety]\nmin_existing = 100000\n'
    )
    for i in range(count):
        lines = [
            f"name: {prefix.title()} {i}",
            "model: scaigrid/gpt-4o",
            "system_prompt: |",
            f"  {prompt} ({prefix} {i})",
            "publish:",
            f"  enabled: {'true' if i % 3 else 'false'}",
            "  groups: [mg_qa]",
            "sources:",
            "  - type: collection",
            f"    id: col_{i}",
            f"metadata: {{n: {i}}}",
        ]
        (root / "personas" / f"{prefix}-{i:02d}.yaml").write_text("\n".join(lines) + "\n")
    return root


@contextlib.contextmanager
def server(database_url: str, workers: int) -> Iterator[str]:
    """``personas catalogue serve`` in its own process(es); yields the base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCAIGRID_", "PERSONAS_"))}
    env["PYTHONPATH"] = str(ROOT)
    command = ["catalogue", "serve", "--database", database_url, "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "personas_as_code.cli.main", *command, "--workers", str(workers)],
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
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def apply_through(base: str, root: Path) -> bool:
    """Plan and apply ``root`` through the server at ``base``; whether it all applied."""
    with HttpCatalogue(base, KEY, retry=FAST_RETRY, timeout=60) as cat:
        repo = load_valid_repo(root)
        plan, ctx = compute_plan(repo, cat)
        return apply_repo(repo, cat, plan, ctx, concurrency=4).ok


def has_changes(base: str, root: Path) -> bool:
    with HttpCatalogue(base, KEY, retry=FAST_RETRY, timeout=60) as cat:
        return compute_plan(load_valid_repo(root), cat)[0].has_changes


def test_more_than_one_worker_on_sqlite_is_refused(tmp_path: Path) -> None:
    done = personas(
        "catalogue",
        "serve",
        "--workers",
        "2",
        "--database",
        f"sqlite:///{tmp_path}/c.db",
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "error CONFIG_ERROR: --workers 2 needs PostgreSQL" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "c.db").exists()


@pytest.mark.postgres
def test_two_servers_on_one_database_lose_and_duplicate_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    init = personas(
        "catalogue",
        "init",
        "--database",
        pg_url,
        "--tenant",
        "acme",
        "--api-key",
        KEY,
        cwd=tmp_path,
    )
    assert init.returncode == 0, init.stderr
    alpha = write_repo(tmp_path / "alpha", "team/alpha", "alpha", 8)
    beta = write_repo(tmp_path / "beta", "team/beta", "beta", 8)
    with server(pg_url, 1) as one, server(pg_url, 2) as two, ThreadPoolExecutor(4) as pool:
        # different personas through each server at once
        assert all(pool.map(apply_through, [one, two], [alpha, beta]))
        # the same personas (2 new, 8 edited) through both at once: of two creates of
        # one slug one wins, the other is refused (a conflict); nothing is written twice
        write_repo(alpha, "team/alpha", "alpha", 10, prompt="Be thorough.")
        list(pool.map(apply_through, [one, two, one], [alpha, alpha, beta]))
        with HttpCatalogue(two, KEY, retry=FAST_RETRY) as cat:
            found = list(cat.iter_personas())
            models = cat.list_models()
        for base in (one, two):
            assert not has_changes(base, alpha) and not has_changes(base, beta)
    slugs = Counter(p.slug for p in found)
    assert sorted(slugs) == sorted(
        [f"alpha-{i:02d}" for i in range(10)] + [f"beta-{i:02d}" for i in range(8)]
    )
    assert set(slugs.values()) == {1}
    for persona in found:
        number = int(persona.slug.split("-")[1])
        assert [s.source_id for s in persona.sources or []] == [f"col_{number}"]
        want = "Be thorough." if persona.slug.startswith("alpha") else "Be brief."
        assert persona.system_prompt.startswith(want)
    published = [p for p in found if p.published]
    assert len(published) == 11
    tenant_models = Counter(m.slug for m in models if m.slug.startswith("tenant/acme/"))
    assert sorted(tenant_models) == sorted(f"tenant/acme/{p.slug}" for p in published)
    assert set(tenant_models.values()) == {1}
    by_id = {m.id: m for m in models}
    for persona in published:
        assert by_id[persona.published_model_id].system_prompt_template == persona.system_prompt

"""An apply killed at any point converges on the next run; transient faults are retried.

The catalogue is our REST app on a loopback port, wrapped in an ASGI
middleware that counts write requests and, at a chosen one, SIGKILLs the
``personas apply`` process (before or after the write took effect) or
answers 429/503/504 the way an overloaded gateway does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from personas_as_code.catalogue.client import HttpCatalogue
from personas_as_code.sync.engine import apply_repo, compute_plan, load_valid_repo

from tests.sync.conftest import FAST_RETRY, Target, open_target

ROOT = Path(__file__).resolve().parents[2]
WRITES = {"POST", "PUT", "DELETE"}


class Faults:
    """ASGI middleware: call ``decide(n, method, path)`` for the n-th write request."""

    def __init__(self, app, decide: Callable[[int, str, str], str | None]) -> None:
        self.app = app
        self.decide = decide
        self.writes = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in WRITES:
            return await self.app(scope, receive, send)
        self.writes += 1
        action = self.decide(self.writes, scope["method"], scope["path"])
        if action in ("429", "503"):
            body = json.dumps(
                {"error": {"code": "RATE_LIMITED", "message": "slow down", "details": {}}}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": int(action),
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return None
        if action == "504-after":  # the write happens, but the caller hears a gateway timeout
            await self.app(scope, receive, _discard)
            await send({"type": "http.response.start", "status": 504, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return None
        return await self.app(scope, receive, send)


async def _discard(message) -> None:
    return None


class Killer:
    """Kills the apply process at the n-th write, before or after it takes effect."""

    def __init__(self, at: int, when: str) -> None:
        self.at, self.when, self.pid = at, when, 0
        self.seen = 0  # writes so far

    def wrap(self, app):
        killer = self

        async def middleware(scope, receive, send):
            if scope["type"] == "http" and scope["method"] in WRITES:
                killer.seen += 1
                if killer.seen == killer.at:
                    if killer.when == "before":
                        os.kill(killer.pid, signal.SIGKILL)
                        return
                    await app(scope, receive, _discard)
                    os.kill(killer.pid, signal.SIGKILL)
                    return
            await app(scope, receive, send)

        return middleware


def assert_converged(cat, root: Path) -> None:
    repo = load_valid_repo(root)
    plan, ctx = compute_plan(repo, cat)
    result = apply_repo(repo, cat, plan, ctx)
    assert result.ok, [(r.slug, r.error_code, r.error) for r in result.failed]
    assert not compute_plan(repo, cat)[0].has_changes
    personas = list(cat.iter_personas())
    assert Counter(p.slug for p in personas) == Counter(repo.personas.keys())  # no duplicates
    for persona in personas:
        keys = [(s.source_type, s.source_id) for s in cat.list_sources(persona.id)]
        assert len(keys) == len(set(keys)) == len(repo.personas[persona.slug].spec.sources)
    published = {m.slug for m in cat.list_models() if m.slug.startswith("tenant/acme/")}
    wanted = {f"tenant/acme/{s}" for s, p in repo.personas.items() if p.spec.publish.enabled}
    assert published == wanted


def apply_until_killed(target: Target, root: Path, killer: Killer) -> None:
    """Run ``personas apply`` (one persona at a time) against ``target`` until ``killer``
    kills it; fail if it was not killed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONAS_DATABASE")}
    env.update(SCAIGRID_HOST=target.base_url, SCAIGRID_API_KEY=target.key, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "personas_as_code.cli.main",
            "apply",
            "--auto-approve",
            "--concurrency",
            "1",
        ],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    killer.pid = proc.pid
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, "the apply was not killed where intended"


@pytest.mark.parametrize(
    ("at", "when"), [(1, "after"), (4, "before"), (9, "after"), (14, "before"), (21, "after")]
)
def test_apply_killed_mid_run_converges(example_repo: Path, sqlite_url: str, at: int, when: str):
    killer = Killer(at, when)
    with open_target("http", sqlite_url, app_wrapper=killer.wrap) as target:
        apply_until_killed(target, example_repo, killer)
        assert_converged(target.catalogue, example_repo)


def test_transient_429_503_and_lost_responses_during_apply(example_repo: Path, sqlite_url: str):
    def decide(n: int, method: str, path: str) -> str | None:
        if n % 5 == 0:
            return "429"
        if n % 7 == 0:
            return "503"
        if method == "POST" and n % 4 == 0:
            return "504-after"
        return None

    with open_target("http", sqlite_url, app_wrapper=lambda app: Faults(app, decide)) as target:
        # under concurrency one request can meet several faults in a row: allow enough attempts
        retry = dataclasses.replace(FAST_RETRY, max_attempts=10)
        with HttpCatalogue(target.base_url, target.key, retry=retry, timeout=10) as cat:
            assert_converged(cat, example_repo)
            assert cat.request_count > 40

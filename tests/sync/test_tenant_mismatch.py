"""Issue 20, "never pretend": a repo whose ``tenant`` differs from its API key's never
converged -- every apply republished, ``plan --detailed-exitcode`` returned 2 forever
("published model is still tenant/acme/..., not tenant/default/...").  Now plan and apply
refuse with one sentence naming both tenants (``TENANT_MISMATCH``), against a real
server on a loopback port and a key of another tenant."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from personas_as_code.catalogue.db import make_engine
from personas_as_code.catalogue.rest import create_app
from personas_as_code.catalogue.serve import serve_in_thread
from personas_as_code.sync.tenant import check_tenant, tenant_of_model

from tests.cli.test_never_pretend import run
from tests.repos import RepoBuilder
from tests.sync.conftest import api_key

PUBLISHED = "name: {name}\nmodel: scaigrid/gpt-4o\nstatus: active\npublish:\n  enabled: true\n"
SENTENCE = (
    "error TENANT_MISMATCH: the catalogue's API key acts for tenant 'acme' but personas.toml "
    "says tenant = 'default'; use a key of tenant 'default' or set tenant = 'acme'"
)


@dataclass
class Server:
    env: dict[str, str]  # SCAIGRID_HOST and SCAIGRID_API_KEY of a tenant ``acme`` key


@pytest.fixture
def acme_server(tmp_path: Path) -> Iterator[Server]:
    engine = make_engine(f"sqlite:///{tmp_path / 'server.db'}")
    key = api_key(engine, "acme")
    api_key(engine, "default")  # the configured tenant exists too: only the key is wrong
    try:
        with serve_in_thread(create_app(engine)) as base_url:
            yield Server({"SCAIGRID_HOST": base_url, "SCAIGRID_API_KEY": key})
    finally:
        engine.dispose()


def repo_of_tenant(repo: RepoBuilder, tenant: str) -> RepoBuilder:
    (repo.root / "personas.toml").write_text(f'[repo]\nid = "test/repo"\ntenant = "{tenant}"\n')
    for name in ("alpha", "beta", "gamma"):
        repo.persona(name, PUBLISHED.format(name=name.title()))
    return repo


def test_an_apply_with_a_key_of_another_tenant_stops_and_plan_refuses(
    repo: RepoBuilder, acme_server: Server
) -> None:
    repo_of_tenant(repo, "default")
    env = acme_server.env
    # nothing was published yet, so the plan cannot tell: the first publish does, and
    # every persona fails with it, those published meanwhile too
    for concurrency in ("1", "4"):
        applied = run(
            "apply", "--auto-approve", "--concurrency", concurrency, cwd=repo.root, env=env
        )
        assert applied.returncode == 1, applied.stdout + applied.stderr
        if concurrency == "1":
            assert "Apply complete: 0 persona(s) applied, 3 failed." in applied.stdout
            assert applied.stdout.count(SENTENCE.removeprefix("error ")) == 3
        else:  # the models published by the first apply show the mismatch to the plan
            assert applied.stderr.splitlines() == [SENTENCE]
    for _ in range(2):  # and it stays refused: no republish loop, no "2 changes" forever
        planned = run("plan", "--detailed-exitcode", cwd=repo.root, env=env)
        assert planned.returncode == 1, planned.stdout
        assert planned.stderr.splitlines() == [SENTENCE]
        assert "republish" not in planned.stdout
    again = run("apply", "--auto-approve", cwd=repo.root, env=env)
    assert again.returncode == 1 and again.stderr.splitlines() == [SENTENCE]


def test_the_key_of_the_configured_tenant_converges(repo: RepoBuilder, acme_server: Server) -> None:
    repo_of_tenant(repo, "acme")
    env = acme_server.env
    applied = run("apply", "--auto-approve", cwd=repo.root, env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    planned = run("plan", "--detailed-exitcode", cwd=repo.root, env=env)
    assert planned.returncode == 0, planned.stdout + planned.stderr


@pytest.mark.parametrize(
    ("slug", "tenant"),
    [
        ("tenant/acme/support", "acme"),
        ("scaigrid/gpt-4o", None),
        ("tenant//x", None),
        ("tenant/acme/a/b", None),
    ],
)
def test_the_tenant_of_a_model_slug(slug: str, tenant: str | None) -> None:
    assert tenant_of_model(slug) == tenant


def test_models_of_the_configured_tenant_pass() -> None:
    check_tenant("acme", ["tenant/acme/a", "scaigrid/gpt-4o"])

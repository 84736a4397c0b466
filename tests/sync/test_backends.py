"""``[backends]`` in personas.toml: planned like any change, stored by apply in the
embedded catalogue's backend models, read by the inference route at call time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from personas_as_code.catalogue.backends import list_backends
from personas_as_code.loader.repo import load_repo
from personas_as_code.schemas.errors import BackendNotConfigured
from personas_as_code.sync.render import render_json, render_markdown, render_text

from tests.sync.conftest import Sync, Target

OLLAMA = """
[backends."openai/gpt-4o"]
provider = "openai"
base_url = "http://127.0.0.1:11434/v1"
model = "llama3.1"
"""


def settings(target: Target) -> dict[str, dict]:
    return {b.slug: b.settings for b in list_backends(target.engine)}


def with_config(root: Path, extra: str) -> None:
    path = root / "personas.toml"
    path.write_text(path.read_text() + extra)


@pytest.fixture
def embedded_sync(example_repo: Path, database_url: str):
    from tests.sync.conftest import open_target

    with open_target("embedded", database_url) as target:
        yield Sync(example_repo, target.catalogue), target


def test_a_backend_is_planned_applied_then_converged(embedded_sync) -> None:
    sync, target = embedded_sync
    sync.apply()
    assert settings(target)["openai/gpt-4o"] == {"provider": "mirror"}  # the starter default
    with_config(sync.root, OLLAMA)
    before = settings(target)
    plan = sync.plan()
    assert settings(target) == before  # planning writes nothing
    assert plan.has_changes
    text = render_text(plan)
    line = "~ backend openai/gpt-4o: mirror → openai http://127.0.0.1:11434/v1 (model llama3.1)"
    assert line in text
    assert "Backends: 1 backend model(s) to reconfigure." in text
    assert "openai/gpt-4o" in render_markdown(plan)
    data = json.loads(render_json(plan))
    assert data["backends"][0]["after"]["model"] == "llama3.1"
    assert data["summary"]["backend_changes"] == 1
    _, result = sync.apply()
    assert result.ok and result.backends is not None
    assert settings(target)["openai/gpt-4o"] == {
        "provider": "openai",
        "base_url": "http://127.0.0.1:11434/v1",
        "model": "llama3.1",
        "timeout_seconds": 60.0,
        "max_retries": 3,
    }
    assert not sync.plan().has_changes
    # a managed backend whose entry is gone goes back to the mirror
    (sync.root / "personas.toml").write_text(
        (sync.root / "personas.toml").read_text().replace(OLLAMA, "")
    )
    plan = sync.plan()
    assert "mirror (no longer in personas.toml)" in render_text(plan)
    sync.apply()
    assert settings(target)["openai/gpt-4o"] == {"provider": "mirror"}
    assert not sync.plan().has_changes


def test_a_backend_change_changes_the_checksum(embedded_sync) -> None:
    sync, _ = embedded_sync
    sync.apply()
    empty = sync.plan().checksum
    with_config(sync.root, OLLAMA)
    first = sync.plan().checksum
    with_config(sync.root, "timeout_seconds = 5\n")
    assert len({empty, first, sync.plan().checksum}) == 3


def test_a_local_backend_is_stored_with_its_model_file_absolute(embedded_sync) -> None:
    """The catalogue knows no repo: apply stores a relative model_path resolved under the
    repo, and the plan compares what it would store, so it converges."""
    sync, target = embedded_sync
    sync.apply()
    (sync.root / "models").mkdir()
    (sync.root / "models" / "m.gguf").write_bytes(b"GGUF")
    with_config(
        sync.root,
        '\n[backends."openai/gpt-4o"]\nprovider = "local"\nmodel_path = "models/m.gguf"\n'
        "n_ctx = 1024\n",
    )
    model_file = str((sync.root / "models" / "m.gguf").resolve())
    plan = sync.plan()
    assert f"~ backend openai/gpt-4o: mirror → local {model_file} (n_ctx 1024)" in render_text(plan)
    _, result = sync.apply()
    assert result.ok
    assert settings(target)["openai/gpt-4o"] == {
        "provider": "local",
        "model_path": model_file,
        "n_ctx": 1024,
        "timeout_seconds": 60.0,
    }
    assert not sync.plan().has_changes


def test_a_local_model_path_that_leaves_the_repo_stops_the_plan(
    embedded_sync, tmp_path: Path
) -> None:
    sync, target = embedded_sync
    (tmp_path / "secret.gguf").write_bytes(b"GGUF")
    (sync.root / "m.gguf").symlink_to(tmp_path / "secret.gguf")
    with_config(
        sync.root, '\n[backends."openai/gpt-4o"]\nprovider = "local"\nmodel_path = "m.gguf"\n'
    )
    with pytest.raises(BackendNotConfigured, match="leaves the repo"):
        sync.plan()
    assert settings(target)["openai/gpt-4o"] == {"provider": "mirror"}


def test_a_local_backend_without_its_model_file_is_a_plan_warning(embedded_sync) -> None:
    sync, _ = embedded_sync
    with_config(
        sync.root, '\n[backends."openai/gpt-4o"]\nprovider = "local"\nmodel_path = "gone.gguf"\n'
    )
    plan = sync.plan()
    assert any("gone.gguf does not exist" in w for w in plan.warnings), plan.warnings


def test_an_unknown_backend_is_a_warning(embedded_sync) -> None:
    sync, _ = embedded_sync
    with_config(sync.root, '\n[backends."openai/gpt-5"]\nprovider = "mirror"\n')
    plan = sync.plan()
    assert any("'openai/gpt-5', which is not a backend model" in w for w in plan.warnings)
    assert not plan.backends


def test_a_remote_catalogue_gets_a_note_and_no_change(example_repo: Path, sqlite_url: str) -> None:
    from tests.sync.conftest import open_target

    with_config(example_repo, OLLAMA)
    with open_target("http", sqlite_url) as target:
        plan = Sync(example_repo, target.catalogue).plan()
        assert not plan.backends
        assert "not applied to a remote ScaiGrid" in render_text(plan)
        assert settings(target)["openai/gpt-4o"] == {"provider": "mirror"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('provider = "openai"\nmodel = "x"\n', "needs base_url"),
        ('provider = "openai"\nbase_url = "http://u:pw@host/v1"\nmodel = "x"\n', "credentials"),
        ('provider = "mirror"\nbase_url = "http://host/v1"\n', "takes no base_url"),
        ('provider = "openai"\nbase_url = "ftp://x"\nmodel = "x"\n', "base_url"),
        (
            'provider = "openai"\nbase_url = "http://h/v1"\nmodel = "x"\napi_key_env = "A-B"\n',
            "api_key_env",
        ),
        ('provider = "carrier-pigeon"\n', "provider"),
        ('provider = "local"\nmodel_path = "../m.gguf"\n', "must stay inside the repo"),
        ('provider = "local"\nmodel_path = "m.bin"\n', "GGUF model file"),
        ('provider = "local"\nmodel = "llama3.1"\n', "takes no model"),
        ('provider = "openai"\nbase_url = "http://h/v1"\nmodel = "x"\nn_ctx = 512\n', "n_ctx"),
        ('provider = "mirror"\nmodel_path = "m.gguf"\n', "takes no model_path"),
    ],
)
def test_bad_backend_entries_are_located_problems(
    example_repo: Path, entry: str, message: str
) -> None:
    with_config(example_repo, f'\n[backends."openai/gpt-4o"]\n{entry}')
    problems = [p for p in load_repo(example_repo).problems if p.path == "personas.toml"]
    assert problems, entry
    assert any(message in p.message for p in problems), [str(p) for p in problems]
    assert all(p.line and p.line > 1 for p in problems)

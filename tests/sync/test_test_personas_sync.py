"""Reconciling ``test-personas/`` into a test-personas server: plan, apply, plan again
empty, prune, protect, ownership and safety -- over the embedded catalogue (SQLite,
PostgreSQL), our REST app over HTTP, a remote server named by URL and key, and a
foreign server that speaks only the seed's API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from personas_as_code.catalogue.simulated_user_api import TestPersona as ServerTestPersona
from personas_as_code.catalogue.simulated_user_api import (
    TestPersonaCreate as ServerTestPersonaCreate,
)
from personas_as_code.catalogue.simulated_user_store import EmbeddedSimulatedUsers
from personas_as_code.schemas.errors import ConfigError, UnsafePlan
from personas_as_code.sync.render import render_json, render_markdown, render_text
from personas_as_code.sync.simulated_user_changes import read_marker
from personas_as_code.sync.simulated_users import open_store, section_settings

from tests.catalogue.conftest import serve_live
from tests.sync.conftest import Sync, Target
from tests.sync.seed_server import seed_server

EXAMPLE_NAMES = ["confused-beginner", "impatient-user", "non-native-speaker"]


@pytest.fixture(autouse=True)
def _without_persona_tests(example_repo: Path) -> None:
    """These tests delete and rename the example's test personas, which the example's
    persona tests (``personas/*.tests.yaml``) hold conversations with: a repo whose tests
    name a test persona it no longer has is invalid, and that is not what these test."""
    for path in (example_repo / "personas").glob("*.tests.yaml"):
        path.unlink()


def server_personas(sync: Sync) -> list[ServerTestPersona]:
    repo = sync.load()
    section = section_settings(repo)
    assert section is not None
    with open_store(repo, sync.catalogue, section) as store:
        return store.list_all()


def add_unmanaged(sync: Sync, name: str) -> None:
    repo = sync.load()
    section = section_settings(repo)
    assert section is not None
    with open_store(repo, sync.catalogue, section) as store:
        store.create(ServerTestPersonaCreate(name=name, system_prompt="Made by hand."))


def test_apply_then_plan_is_empty_on_every_target(sync: Sync) -> None:
    plan = sync.plan()
    section = plan.test_personas
    assert section is not None
    assert [(p.slug, p.action) for p in section.changed] == [(n, "create") for n in EXAMPLE_NAMES]
    _, result = sync.apply()
    assert result.ok and [r.slug for r in result.test_personas] == EXAMPLE_NAMES

    again = sync.plan()
    assert not again.has_changes and again.test_personas.summary()["create"] == 0
    stored = {p.name: p for p in server_personas(sync)}
    assert sorted(stored) == EXAMPLE_NAMES
    impatient = stored["impatient-user"]
    assert impatient.headers == {"X-User-Language": "en"}
    assert impatient.system_prompt.startswith("You are an impatient user")
    marker = read_marker(impatient.metadata)
    assert marker is not None and marker.repo == "acme/personas"
    assert (marker.slug, marker.path) == ("impatient-user", "test-personas/impatient-user.yaml")


def test_an_edit_is_an_update_in_every_format_and_converges(sync: Sync) -> None:
    sync.apply()
    before = sync.plan().checksum
    sync.edit("test-personas/impatient-user.yaml", "Ask short questions.", "Ask tiny questions.")
    sync.edit("test-personas/impatient-user.yaml", "X-User-Language: en", "X-User-Language: en-GB")
    plan = sync.plan()
    (item,) = plan.test_personas.changed
    assert (item.slug, item.action) == ("impatient-user", "update")
    (update,) = item.changes
    assert [d.field for d in update.diffs] == ["system_prompt", "headers"]
    assert plan.checksum != before

    text = render_text(plan)
    assert "~ test persona impatient-user  [test-personas/impatient-user.yaml]" in text
    assert "+Ask tiny questions." in text and '"en-GB"' in text
    assert "Test personas: 0 to create, 1 to update, 0 to delete (project default)." in text
    data = json.loads(render_json(plan))
    assert data["test_personas"]["summary"]["update"] == 1
    assert data["test_personas"]["test_personas"][0]["changes"][0]["kind"] == "update"
    markdown = render_markdown(plan)
    assert "#### test personas" in markdown and "-Ask short questions." in markdown

    _, result = sync.apply()
    assert result.ok and not sync.plan().has_changes
    stored = {p.name: p for p in server_personas(sync)}
    assert stored["impatient-user"].headers == {"X-User-Language": "en-GB"}


def test_a_removed_file_is_kept_until_prune_and_protect_blocks_it(sync: Sync) -> None:
    sync.edit("test-personas/confused-beginner.yaml", "headers:", "protect: true\nheaders:")
    sync.apply()
    (sync.root / "test-personas/confused-beginner.yaml").unlink()
    (sync.root / "test-personas/impatient-user.yaml").unlink()

    plan = sync.plan()
    assert not plan.has_changes
    kept = {o.slug: o.protected for o in plan.test_personas.orphans}
    assert kept == {"confused-beginner": True, "impatient-user": False}
    assert "Owned test personas whose file is gone" in render_text(plan)

    pruned = sync.plan(prune=True)
    assert [(p.slug, p.action) for p in pruned.test_personas.changed] == [
        ("impatient-user", "delete")
    ]
    _, result = sync.apply(prune=True)
    assert result.ok
    assert sorted(p.name for p in server_personas(sync)) == [
        "confused-beginner",
        "non-native-speaker",
    ]
    assert not sync.plan(prune=True).has_changes


def test_unmanaged_test_personas_are_never_touched(sync: Sync) -> None:
    add_unmanaged(sync, "hand-made")
    add_unmanaged(sync, "impatient-user")
    plan = sync.plan(prune=True)
    section = plan.test_personas
    assert section.unmanaged == ["hand-made", "impatient-user"]
    (error,) = section.errors
    assert error.slug == "impatient-user"
    assert "a test persona this repo does not manage" in error.error
    assert plan.errors == [error]
    sync.apply(prune=True)
    names = sorted(p.name for p in server_personas(sync))
    assert names == ["confused-beginner", "hand-made", "impatient-user", "non-native-speaker"]
    hand_made = next(p for p in server_personas(sync) if p.name == "hand-made")
    assert hand_made.system_prompt == "Made by hand." and read_marker(hand_made.metadata) is None


def test_a_renamed_file_or_name_is_an_update_not_delete_and_create(esync: Sync) -> None:
    esync.apply()
    ids = {p.name: p.id for p in server_personas(esync)}
    old = esync.root / "test-personas/impatient-user.yaml"
    old.rename(esync.root / "test-personas/hasty-user.yaml")  # same name, new slug
    esync.edit("test-personas/confused-beginner.yaml", "name: confused-beginner", "name: newbie")
    plan = esync.plan(prune=True)
    actions = {p.slug: [c.kind for c in p.changes] for p in plan.test_personas.changed}
    assert actions == {"confused-beginner": ["update"], "hasty-user": ["ownership"]}
    esync.apply(prune=True)
    after = {p.name: p.id for p in server_personas(esync)}
    assert after["newbie"] == ids["confused-beginner"]
    assert after["impatient-user"] == ids["impatient-user"]
    assert not esync.plan(prune=True).has_changes


def test_a_name_freed_in_the_same_apply_can_be_taken(esync: Sync) -> None:
    esync.apply()
    # impatient-user takes a new name; a new file takes its old one
    esync.edit("test-personas/impatient-user.yaml", "name: impatient-user", "name: hasty")
    esync.root.joinpath("test-personas/copycat.yaml").write_text("name: impatient-user\n")
    plan = esync.plan()
    assert [(p.slug, p.action) for p in plan.test_personas.changed] == [
        ("impatient-user", "update"),
        ("copycat", "create"),
    ]
    _, result = esync.apply()
    assert result.ok, result.to_dict()
    assert not esync.plan().has_changes


def test_deleting_every_managed_test_persona_needs_force(esync: Sync) -> None:
    esync.apply()
    for name in EXAMPLE_NAMES:
        (esync.root / f"test-personas/{name}.yaml").unlink()
    with pytest.raises(UnsafePlan, match="every managed test persona"):
        esync.apply(prune=True)
    assert len(server_personas(esync)) == 3
    esync.apply(prune=True, force=True)
    assert server_personas(esync) == []


def test_a_repo_without_test_personas_plans_none(esync: Sync) -> None:
    import shutil

    shutil.rmtree(esync.root / "test-personas")
    _with_config(esync.root, "")
    plan = esync.plan()
    assert plan.test_personas is None
    assert "test_personas" not in json.loads(render_json(plan))


def _with_config(root: Path, section: str) -> None:
    """Replace the example's ``[test_personas]`` (the file's last section) with ``section``."""
    path = root / "personas.toml"
    path.write_text(path.read_text().split("[test_personas]")[0] + section + "\n")


@pytest.fixture
def remote(tmp_path: Path) -> Iterator:
    """Our REST app on its own database, reached only over HTTP."""
    with serve_live(f"sqlite:///{tmp_path / 'remote.db'}") as server:
        yield server


def test_a_remote_server_by_url_and_key(
    esync: Sync, remote, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_SERVER_KEY", remote.key)
    _with_config(
        esync.root,
        f'[test_personas]\nurl = "{remote.base_url}"\napi_key_env = "QA_SERVER_KEY"\n'
        'project = "qa"',
    )
    plan = esync.plan()
    assert plan.test_personas.where == f"{remote.base_url}, project qa"
    _, result = esync.apply()
    assert result.ok
    listed = remote.client.get("/api/projects/qa/personas", headers=remote.auth()).json()
    assert sorted(p["name"] for p in listed) == EXAMPLE_NAMES
    assert not esync.plan().has_changes
    # the embedded catalogue got none of them
    here = EmbeddedSimulatedUsers(esync.catalogue.engine, esync.catalogue.caller, "qa")
    assert here.list_all() == []

    monkeypatch.delenv("QA_SERVER_KEY")
    with pytest.raises(ConfigError, match="QA_SERVER_KEY"):
        esync.plan()


def test_a_foreign_seed_server_needs_project_ownership(esync: Sync) -> None:
    with seed_server() as (base_url, store):
        _with_config(esync.root, f'[test_personas]\nurl = "{base_url}"\nproject = "p1"')
        plan = esync.plan()
        assert [p.action for p in plan.test_personas.changed] == ["create"] * 3
        esync.apply()
        assert sorted(p["name"] for p in store.values()) == EXAMPLE_NAMES
        # it keeps no metadata: with markers, nothing can be recognised as this repo's
        again = esync.plan()
        assert any("returns no metadata" in w for w in again.test_personas.warnings)
        assert len(again.test_personas.errors) == 3

        (esync.root / "personas.toml").write_text(
            (esync.root / "personas.toml").read_text() + 'ownership = "project"\n'
        )
        owned = esync.plan()
        assert not owned.has_changes and not owned.errors, render_text(owned)
        assert any("does not return headers" in w for w in owned.test_personas.warnings)

        esync.edit("test-personas/impatient-user.yaml", "Ask short", "Ask tiny")
        (esync.root / "test-personas/confused-beginner.yaml").unlink()
        _, result = esync.apply(prune=True)
        assert result.ok
        assert sorted(p["name"] for p in store.values()) == ["impatient-user", "non-native-speaker"]
        impatient = next(p for p in store.values() if p["name"] == "impatient-user")
        assert "Ask tiny" in impatient["systemPrompt"]
        assert not esync.plan(prune=True).has_changes


def test_image_settings_are_applied_to_the_embedded_project(esync: Sync, embedded: Target) -> None:
    _with_config(
        esync.root,
        '[test_personas]\n[test_personas.images]\nbase_url = "http://127.0.0.1:9/v1"\n'
        'model = "gpt-image-1"\n'
        'api_key_env = "IMAGES_KEY"',
    )
    plan = esync.plan()
    (change,) = plan.test_personas.settings
    assert change.before is None and change.after["base_url"] == "http://127.0.0.1:9/v1"
    assert "image endpoint: http://127.0.0.1:9/v1 (model gpt-image-1)" in render_text(plan)
    _, result = esync.apply()
    assert result.ok and not esync.plan().has_changes

    repo = esync.load()
    with open_store(repo, esync.catalogue, section_settings(repo)) as store:
        stored = store.image_settings()
    assert stored is not None and stored.api_key_env == "IMAGES_KEY"

    text = (esync.root / "personas.toml").read_text()
    (esync.root / "personas.toml").write_text(text.split("[test_personas.images]")[0])
    (cleared,) = esync.plan().test_personas.settings
    assert cleared.after is None
    esync.apply()
    assert not esync.plan().has_changes


def test_secrets_in_headers_are_redacted_in_every_format(esync: Sync) -> None:
    esync.apply()
    # a file can only get here by skipping validation; the renderers still redact
    plan = esync.plan()
    from personas_as_code.sync.changes import FieldDiff
    from personas_as_code.sync.simulated_user_changes import UpdateSimulatedUser

    (item,) = [p for p in plan.test_personas.items if p.slug == "impatient-user"]
    secret = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD"
    item.changes.append(UpdateSimulatedUser((FieldDiff("headers", {}, {"X-Debug": secret}),)))
    for rendered in (render_text(plan), render_json(plan), render_markdown(plan)):
        assert secret not in rendered and "REDACTED" in rendered

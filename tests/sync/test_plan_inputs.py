"""``open_plan_inputs``: the catalogue is listed while the repo loads, with the same plan,
the same stale-plan detection and the same error order as loading first."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from personas_as_code.catalogue.api import PersonaUpdate
from personas_as_code.schemas.errors import PersonasError, RepoInvalid, StalePlan
from personas_as_code.sync.engine import (
    PlanRequest,
    apply_repo,
    compute_plan,
    load_valid_repo,
    open_plan_inputs,
    open_repo_catalogue,
)

from tests.sync.conftest import Sync, Target


def _env(target: Target) -> dict[str, str]:
    if target.kind == "http":
        return {"SCAIGRID_HOST": target.base_url or "", "SCAIGRID_API_KEY": target.key or ""}
    return {"PERSONAS_DATABASE_URL": target.database_url}


def _break(root: Path) -> None:
    path = root / "personas" / "translator.yaml"
    path.write_text(path.read_text().replace("status: active", "status: live"))


def test_plan_from_inputs_equals_the_sequential_plan(sync: Sync, target: Target) -> None:
    sync.apply()
    sync.edit("personas/translator.yaml", "status: active", "status: draft")
    expected = sync.plan().to_dict()
    with open_plan_inputs(sync.root, _env(target)) as inputs:
        assert inputs.listing is not None  # listed during the load
        plan, ctx = inputs.plan()
        assert inputs.listing is None  # used once
        assert plan.to_dict() == expected
        assert [p.slug for p in plan.changed] == ["translator"]
        again, _ = inputs.plan()  # reads the catalogue afresh
        assert again.checksum == plan.checksum
        result = apply_repo(inputs.repo, inputs.catalogue, plan, ctx)
    assert result.ok
    assert not sync.plan().has_changes


def test_a_catalogue_changed_since_review_is_a_stale_plan(sync: Sync, target: Target) -> None:
    sync.apply()
    sync.edit("personas/translator.yaml", "status: active", "status: draft")
    reviewed = sync.plan().checksum
    persona = sync.persona("sql-helper")
    target.catalogue.update_persona(persona.id, PersonaUpdate(system_prompt="changed by hand"))
    with open_plan_inputs(sync.root, _env(target)) as inputs:
        plan, _ = inputs.plan()
    assert "sql-helper" in [p.slug for p in plan.changed]
    with pytest.raises(StalePlan):
        plan.verify_checksum(reviewed)


@pytest.mark.slow  # waits out the retries to an unreachable catalogue
def test_invalid_repo_is_reported_before_an_unreachable_catalogue(example_repo: Path) -> None:
    _break(example_repo)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens
    env = {"SCAIGRID_HOST": f"http://127.0.0.1:{port}", "SCAIGRID_API_KEY": "sk_" + "x" * 32}
    with pytest.raises(RepoInvalid) as raised, open_plan_inputs(example_repo, env):
        pass
    assert "personas/translator.yaml:7:9" in raised.value.message


def test_invalid_repo_creates_no_sqlite_catalogue(example_repo: Path, tmp_path: Path) -> None:
    _break(example_repo)
    database = tmp_path / "new" / "catalogue.db"
    env = {"PERSONAS_DATABASE_URL": f"sqlite:///{database}"}
    with pytest.raises(RepoInvalid), open_plan_inputs(example_repo, env):
        pass
    assert not database.exists()


def test_a_catalogue_error_is_the_same_as_when_loading_first(
    sync: Sync, target: Target, tmp_path: Path
) -> None:
    env = _env(target)
    if target.kind == "http":
        env["SCAIGRID_API_KEY"] = "sk_" + "y" * 32  # a key the catalogue does not know
    else:
        bad = tmp_path / "plain.db"
        bad.write_bytes(b"not a database" * 100)
        env["PERSONAS_DATABASE_URL"] = f"sqlite:///{bad}"

    def sequential() -> None:
        repo = load_valid_repo(sync.root)
        with open_repo_catalogue(repo, env) as catalogue:
            compute_plan(repo, catalogue, PlanRequest())

    def overlapped() -> None:
        with open_plan_inputs(sync.root, env) as inputs:
            inputs.plan()

    errors = []
    for run in (sequential, overlapped):
        with pytest.raises(Exception) as raised:
            run()
        errors.append(raised.value)
    assert type(errors[0]) is type(errors[1])
    if isinstance(errors[0], PersonasError):
        assert errors[0].code == errors[1].code

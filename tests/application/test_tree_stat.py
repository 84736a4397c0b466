"""The stat fingerprint: what changes it, and the helper process answering the same as
a walk in-process (and standing aside when it cannot run)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from personas_as_code.application import tree_stat
from personas_as_code.application.tree_stat import HelperWalk, fingerprint


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "personas/team").mkdir(parents=True)
    (tmp_path / "personas/a.yaml").write_text("name: A\n")
    (tmp_path / "personas/team/b.yaml").write_text("name: B\n")
    (tmp_path / "personas.toml").write_text("[repo]\n")
    return tmp_path


def digest(root: Path) -> str:
    return fingerprint(str(root), ["personas.toml", "prompts/x.md"], ["personas"])


def test_every_change_changes_the_fingerprint(tree: Path) -> None:
    before = digest(tree)
    assert digest(tree) == before  # stable
    steps = [
        lambda: (tree / "personas/team/b.yaml").write_text("name: Bee\n"),  # resized
        lambda: os.utime(tree / "personas/a.yaml", ns=(1, 1)),  # touched only
        lambda: (tree / "personas/team/c.yaml").write_text("x"),  # added in a sub-folder
        lambda: (tree / "personas/team/c.yaml").unlink(),  # removed
        lambda: (tree / "personas/team").rename(tree / "personas/other"),  # moved folder
        lambda: (tree / "prompts").mkdir() or (tree / "prompts/x.md").write_text("p"),
        lambda: (tree / "personas.toml").write_text("[repo]\nid = 'x'\n"),
    ]
    for step in steps:
        step()
        assert digest(tree) != before, step
        before = digest(tree)
    (tree / "personas/.hidden.yaml").write_text("x")  # dot-names are not walked
    assert digest(tree) == before


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_a_broken_link_does_not_hide_the_rest_of_its_folder(tree: Path) -> None:
    for i in range(20):
        (tree / f"personas/p{i:02d}.yaml").write_text("name: P\n")
    (tree / "personas/broken.yaml").symlink_to(tree / "nowhere.yaml")
    before = digest(tree)
    for i in range(20):
        os.utime(tree / f"personas/p{i:02d}.yaml", ns=(i + 1, i + 1))
        assert digest(tree) != before, i
        before = digest(tree)


def test_the_helper_answers_what_a_walk_here_does(tree: Path) -> None:
    walker = HelperWalk()
    try:
        args = (str(tree), ["personas.toml"], ["personas", "knowledge"])
        assert walker.fingerprint(*args) == fingerprint(*args)
        (tree / "personas/a.yaml").write_text("name: changed\n")
        assert walker.fingerprint(*args) == fingerprint(*args)
        assert walker.helper_walks == 2
        walker.close()  # a later walk starts a new helper
        assert walker.fingerprint(*args) == fingerprint(*args)
        assert walker.helper_walks == 3
    finally:
        walker.close()


@pytest.mark.parametrize("executable", ["", sys.executable + "-missing", "/bin/echo"])
def test_without_a_working_helper_the_walk_is_done_here(
    tree: Path, executable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if executable == "/bin/echo" and not Path(executable).exists():
        pytest.skip("no /bin/echo")
    monkeypatch.setattr(tree_stat.sys, "executable", executable)
    walker = HelperWalk()
    args = (str(tree), ["personas.toml"], ["personas"])
    assert walker.fingerprint(*args) == fingerprint(*args)
    assert walker.fingerprint(*args) == fingerprint(*args)  # no second try of the helper
    assert walker.helper_walks == 0
    walker.close()

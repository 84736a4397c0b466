"""Every git ref a user passes (``personas test --baseline``/``--changed-since``,
``personas plan --changed-since``) is a commit or a one-line ``CONFIG_ERROR`` that says
why, through the real console script in a real git repo: never ``INTERNAL_ERROR``."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from personas_as_code.catalogue.embedded import EmbeddedCatalogue

from tests.cli.test_validate_cmd import run
from tests.mcp_server.conftest import git
from tests.persona_tests.conftest import applied  # noqa: F401  (fixture)


@pytest.fixture(scope="module")
def two_commits(
    tmp_path_factory: pytest.TempPathFactory,
    applied: tuple[Path, EmbeddedCatalogue],  # noqa: F811
) -> Path:
    """A copy of the applied example repo (catalogue included) with a second commit on
    ``main`` and a tree object and a blob to point at.  Tests must not change it."""
    root = tmp_path_factory.mktemp("refs") / "repo"
    shutil.copytree(applied[0], root)
    note = root / "personas" / "NOTES.txt"
    note.write_text("second commit\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "second")
    return root


def refused(result: subprocess.CompletedProcess[str], option: str, ref: str, why: str) -> None:
    """``result`` failed with the one-line CONFIG_ERROR for ``ref`` whose reason matches ``why``."""
    assert "INTERNAL_ERROR" not in result.stderr and "Traceback" not in result.stderr
    line = result.stderr.strip()
    prefix = f"error CONFIG_ERROR: {option}: {ref!r} is not a commit in this repository ("
    assert line.startswith(prefix), line
    assert re.fullmatch(why, line[len(prefix) : -1]), line


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("@{-1}", r"no branch was checked out that many switches ago"),
        ("HEAD@{100}", r"the reflog has only \d entries"),
        ("HEAD^{tree}", r"it names a tree, not a commit"),
        ("HEAD:personas.toml", r"it names a blob, not a commit"),
        ("no-such-branch", r"no branch, tag or commit has that name"),
        ("-p", r"a ref cannot start with '-'"),
    ],
)
def test_a_baseline_that_is_no_commit_is_a_config_error(
    two_commits: Path, ref: str, why: str
) -> None:
    result = run("test", f"--baseline={ref}", cwd=two_commits)
    assert result.returncode == 2  # `personas test` exits 2 when it could not run
    refused(result, "--baseline", ref, why)


def test_changed_since_a_date_older_than_the_reflog_is_a_config_error(two_commits: Path) -> None:
    # git would silently take the reflog's oldest entry: not the commit of "yesterday"
    why = r"the reflog only goes back to .+"
    tested = run("test", "--changed-since", "main@{yesterday}", cwd=two_commits)
    assert tested.returncode == 2
    refused(tested, "--changed-since", "main@{yesterday}", why)
    planned = run("plan", "--changed-since", "main@{yesterday}", cwd=two_commits)
    assert planned.returncode == 1
    refused(planned, "--changed-since", "main@{yesterday}", why)


def test_an_ambiguous_name_is_a_config_error(two_commits: Path, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(two_commits, root)
    git(root, "tag", "main", "HEAD~1")  # a tag and a branch both called main
    result = run("test", "--baseline", "main", cwd=root)
    refused(result, "--baseline", "main", r"the name is ambiguous: .+")


def test_a_valid_relative_ref_still_works(two_commits: Path) -> None:
    result = run(
        "test", "sql-helper", "--baseline", "HEAD~1", "--changed-since", "HEAD~1", cwd=two_commits
    )
    # nothing a persona reads changed since HEAD~1 (only a note): nothing selected, all fine
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == (
        "0 passed, 0 failed, 0 untested, 0 skipped, 0 errors. Against HEAD~1: 0 pass→fail, "
        "0 fail→pass."
    )
    compared = run("test", "sql-helper", "--baseline", "HEAD~1", cwd=two_commits)
    assert compared.returncode == 0, compared.stderr
    assert compared.stdout.splitlines()[-1] == (
        "0 passed, 0 failed, 2 untested, 0 skipped, 0 errors. Against HEAD~1: 0 pass→fail, "
        "0 fail→pass."  # the mirror answered: no model, so nothing is a pass
    )

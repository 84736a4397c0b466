"""Issue 20, "never pretend": every command that reads a repo refuses a folder without a
repo config (``CONFIG_ERROR``, naming the folder and the way out) and creates nothing.

``personas plan --repo ../typo --detailed-exitcode`` created ``../typo/.personas/
catalogue.db``, printed "No changes." and exited 0; so did apply, import, test, run and
preview in any folder without ``personas.toml``."""

from __future__ import annotations

import inspect
import subprocess
from pathlib import Path

import pytest
from personas_as_code.cli.main import LazyCommandGroup

from tests.cli.test_validate_cmd import PERSONAS
from tests.repos import MINIMAL, RepoBuilder

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``personas ARGS`` as a process in ``cwd``, with only ``env`` set besides PYTHONPATH."""
    return subprocess.run(
        [*PERSONAS, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), **(env or {})},
    )


# the arguments each command that takes --repo needs besides it, and its exit code for a
# usage error (``personas test`` says 2 for "the input is wrong")
REPO_COMMANDS: dict[str, tuple[list[str], int]] = {
    "validate": ([], 1),
    "plan": (["--detailed-exitcode"], 1),
    "apply": (["--auto-approve"], 1),
    "import": (["--all"], 1),
    "export": ([], 1),
    "preview": (["support-agent"], 1),
    "run": (["support-agent", "hello"], 1),
    "test": ([], 2),
    "schema": (["--write"], 1),
}
# not here: ``init`` makes a repo; ``mcp`` starts in any folder and answers every tool
# with this error (its own tests)
NOT_REFUSED = {"init", "mcp"}


def test_every_command_that_takes_a_repo_is_listed_here() -> None:
    takes_repo = {
        name
        for name, info in LazyCommandGroup.deferred.items()
        if info.callback is not None and "repo" in inspect.signature(info.callback).parameters
    }
    assert takes_repo - NOT_REFUSED == set(REPO_COMMANDS)


def assert_refused(result, folder: Path, exit_code: int) -> None:
    assert result.returncode == exit_code, (result.stdout, result.stderr)
    (line,) = result.stderr.splitlines()
    assert line.startswith("error CONFIG_ERROR: "), line
    assert f"{folder / 'personas.toml'} not found" in line
    assert "--repo" in line and "`personas init`" in line
    assert "No changes" not in result.stdout and "valid" not in result.stdout


@pytest.mark.parametrize("command", sorted(REPO_COMMANDS))
def test_a_mistyped_repo_is_refused_and_nothing_is_created(tmp_path: Path, command: str) -> None:
    here = tmp_path / "work"
    here.mkdir()
    args, exit_code = REPO_COMMANDS[command]
    result = run(command, *args, "--repo", "../typo", cwd=here)
    assert_refused(result, tmp_path / "typo", exit_code)
    assert not (tmp_path / "typo").exists()
    assert list(here.iterdir()) == []


@pytest.mark.parametrize("command", ["plan", "apply", "test"])
def test_a_folder_without_a_config_is_refused_and_left_empty(tmp_path: Path, command: str) -> None:
    (tmp_path / "personas").mkdir()  # persona files but no personas.toml: still not a repo
    (tmp_path / "personas" / "a.yaml").write_text("name: A\nmodel: scaigrid/gpt-4o\n")
    args, exit_code = REPO_COMMANDS[command]
    result = run(command, *args, cwd=tmp_path)
    assert_refused(result, tmp_path, exit_code)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.yaml", "personas"]


# --- the catalogue database and .personas are never reached through a link -------------


def linked_repo(repo: RepoBuilder) -> RepoBuilder:
    repo.persona("a", MINIMAL)
    return repo


def test_a_committed_personas_symlink_is_refused(repo: RepoBuilder, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    linked_repo(repo)
    (repo.root / ".personas").symlink_to(elsewhere, target_is_directory=True)
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = run(*command, cwd=repo.root)
        assert result.returncode == 1, result.stdout
        assert result.stderr.startswith("error CONFIG_ERROR: refusing the catalogue database")
        assert "'.personas' is a symlink" in result.stderr
    assert list(elsewhere.iterdir()) == []  # no catalogue, no lock, no parse cache there


def test_a_committed_catalogue_db_symlink_is_refused(repo: RepoBuilder, tmp_path: Path) -> None:
    linked_repo(repo)
    outside = tmp_path / "outside.db"
    made = run(
        "catalogue", "init", "--database", f"sqlite:///{outside}", "--tenant", "acme", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    before = outside.read_bytes()
    (repo.root / ".personas").mkdir()
    (repo.root / ".personas" / "catalogue.db").symlink_to(outside)
    result = run("apply", "--auto-approve", cwd=repo.root)
    assert result.returncode == 1 and "'.personas/catalogue.db' is a symlink" in result.stderr
    assert outside.read_bytes() == before


@pytest.mark.parametrize(
    "database", ["sqlite:///../../x.db", "sqlite:///../x.db", "sqlite+pysqlite:///../x.db"]
)
def test_a_database_path_climbing_out_of_the_repo_is_refused(
    repo: RepoBuilder, tmp_path: Path, database: str
) -> None:
    linked_repo(repo)
    with (repo.root / "personas.toml").open("a") as config:
        config.write(f'\n[catalogue]\ndatabase = "{database}"\n')
    result = run("apply", "--auto-approve", cwd=repo.root)
    assert result.returncode == 1, result.stdout
    assert "puts the catalogue outside the repo" in result.stderr
    assert not list(tmp_path.rglob("x.db*"))


def test_an_absolute_database_path_outside_the_repo_is_refused(
    repo: RepoBuilder, tmp_path: Path
) -> None:
    linked_repo(repo)
    with (repo.root / "personas.toml").open("a") as config:
        config.write(f'\n[catalogue]\ndatabase = "sqlite:///{tmp_path}/abs.db"\n')
    result = run("plan", cwd=repo.root)
    assert result.returncode == 1 and "outside the repo" in result.stderr
    assert not (tmp_path / "abs.db").exists()


def test_the_operator_may_put_the_database_anywhere(repo: RepoBuilder, tmp_path: Path) -> None:
    linked_repo(repo)
    url = f"sqlite:///{tmp_path}/ops/catalogue.db"
    result = run("apply", "--auto-approve", cwd=repo.root, env={"PERSONAS_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ops" / "catalogue.db").is_file()
    assert not (repo.root / ".personas" / "catalogue.db").exists()


def test_the_parse_cache_is_not_written_through_a_linked_file(
    repo: RepoBuilder, tmp_path: Path
) -> None:
    linked_repo(repo)
    outside = tmp_path / "outside.json"
    outside.write_text("mine")
    (repo.root / ".personas").mkdir()
    (repo.root / ".personas" / "parse-cache.json").symlink_to(outside)
    result = run("plan", cwd=repo.root)
    assert result.returncode == 0, result.stderr
    assert outside.read_text() == "mine"

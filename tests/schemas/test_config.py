"""personas.toml: defaults, validation and located errors."""

from __future__ import annotations

from personas_as_code.loader.repo import load_repo

from tests.repos import RepoBuilder


def test_config_is_read(repo: RepoBuilder) -> None:
    repo.write(
        "personas.toml",
        '[repo]\nid = "acme/p"\ntenant = "acme"\n[safety]\nmax_delete_percent = 10\n',
    )
    loaded = load_repo(repo.root)
    assert loaded.config.repo.id == "acme/p"
    assert loaded.config.safety.max_delete_percent == 10


def test_missing_config_is_a_warning_with_defaults(repo: RepoBuilder) -> None:
    (repo.root / "personas.toml").unlink()
    loaded = load_repo(repo.root)
    assert loaded.ok
    (warning,) = loaded.problems
    assert warning.severity == "warning" and loaded.config.repo.id == "repo"


def test_unknown_config_key_names_its_line(repo: RepoBuilder) -> None:
    repo.write("personas.toml", '[repo]\nid = "x"\n\n[safety]\nmax_delete = 5\n')
    (problem,) = load_repo(repo.root).problems
    assert str(problem).startswith("personas.toml:5:1: safety.max_delete: Extra inputs")


def test_malformed_toml(repo: RepoBuilder) -> None:
    repo.write("personas.toml", "[repo\nid = 1\n")
    (problem,) = load_repo(repo.root).problems
    assert (
        problem.path == "personas.toml"
        and problem.line == 1
        and "malformed TOML" in problem.message
    )

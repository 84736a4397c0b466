"""Issue 20: the URL of a repo's embedded catalogue keeps a SQLite file inside the repo,
reached through no link; other databases and in-memory SQLite are left as given."""

from __future__ import annotations

from pathlib import Path

import pytest
from personas_as_code.catalogue.factory import repo_database_url
from personas_as_code.schemas.errors import ConfigError


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:5432/test",
        "postgresql+psycopg://u@h/db?options=-csearch_path%3Dx",
        "sqlite://",
        "sqlite:///:memory:",
    ],
)
def test_other_databases_are_unaffected(tmp_path: Path, url: str) -> None:
    assert repo_database_url(url, tmp_path) == url
    assert list(tmp_path.iterdir()) == []


def test_a_relative_file_is_made_absolute_under_the_repo(tmp_path: Path) -> None:
    url = repo_database_url("sqlite:///.personas/catalogue.db?timeout=5", tmp_path)
    assert url == f"sqlite:///{tmp_path.resolve()}/.personas/catalogue.db?timeout=5"
    assert (tmp_path / ".personas").is_dir() and not (tmp_path / ".personas").is_symlink()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///.personas/../../x.db",
        "sqlite:///a/../x.db",  # `..` after a folder that may be a link: refused too
        "sqlite:///file:x.db?uri=true",
        "sqlite:////etc/x.db",
    ],
)
def test_the_repo_config_may_not_leave_the_repo(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError):
        repo_database_url(url, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_absolute_path_inside_the_repo_is_accepted(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    url = f"sqlite:///{root}/data/c.db"
    assert repo_database_url(url, root) == url
    assert (root / "data").is_dir()


def test_a_linked_folder_below_the_repo_is_refused_even_for_the_operator(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "repo" / ".personas").symlink_to(tmp_path / "out", target_is_directory=True)
    for operator in (False, True):
        with pytest.raises(ConfigError, match=r"'\.personas' is a symlink"):
            repo_database_url("sqlite:///.personas/c.db", tmp_path / "repo", operator=operator)
    assert list((tmp_path / "out").iterdir()) == []


def test_the_operator_may_name_a_file_outside_the_repo(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    url = repo_database_url("sqlite:///../shared/c.db", tmp_path / "repo", operator=True)
    assert url == f"sqlite:///{(tmp_path / 'shared' / 'c.db').resolve()}"
    assert (tmp_path / "shared").is_dir()

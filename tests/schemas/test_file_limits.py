"""Sizes are checked before anything is read; unreadable files are problems, not crashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from personas_as_code.loader.files import (
    MAX_READ_BYTES,
    DirectoryFiles,
    OversizedFile,
    read_limited,
)
from personas_as_code.loader.repo import load_repo

from tests.repos import MINIMAL, RepoBuilder

SPARSE = 2**31  # 2 GiB that take no disk space


def sparse(path: Path, size: int = SPARSE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.truncate(size)


def problems_of(root: Path) -> list[str]:
    return [str(p) for p in load_repo(root).problems]


@pytest.mark.slow  # a python process
def test_huge_sparse_files_are_refused_by_size_with_little_memory(repo: RepoBuilder) -> None:
    sparse(repo.root / "personas" / "huge.yaml")
    sparse(repo.root / "personas" / "prompts" / "p.md")
    repo.persona("prompted", MINIMAL + "system_prompt_file: prompts/p.md\n")
    sparse(repo.root / "personas" / "avatars" / "a.png")
    repo.persona("pictured", MINIMAL + "avatar: avatars/a.png\n")
    project = Path(__file__).resolve().parents[2]
    script = (
        "import json, sys\n"
        "from personas_as_code.loader.repo import load_repo\n"
        "problems = [str(p) for p in load_repo(sys.argv[1]).problems]\n"
        # VmHWM belongs to this process image; ru_maxrss would carry the forking parent's
        # peak (pytest's, hundreds of MiB late in a run) across exec
        "status = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
        "print(json.dumps({'problems': problems, 'peak_mib': int(status) // 1024}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(repo.root)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(project)},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["problems"] == [
        "personas/huge.yaml:1:1: file is 2,147,483,648 bytes; the limit is 262,144 bytes",
        "personas/pictured.yaml:3:9: avatar 'avatars/a.png' is 2,147,483,648 bytes; "
        "the limit is 2,097,152 bytes",
        "personas/prompted.yaml:3:21: system_prompt_file 'prompts/p.md' is 2,147,483,648 "
        "bytes; the limit is 262,144 bytes",
    ]
    assert report["peak_mib"] < 400, report  # reading any of them whole costs 2 GiB


def test_huge_config_file_is_refused_by_size(repo: RepoBuilder) -> None:
    sparse(repo.root / "personas.toml")
    repo.persona("fine", MINIMAL)
    assert problems_of(repo.root) == [
        "personas.toml:1:1: file 'personas.toml' is 2,147,483,648 bytes; the limit is 65,536 bytes"
    ]


def test_directory_files_never_hold_more_than_their_cap(tmp_path: Path) -> None:
    sparse(tmp_path / "big.bin")
    files = DirectoryFiles(tmp_path)
    with pytest.raises(OversizedFile) as refused:
        files.read("big.bin")
    assert refused.value.size == SPARSE and refused.value.limit == MAX_READ_BYTES
    with pytest.raises(OversizedFile) as refused:
        read_limited(files, "big.bin", 10)
    assert str(refused.value) == "'big.bin' is 2,147,483,648 bytes; the limit is 10 bytes"


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 10)
    assert read_limited(DirectoryFiles(tmp_path), "f", 10) == b"x" * 10
    with pytest.raises(OversizedFile):
        read_limited(DirectoryFiles(tmp_path), "f", 9)


def test_symlink_loop_is_a_problem_not_a_crash(repo: RepoBuilder) -> None:
    (repo.root / "personas" / "prompts").mkdir()
    os.symlink("loop.md", repo.root / "personas" / "prompts" / "loop.md")
    repo.persona("p", MINIMAL + "system_prompt_file: prompts/loop.md\n")
    (problem,) = problems_of(repo.root)
    assert problem.startswith("personas/p.yaml:3:21: system_prompt_file: ")
    assert "cannot be resolved (a symlink loop?)" in problem


@pytest.mark.parametrize("opener", ["[", "{a = "])
def test_deeply_nested_config_is_a_problem_not_a_crash(repo: RepoBuilder, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    repo.write(
        "personas.toml", '[repo]\nid = "t/r"\nx = ' + opener * 3000 + "1" + closer * 3000 + "\n"
    )
    repo.persona("fine", MINIMAL)
    loaded = load_repo(repo.root)
    assert [str(p) for p in loaded.problems] == [
        "personas.toml:1:1: malformed TOML: nested too deeply"
    ]
    assert "fine" in loaded.personas


class FailingFiles(DirectoryFiles):
    """A files backend that fails in a way nobody planned for, on one file."""

    def size(self, path: str) -> int:
        if path.endswith("broken.yaml"):
            raise LookupError("backend lost its index")
        return super().size(path)


def test_an_unforeseen_failure_is_a_problem_of_that_file(repo: RepoBuilder) -> None:
    repo.persona("broken", MINIMAL)
    repo.persona("fine", MINIMAL)
    loaded = load_repo(files=FailingFiles(repo.root))
    (problem,) = loaded.problems
    assert problem.path == "personas/broken.yaml" and problem.code == "internal_error"
    assert "LookupError: backend lost its index" in problem.message
    assert list(loaded.personas) == ["fine"]

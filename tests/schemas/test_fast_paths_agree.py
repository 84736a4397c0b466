"""Every fast path of a repo load gives what the slow path gives: the parse cache (cold,
from its file, from forked workers) on the whole bad-input corpus and the example repo,
and a bounded read of a working-tree file in one resolution."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from personas_as_code.loader import files as files_module
from personas_as_code.loader.files import DirectoryFiles, OversizedFile, read_limited
from personas_as_code.loader.parse_cache import CACHE_FILE, ParseCache
from personas_as_code.loader.repo import Repo, load_repo

from tests.repos import DATA, copy_examples

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _own_cache_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def corpus_repo(tmp_path: Path) -> Path:
    """The example repo plus every bad persona file, the secret samples and a prompt
    file full of secrets, each as a persona of its own."""
    root = copy_examples(tmp_path / "repo")
    for path in sorted((DATA / "bad").glob("*.yaml")):
        shutil.copy(path, root / "personas" / f"bad-{path.stem.replace('_', '-')}.yaml")
    shutil.copy(DATA / "secrets" / "leaky_persona.yaml", root / "personas" / "leaky.yaml")
    (root / "prompts").mkdir()
    for name in ("leaky_prompt.md", "harmless_prompt.md"):
        shutil.copy(DATA / "secrets" / name, root / "prompts" / name)
        slug = name.split("_")[0] + "-prompted"
        (root / "personas" / f"{slug}.yaml").write_text(
            f"name: {slug}\nmodel: scaigrid/gpt-4o\nsystem_prompt_file: ../prompts/{name}\n"
        )
    return root


def assert_same(fast: Repo, slow: Repo) -> None:
    assert fast.personas == slow.personas
    assert fast.problems == slow.problems
    for slug, persona in slow.personas.items():
        assert fast.personas[slug].key_lines == persona.key_lines
        assert fast.personas[slug].system_prompt == persona.system_prompt


def test_the_parse_cache_equals_the_slow_path_on_the_corpus(corpus_repo: Path) -> None:
    slow = load_repo(corpus_repo)
    assert len(slow.problems) > 40  # the corpus is there, and it is bad
    assert {p.code for p in slow.problems} >= {"secret", "yaml", "duplicate_key", "json_value"}
    cache = ParseCache.for_repo(corpus_repo)
    cold = load_repo(corpus_repo, persona_loader=cache.load)
    cache.save()
    assert cache.misses > 40 and cache.hits == 0
    assert_same(cold, slow)
    cache = ParseCache.for_repo(corpus_repo)
    warm = load_repo(corpus_repo, persona_loader=cache.load)
    assert cache.hits == cache.misses + cache.hits > 40
    assert_same(warm, slow)


PREFETCH = """
import json, sys
from personas_as_code.loader.files import DirectoryFiles
from personas_as_code.loader.parse_cache import ParseCache
from personas_as_code.loader.repo import load_repo
cache = ParseCache()
cache.parallel_min = 2
read = DirectoryFiles.read_bounded
again = []
def prepare(files, paths):
    cache.prefetch(files, paths)
    def counted(self, path, limit):
        again.append(path)
        return read(self, path, limit)
    DirectoryFiles.read_bounded = counted  # the parent, once the workers are done
fast = load_repo(sys.argv[1], persona_loader=cache.load, prepare=prepare)
DirectoryFiles.read_bounded = read
slow = load_repo(sys.argv[1])
print(json.dumps({"prefetched": cache.prefetched > 40, "personas": fast.personas == slow.personas,
                  "problems": fast.problems == slow.problems,
                  "read again": [p for p in again if p in fast.persona_files]}))
"""


@pytest.mark.slow  # a python process that forks workers
def test_worker_processes_equal_the_slow_path_on_the_corpus(corpus_repo: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PREFETCH, str(corpus_repo)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "prefetched": True,
        "personas": True,
        "problems": True,
        "read again": [],  # what a worker read and hashed, the parent does not
    }
    assert not (corpus_repo / CACHE_FILE).exists()  # an unsaved cache wrote nothing


def test_a_bounded_read_resolves_a_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.yaml").write_bytes(b"x" * 10)
    files = DirectoryFiles(tmp_path)
    files.read("d/f.yaml")  # the folder's real path is now known
    calls: list[str] = []
    real_lstat = os.lstat

    def counting_lstat(path: str) -> os.stat_result:
        calls.append(path)
        return real_lstat(path)

    monkeypatch.setattr(files_module.os, "lstat", counting_lstat)
    assert read_limited(files, "d/f.yaml", 10) == b"x" * 10
    assert len(calls) == 1  # one lstat for the file, not one for its size and one to read
    with pytest.raises(OversizedFile) as refused:
        read_limited(files, "d/f.yaml", 9)
    assert (refused.value.size, refused.value.limit) == (10, 9)
    with pytest.raises(FileNotFoundError):
        read_limited(files, "d/missing.yaml", 10)


SPAWNED = """
import json, sys, threading
from personas_as_code.loader import parse_cache
from personas_as_code.loader.parse_cache import ParseCache
from personas_as_code.loader.repo import load_repo
parse_cache.SPAWN_MIN = 2
stop = threading.Event()
threading.Thread(target=stop.wait, daemon=True).start()  # a server's thread: no fork
cache = ParseCache()
cache.parallel_min = 2
fast = load_repo(sys.argv[1], persona_loader=cache.load, prepare=cache.prefetch)
slow = load_repo(sys.argv[1])
print(json.dumps({"prefetched": cache.prefetched > 40, "personas": fast.personas == slow.personas,
                  "problems": fast.problems == slow.problems}))
"""


@pytest.mark.slow  # a python process that spawns workers
def test_a_process_with_threads_spawns_workers_that_equal_the_slow_path(
    corpus_repo: Path,
) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", SPAWNED, str(corpus_repo)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"prefetched": True, "personas": True, "problems": True}

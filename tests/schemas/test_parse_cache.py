"""The parse cache never serves a stale or invalid result: whatever happened to the
files or to the cache file, a load through it equals a load without it."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from personas_as_code.loader.cache_file import key_file
from personas_as_code.loader.parse_cache import CACHE_FILE, ParseCache
from personas_as_code.loader.repo import Repo, load_repo

from tests.repos import MINIMAL, RepoBuilder
from tests.schemas.test_referenced_files import png_bytes

PROMPTED = "name: Prompted\nmodel: scaigrid/gpt-4o\nsystem_prompt_file: ../prompts/p.md\n"
PICTURED = "name: Pictured\nmodel: scaigrid/gpt-4o\navatar: ../avatars/a.png\n"


@pytest.fixture(autouse=True)
def _own_cache_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def filled(repo: RepoBuilder) -> RepoBuilder:
    repo.persona("plain", MINIMAL + "description: first\n")
    repo.persona("other", "name: Other\nmodel: scaigrid/gpt-4o\nslug: other\n")
    repo.persona("broken", "name: Broken\nmodel: m\nstatus: nope\n")
    repo.write("prompts/p.md", "You are helpful.\n")
    repo.persona("prompted", PROMPTED)
    repo.write("avatars/a.png", png_bytes())
    repo.persona("pictured", PICTURED)
    return repo


def cached_load(root: Path) -> tuple[Repo, ParseCache]:
    """A load through the repo's persisted cache, as ``personas plan`` does it."""
    cache = ParseCache.for_repo(root)
    loaded = load_repo(root, persona_loader=cache.load)
    cache.save()
    return loaded, cache


def assert_same(cached: Repo, root: Path) -> None:
    fresh = load_repo(root)
    assert cached.personas == fresh.personas
    assert cached.problems == fresh.problems
    for slug, persona in fresh.personas.items():
        assert cached.personas[slug].key_lines == persona.key_lines


def test_a_second_run_is_served_from_the_file_and_equals_no_cache(filled: RepoBuilder) -> None:
    _, cache = cached_load(filled.root)
    assert cache.hits == 0 and cache.misses == 5
    assert (filled.root / CACHE_FILE).is_file()
    second, cache = cached_load(filled.root)
    assert cache.hits == 5 and cache.misses == 0
    assert_same(second, filled.root)
    assert second.personas["prompted"].system_prompt == "You are helpful.\n"
    assert second.personas["pictured"].avatar.data == png_bytes()
    assert [p.code for p in second.problems if p.path.endswith("broken.yaml")]


def test_an_edit_with_the_same_size_and_mtime_is_seen(filled: RepoBuilder) -> None:
    cached_load(filled.root)
    path = filled.root / "personas/plain.yaml"
    before = path.stat()
    path.write_text(path.read_text().replace("first", "FIRST"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    again, cache = cached_load(filled.root)
    assert cache.misses == 1
    assert again.personas["plain"].spec.description == "FIRST"
    assert_same(again, filled.root)


def test_a_file_that_became_invalid_reports_its_problems(filled: RepoBuilder) -> None:
    cached_load(filled.root)
    filled.persona("plain", MINIMAL + "status: nope\n")
    again, _ = cached_load(filled.root)
    assert "plain" not in again.personas
    assert any(p.path == "personas/plain.yaml" for p in again.problems)
    assert_same(again, filled.root)


def test_a_changed_referenced_file_is_seen(filled: RepoBuilder) -> None:
    cached_load(filled.root)
    filled.write("prompts/p.md", "You are HELPFUL.\n")  # same size
    filled.write("avatars/a.png", png_bytes(extra=10))
    again, cache = cached_load(filled.root)
    assert cache.misses == 2 and cache.hits == 3
    assert again.personas["prompted"].system_prompt == "You are HELPFUL.\n"
    assert again.personas["pictured"].avatar.data == png_bytes(extra=10)
    assert_same(again, filled.root)

    (filled.root / "prompts/p.md").unlink()
    (filled.root / "prompts/p.md").mkdir()  # not a regular file any more
    gone, _ = cached_load(filled.root)
    assert "prompted" not in gone.personas
    assert_same(gone, filled.root)


def test_a_secret_appearing_in_a_prompt_file_is_reported(filled: RepoBuilder) -> None:
    cached_load(filled.root)
    filled.write("prompts/p.md", "Use the key sk-proj-" + "a1" * 15 + "\n")
    again, _ = cached_load(filled.root)
    assert any(p.code == "secret" for p in again.problems)
    assert_same(again, filled.root)


@pytest.mark.parametrize("damage", ["truncate", "flip", "flip-mac", "empty", "garbage"])
def test_a_damaged_cache_file_is_ignored_and_rewritten(filled: RepoBuilder, damage: str) -> None:
    cached_load(filled.root)
    cache_file = filled.root / CACHE_FILE
    blob = cache_file.read_bytes()
    middle = len(blob) // 2
    damaged = {
        "truncate": blob[: len(blob) // 2],
        "flip": blob[:middle] + bytes([blob[middle] ^ 1]) + blob[middle + 1 :],
        "flip-mac": blob[:-40] + bytes([blob[-40] ^ 1]) + blob[-39:],
        "empty": b"",
        "garbage": os.urandom(300),
    }[damage]
    cache_file.write_bytes(damaged)
    again, cache = cached_load(filled.root)
    assert cache.hits == 0 and cache.misses == 5
    assert_same(again, filled.root)
    assert cache_file.read_bytes() != damaged
    _, cache = cached_load(filled.root)
    assert cache.hits == 5


def forge(cache_file: Path, key: bytes, edit) -> None:
    """Rewrite the cache file with ``edit`` applied to its header and entries, signed
    with ``key``."""
    lines = cache_file.read_bytes()[:-64].split(b"\n")[:-1]
    document = {"header": json.loads(lines[0]), "entries": [json.loads(x) for x in lines[1:]]}
    edit(document)
    body = b"".join(
        json.dumps(x).encode() + b"\n" for x in [document["header"], *document["entries"]]
    )
    cache_file.write_bytes(body + hmac.new(key, body, hashlib.sha256).hexdigest().encode())


def lie_about_plain(document: dict) -> None:
    for row in document["entries"]:
        if row[0] == "personas/plain.yaml":
            record = json.loads(row[4])
            record["persona"]["data"]["description"] = "a lie"
            row[4] = json.dumps(record)


def test_a_cache_signed_by_someone_else_is_ignored(filled: RepoBuilder) -> None:
    """A cache committed to a pull request cannot make the plan read what the file does not say."""
    cached_load(filled.root)
    forge(filled.root / CACHE_FILE, b"k" * 32, lie_about_plain)
    again, cache = cached_load(filled.root)
    assert cache.hits == 0
    assert again.personas["plain"].spec.description == "first"


def test_the_entry_the_forger_changed_would_have_been_served_if_signed(
    filled: RepoBuilder,
) -> None:
    """The control of the test above: the forgery is refused for its signature alone."""
    cached_load(filled.root)
    forge(filled.root / CACHE_FILE, key_file().read_bytes(), lie_about_plain)
    again, _ = cached_load(filled.root)
    assert again.personas["plain"].spec.description == "a lie"


@pytest.mark.parametrize(
    "header", [{"format": 1, "code": "another version"}, {"format": 0}, None, "x"]
)
def test_a_cache_from_another_tool_or_schema_version_is_ignored(
    filled: RepoBuilder, header: object
) -> None:
    cached_load(filled.root)

    def other_version(document: dict) -> None:
        lie_about_plain(document)
        document["header"] = header

    forge(filled.root / CACHE_FILE, key_file().read_bytes(), other_version)
    again, cache = cached_load(filled.root)
    assert cache.hits == 0
    assert again.personas["plain"].spec.description == "first"
    assert_same(again, filled.root)


def test_a_damaged_key_trusts_no_cache(filled: RepoBuilder) -> None:
    cached_load(filled.root)
    key_file().write_bytes(b"short")
    again, cache = cached_load(filled.root)
    assert cache.hits == 0
    assert_same(again, filled.root)
    assert len(key_file().read_bytes()) == 32  # a new key was made for the next save


def test_an_unwritable_cache_folder_only_costs_speed(filled: RepoBuilder) -> None:
    (filled.root / ".personas").write_text("a file where the folder should be")
    again, cache = cached_load(filled.root)
    assert cache.misses == 5
    assert_same(again, filled.root)


def test_a_committed_personas_symlink_is_not_written_through(
    filled: RepoBuilder, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (filled.root / ".personas").symlink_to(elsewhere, target_is_directory=True)
    again, cache = cached_load(filled.root)
    assert cache.misses == 5
    assert_same(again, filled.root)
    assert list(elsewhere.iterdir()) == []  # nothing written where the link points


CONCURRENT_LOADER = """
import sys
from pathlib import Path
from personas_as_code.loader.repo import load_repo
from personas_as_code.loader.parse_cache import ParseCache
root = Path(sys.argv[1])
for round_ in range(6):
    target = root / "personas" / f"w{sys.argv[2]}.yaml"
    target.write_text(f"name: W\\nmodel: m\\ndescription: round {round_}\\n")
    cache = ParseCache.for_repo(root)
    load_repo(root, persona_loader=cache.load)
    cache.save()
"""


@pytest.mark.slow  # python processes
def test_concurrent_writers_leave_a_cache_that_serves_the_right_result(
    filled: RepoBuilder,
) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_LOADER, str(filled.root), str(n)], env=env
        )
        for n in range(4)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    assert not list((filled.root / ".personas").glob("*.tmp"))
    again, cache = cached_load(filled.root)
    assert cache.hits >= 5  # the file is whole and signed: one writer's complete cache
    assert_same(again, filled.root)
    assert again.personas["w3"].spec.description == "round 5"


def test_any_text_and_value_comes_back_the_same(repo: RepoBuilder) -> None:
    repo.persona(
        "unicode",
        'name: "Übersetzer ✓ \\" \\\\ \\t"\nmodel: scaigrid/gpt-4o\n'
        "description: 'emoji 🎉 and 中文'\n"
        "system_prompt: |\n  Line one.\n  Zeile zwei: ä\n"
        "default_params: {temperature: 0.1, max_tokens: 12345}\n"
        "metadata: {nested: {list: [1, 2.5, true, null, 'x']}, big: 9007199254740993}\n",
    )
    repo.write("personas/ünïcode-file.yaml", MINIMAL)
    cached_load(repo.root)
    again, cache = cached_load(repo.root)
    assert cache.hits == 2
    assert_same(again, repo.root)
    assert again.personas["unicode"].spec.metadata["big"] == 9007199254740993


PREFETCH_LOADER = """
import json, sys
from personas_as_code.loader.repo import load_repo
from personas_as_code.loader.parse_cache import ParseCache
cache = ParseCache.for_repo(sys.argv[1])
cache.parallel_min = 1  # fork workers even for this small repo
loaded = load_repo(sys.argv[1], persona_loader=cache.load, prepare=cache.prefetch)
fresh = load_repo(sys.argv[1])
cache.save()
print(json.dumps({
    "prefetched": cache.prefetched,
    "same_personas": loaded.personas == fresh.personas,
    "same_problems": loaded.problems == fresh.problems,
}))
"""


@pytest.mark.slow  # a python process
def test_a_cold_start_loaded_by_worker_processes_equals_no_cache(filled: RepoBuilder) -> None:
    for n in range(12):
        filled.persona(f"many-{n:02d}", MINIMAL + f"description: number {n}\n")
    filled.persona("many-bad", "name: Bad\nmodel: m\nrag: {top_k: 0}\n")
    # workers are forked only from a single-threaded process: a fresh interpreter, not
    # this test process, where other tests may have left threads running
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(
        [sys.executable, "-c", PREFETCH_LOADER, str(filled.root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "prefetched": 18,
        "same_personas": True,
        "same_problems": True,
    }
    _, cache = cached_load(filled.root)
    assert cache.hits == 18 and cache.misses == 0


def test_a_warm_run_that_changed_nothing_does_not_rewrite_the_cache(
    filled: RepoBuilder,
) -> None:
    cached_load(filled.root)  # writes the cache
    cache_file = filled.root / CACHE_FILE
    before = cache_file.stat()
    os.utime(cache_file, ns=(before.st_atime_ns, before.st_mtime_ns - 10**9))
    marked = cache_file.stat().st_mtime_ns
    second, cache = cached_load(filled.root)
    assert cache.hits == 5 and cache.misses == 0
    after = cache_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, marked)  # not written again
    assert_same(second, filled.root)


def test_a_warm_run_that_dropped_a_file_rewrites_the_cache_without_it(
    filled: RepoBuilder,
) -> None:
    cached_load(filled.root)
    (filled.root / "personas" / "other.yaml").unlink()
    cached_load(filled.root)
    lines = (filled.root / CACHE_FILE).read_bytes().split(b"\n")[1:-1]
    assert len(lines) == 4 and not any(b"other.yaml" in line for line in lines)

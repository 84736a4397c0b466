"""The cached loader matches ``load_repo``; the index refreshes when files change."""

from __future__ import annotations

import gc
import os
from pathlib import Path

from personas_as_code.application.drafts import DraftStore
from personas_as_code.application.index import RepoIndex
from personas_as_code.loader.files import DirectoryFiles
from personas_as_code.loader.parse_cache import ParseCache
from personas_as_code.loader.repo import load_repo

from tests.mcp_server.conftest import git


def same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert a.problems == b.problems
    assert list(a.personas) == list(b.personas)
    assert a.persona_files == b.persona_files
    for slug in a.personas:
        assert a.personas[slug].spec == b.personas[slug].spec
        assert a.personas[slug].system_prompt == b.personas[slug].system_prompt


def test_cached_loader_equals_load_repo(git_repo: Path) -> None:
    # add problems of every kind: duplicate slug via previous_slugs, invalid file, bad prompt
    (git_repo / "personas/a-clash.yaml").write_text(
        "name: Clash\nmodel: m\nprevious_slugs: [translator]\n"
    )
    (git_repo / "personas/bad.yaml").write_text("name: Bad\nmodel: m\nstatus: nope\n")
    (git_repo / "personas/no-prompt.yaml").write_text(
        "name: P\nmodel: m\nsystem_prompt_file: prompts/missing.md\n"
    )
    cache = ParseCache()
    files = DirectoryFiles(git_repo)
    expected = load_repo(git_repo)
    same(load_repo(git_repo, files=files, persona_loader=cache.load), expected)
    again = load_repo(git_repo, files=files, persona_loader=cache.load)
    same(again, expected)
    assert cache.hits >= len(expected.persona_files)

    # and over a git commit, sharing the cache (blob ids are content hashes)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "more")
    store = DraftStore(git_repo)
    hits = cache.hits
    from_git = load_repo(
        git_repo, files=store.files_at(store.head_sha()), persona_loader=cache.load
    )
    same(from_git, expected)
    assert cache.hits - hits == len(expected.persona_files)


def test_index_refreshes_on_change(git_repo: Path) -> None:
    index = RepoIndex(git_repo, max_staleness=0)
    stable = index.snapshot()
    assert index.snapshot() is stable  # no change, no reload

    path = git_repo / "personas/translator.yaml"
    path.write_text(path.read_text().replace("name: Translator", "name: Übersetzer"))
    os.utime(path, ns=(1, 1))
    assert index.snapshot().repo.personas["translator"].spec.name == "Übersetzer"

    prompt = git_repo / "personas/prompts/onboarding-coach.md"
    prompt.write_text("New coach prompt.\n")
    assert index.snapshot().repo.personas["onboarding-coach"].system_prompt == "New coach prompt.\n"

    (git_repo / "personas/translator.yaml").unlink()
    assert "translator" not in index.snapshot().repo.personas


def test_index_checks_at_most_every_max_staleness(git_repo: Path) -> None:
    index = RepoIndex(git_repo, max_staleness=60)
    first = index.snapshot()
    (git_repo / "personas/translator.yaml").unlink()
    assert index.snapshot() is first  # within the staleness window: no stat walk
    index.max_staleness = 0
    assert "translator" not in index.snapshot().repo.personas


def test_the_first_load_settles_the_fingerprint(git_repo: Path) -> None:
    """The first load walks before loading (folders from the config), so the next
    request does not load everything again; a prompt outside the personas folder is
    known only after the load: that repo's second request reloads once."""
    index = RepoIndex(git_repo, max_staleness=0)
    first = index.snapshot()
    assert index.snapshot() is first and index.reloads == 1

    outside = git_repo / "prompts/shared.md"
    outside.parent.mkdir()
    outside.write_text("Shared prompt.\n")
    path = git_repo / "personas/onboarding-coach.yaml"
    text = path.read_text()
    path.write_text(text.replace("prompts/onboarding-coach.md", "../prompts/shared.md"))
    index = RepoIndex(git_repo, max_staleness=0)
    index.snapshot()
    settled = index.snapshot()
    assert index.snapshot() is settled and index.reloads == 2
    outside.write_text("Changed.\n")
    assert index.snapshot().repo.personas["onboarding-coach"].system_prompt == "Changed.\n"


def test_a_change_during_the_first_load_is_seen_next(git_repo: Path) -> None:
    index = RepoIndex(git_repo, max_staleness=0)
    path = git_repo / "personas/translator.yaml"
    load = index.cache.load

    def edit_once_read(files, rel):  # type: ignore[no-untyped-def]
        loaded = load(files, rel)
        if rel == "personas/translator.yaml":
            path.write_text(path.read_text().replace("name: Translator", "name: Mid-load"))
            os.utime(path, ns=(1, 1))
        return loaded

    index.cache.load = edit_once_read  # type: ignore[method-assign]
    first = index.snapshot()
    index.cache.load = load  # type: ignore[method-assign]
    assert first.repo.personas["translator"].spec.name == "Translator"
    assert index.snapshot().repo.personas["translator"].spec.name == "Mid-load"


def test_a_load_leaves_no_garbage_and_its_objects_frozen(git_repo: Path) -> None:
    """What a load allocates is frozen for the collector; it holds no cycles, so
    freezing it keeps nothing alive that a collection would have freed."""
    index = RepoIndex(git_repo, max_staleness=0)
    gc.collect()
    gc.disable()
    try:
        frozen = gc.get_freeze_count()
        snap = index.snapshot()
        assert gc.get_freeze_count() > frozen + len(snap.entries)
        gc.unfreeze()
        assert gc.collect() == 0
    finally:
        gc.enable()

"""Knowledge folders as validate sees them: hostile documents refused with located
problems, the others still loaded; missing folders are warnings on the embedded
catalogue only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from personas_as_code.loader.repo import load_repo
from personas_as_code.schemas.problems import Problem

from tests.repos import DATA, RepoBuilder, repo  # noqa: F401

PERSONA = """name: Docs bot
model: scaigrid/gpt-4o
sources:
  - type: collection
    id: col_docs
  - type: scaidrive
    id: shr_missing
  - type: collection
    id: col_off
    status: disabled
"""


def _problems(root: Path, **kw: object) -> list[Problem]:
    return load_repo(root, **kw).problems  # type: ignore[arg-type]


def _messages(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


def test_good_documents_load_with_their_hashes(repo: RepoBuilder) -> None:  # noqa: F811
    repo.persona("docs", PERSONA)
    repo.write("knowledge/col_docs/a.md", "# A\n\nAlpha.\n")
    repo.write("knowledge/col_docs/nested/b.txt", "\ufeffBravo.\n")
    repo.write("knowledge/col_docs/ignored.pdf", b"%PDF-1.4")
    loaded = load_repo(repo.root, remote_catalogue=False)
    folder = loaded.knowledge["col_docs"]
    assert [d.path for d in folder.documents] == [
        "knowledge/col_docs/a.md",
        "knowledge/col_docs/nested/b.txt",
    ]
    assert folder.documents[1].text == "Bravo.\n"  # the BOM is not content
    assert folder.spec.chunking.max_chars == 1200
    assert loaded.ok


def test_hostile_documents_are_refused_at_their_line(repo: RepoBuilder, tmp_path: Path) -> None:  # noqa: F811
    repo.persona("docs", PERSONA)
    repo.write("knowledge/col_docs/good.md", "fine\n")
    repo.write("knowledge/col_docs/latin1.md", "line one\ncaf\xe9\n".encode("latin-1"))
    repo.write("knowledge/col_docs/nul.md", b"one\ntwo\nth\x00ree\n")
    repo.write("knowledge/col_docs/huge.md", b"x" * (2 * 1024 * 1024))
    repo.write("knowledge/col_docs/one-line.txt", b"word " * (2 * 1024 * 1024))  # 10 MB, no newline
    outside = tmp_path / "secret.md"
    outside.write_text("the contents of a file outside the repo")
    os.symlink(outside, repo.root / "knowledge/col_docs/link.md")
    loaded = load_repo(repo.root, remote_catalogue=False)
    by_path = {p.path: p for p in loaded.problems if p.severity == "error"}
    assert by_path["knowledge/col_docs/latin1.md"].line == 2
    assert "not UTF-8 (byte 0xe9)" in by_path["knowledge/col_docs/latin1.md"].message
    assert (
        by_path["knowledge/col_docs/nul.md"].line,
        by_path["knowledge/col_docs/nul.md"].col,
    ) == (3, 3)
    assert (
        "2,097,152 bytes; the limit is 1,048,576" in by_path["knowledge/col_docs/huge.md"].message
    )
    assert "10,485,760 bytes" in by_path["knowledge/col_docs/one-line.txt"].message
    assert "outside the repo" in by_path["knowledge/col_docs/link.md"].message
    assert str(by_path["knowledge/col_docs/huge.md"]).startswith("knowledge/col_docs/huge.md:1:1: ")
    # the good document still loads, and nothing of the refused ones does
    docs = loaded.knowledge["col_docs"].documents
    assert [d.path for d in docs] == ["knowledge/col_docs/good.md"]
    assert not loaded.ok


def test_a_symlinked_folder_out_of_the_repo_is_not_read(repo: RepoBuilder, tmp_path: Path) -> None:  # noqa: F811
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.md").write_text("outside")
    (repo.root / "knowledge").mkdir()
    os.symlink(outside, repo.root / "knowledge" / "col_docs")
    loaded = load_repo(repo.root, remote_catalogue=False)
    texts = [d.text for f in loaded.knowledge.values() for d in f.documents]
    assert "outside" not in texts
    assert any("outside the repo" in p.message for p in loaded.problems) or not texts


def test_collection_yaml_is_validated(repo: RepoBuilder) -> None:  # noqa: F811
    repo.persona("docs", PERSONA)
    repo.write("knowledge/col_docs/a.md", "alpha")
    repo.write(
        "knowledge/col_docs/collection.yaml",
        (DATA / "bad" / "knowledge" / "collection_bad.yaml").read_text(),
    )
    messages = _messages(_problems(repo.root, remote_catalogue=False))
    assert "knowledge/col_docs/collection.yaml:3:1: unknown key 'search'" in messages
    assert any(
        m.startswith("knowledge/col_docs/collection.yaml:2:") and "overlap_chars" in m
        for m in messages
    )
    repo.write("knowledge/col_docs/collection.yaml", "name: [unclosed\n")
    assert any(
        m.startswith("knowledge/col_docs/collection.yaml:") for m in _messages(_problems(repo.root))
    )
    repo.write("knowledge/col_docs/collection.yaml", "- a list\n")
    assert any("must be a mapping" in m for m in _messages(_problems(repo.root)))


def test_caps_on_documents_per_folder_and_total_bytes(repo: RepoBuilder) -> None:  # noqa: F811
    repo.write(
        "personas.toml",
        '[repo]\nid = "t/r"\ntenant = "acme"\n'
        "[knowledge]\nmax_documents = 2\nmax_total_bytes = 10\n",
    )
    for name in ("a", "b", "c"):
        repo.write(f"knowledge/col_many/{name}.md", "x")
    repo.write("knowledge/col_zbig/a.md", "0123456789ABC")
    messages = _messages(_problems(repo.root))
    assert any("3 documents; the limit is 2 per folder" in m for m in messages)
    assert any("max_total_bytes" in m for m in messages)


def test_missing_folders_warn_only_for_the_embedded_catalogue(repo: RepoBuilder) -> None:  # noqa: F811
    repo.persona("docs", PERSONA)
    repo.write("knowledge/col_docs/a.md", "alpha")
    repo.write("knowledge/stray.md", "not in a folder")
    embedded = _problems(repo.root, remote_catalogue=False)
    warnings = [str(p) for p in embedded if p.severity == "warning"]
    assert warnings == [
        "knowledge/stray.md: warning: documents belong in a source folder "
        "(knowledge/<source_id>/); not indexed",
        "personas/docs.yaml:3:1: warning: source scaidrive 'shr_missing' has no folder "
        "knowledge/shr_missing/; the embedded catalogue has nothing to retrieve from it",
    ]  # the disabled col_off is not searched, so its missing folder is no concern
    remote = _problems(repo.root, remote_catalogue=True)
    assert not any("shr_missing" in p.message for p in remote)


def test_a_declared_type_that_disagrees_with_the_persona_warns(repo: RepoBuilder) -> None:  # noqa: F811
    repo.persona("docs", PERSONA)
    repo.write("knowledge/col_docs/a.md", "alpha")
    repo.write("knowledge/col_docs/collection.yaml", "type: scaidrive\n")
    repo.write("knowledge/shr_missing/a.md", "alpha")
    messages = _messages(_problems(repo.root, remote_catalogue=False))
    assert any(
        "declares type scaidrive, so it is not indexed as a collection" in m for m in messages
    )


@pytest.mark.parametrize("name", ["col_ok", "shr-ok.v2"])
def test_folder_names_are_source_ids(repo: RepoBuilder, name: str) -> None:  # noqa: F811
    repo.write(f"knowledge/{name}/a.md", "alpha")
    assert name in load_repo(repo.root).knowledge

"""Prompt files and avatars: found, inside the repo, bounded, and of the right kind."""

from __future__ import annotations

import os
import struct
import zlib

import pytest
from personas_as_code.loader.repo import load_repo

from tests.repos import MINIMAL, RepoBuilder


def png_bytes(extra: int = 0) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0\0\0\0\0"))
    padding = chunk(b"tEXt", b"c\0" + b"x" * extra) if extra else b""
    return b"\x89PNG\r\n\x1a\n" + body + padding + chunk(b"IEND", b"")


def problems_of(repo: RepoBuilder) -> list[str]:
    return [str(p) for p in load_repo(repo.root).problems]


def test_prompt_file_is_loaded(repo: RepoBuilder) -> None:
    repo.write("personas/prompts/p.md", "You are P.\n")
    repo.persona("p", MINIMAL + "system_prompt_file: prompts/p.md\n")
    loaded = load_repo(repo.root)
    assert loaded.ok
    assert loaded.personas["p"].system_prompt == "You are P.\n"
    assert loaded.personas["p"].referenced_files == ("personas/p.yaml", "personas/prompts/p.md")


@pytest.mark.parametrize(
    ("reference", "fragment"),
    [
        ("prompts/missing.md", "'prompts/missing.md' not found"),
        ("../../outside.md", "points outside the repo"),
        ("/etc/passwd", "absolute path '/etc/passwd' is not allowed"),
    ],
)
def test_bad_prompt_reference(repo: RepoBuilder, reference: str, fragment: str) -> None:
    repo.persona("p", MINIMAL + f"system_prompt_file: {reference}\n")
    (problem,) = problems_of(repo)
    assert problem.startswith("personas/p.yaml:3:")
    assert fragment in problem


def test_symlink_escaping_the_repo_is_refused(repo: RepoBuilder, tmp_path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("top secret")
    (repo.root / "personas" / "prompts").mkdir()
    os.symlink(secret, repo.root / "personas" / "prompts" / "p.md")
    repo.persona("p", MINIMAL + "system_prompt_file: prompts/p.md\n")
    (problem,) = problems_of(repo)
    assert "resolves outside the repo" in problem


def test_symlink_inside_the_repo_is_allowed(repo: RepoBuilder) -> None:
    repo.write("shared/p.md", "shared prompt")
    (repo.root / "personas" / "prompts").mkdir()
    os.symlink(repo.root / "shared" / "p.md", repo.root / "personas" / "prompts" / "p.md")
    repo.persona("p", MINIMAL + "system_prompt_file: prompts/p.md\n")
    assert load_repo(repo.root).personas["p"].system_prompt == "shared prompt"


def test_prompt_file_too_large(repo: RepoBuilder) -> None:
    repo.write("personas/prompts/p.md", "x" * (256 * 1024 + 1))
    repo.persona("p", MINIMAL + "system_prompt_file: prompts/p.md\n")
    (problem,) = problems_of(repo)
    assert "the limit is 262,144 bytes" in problem


def test_png_avatar_is_loaded_with_hash(repo: RepoBuilder) -> None:
    repo.write("personas/avatars/p.png", png_bytes())
    repo.persona("p", MINIMAL + "avatar: avatars/p.png\n")
    avatar = load_repo(repo.root).personas["p"].avatar
    assert avatar is not None and avatar.mime == "image/png" and len(avatar.sha256) == 64


SVG_OK = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><circle r="1"/></svg>'


@pytest.mark.parametrize(
    ("file", "content", "fragment"),
    [
        ("missing.png", None, "avatar 'avatars/missing.png' not found"),
        ("big.png", png_bytes(extra=2 * 1024 * 1024), "the limit is 2,097,152 bytes"),
        ("a.bmp", b"BM" + b"\0" * 50, "avatar type '.bmp' is not allowed"),
        (
            "jpeg.png",
            b"\xff\xd8\xff\xe0" + b"\0" * 40,
            "declared as image/png but its bytes are image/jpeg",
        ),
        ("text.gif", b"hello world", "its bytes are not a recognised image"),
        (
            "script.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "<script> element",
        ),
        (
            "onload.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="1"/></svg>',
            "event handler attribute 'onload'",
        ),
        (
            "foreign.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p>x</p></foreignObject></svg>',
            "<foreignObject> element",
        ),
        (
            "external.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
            b'<image xlink:href="https://evil.example/x.png"/></svg>',
            "references an external resource",
        ),
        (
            "entity.svg",
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]>'
            b'<svg xmlns="http://www.w3.org/2000/svg"><text>&a;</text></svg>',
            "declares a DTD or entities",
        ),
        (
            "css.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><style>@import url(https://x.example/a.css);'
            b"</style></svg>",
            "loads an external resource",
        ),
    ],
)
def test_bad_avatar(repo: RepoBuilder, file: str, content: bytes | None, fragment: str) -> None:
    if content is not None:
        repo.write(f"personas/avatars/{file}", content)
    repo.persona("p", MINIMAL + f"avatar: avatars/{file}\n")
    (problem,) = problems_of(repo)
    assert problem.startswith("personas/p.yaml:3:"), problem
    assert fragment in problem


def test_safe_svg_with_internal_reference_is_accepted(repo: RepoBuilder) -> None:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        b'<defs><circle id="c" r="1"/></defs><use xlink:href="#c"/></svg>'
    )
    repo.write("personas/avatars/ok.svg", svg)
    repo.persona("p", MINIMAL + "avatar: avatars/ok.svg\n")
    loaded = load_repo(repo.root)
    assert loaded.ok and loaded.personas["p"].avatar.mime == "image/svg+xml"


def test_avatar_outside_repo(repo: RepoBuilder) -> None:
    repo.persona("p", MINIMAL + "avatar: ../../../x.png\n")
    (problem,) = problems_of(repo)
    assert "points outside the repo" in problem

"""A draft patch reads the persona file once and parses it once with the bounded parser
(which refuses a hostile file before the round-trip editor sees it)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from personas_as_code.application.service import PersonaService
from personas_as_code.application.yaml_edit import PatchSpec
from personas_as_code.schemas.errors import DraftError
from personas_as_code.untrusted.yaml import parse_yaml


def _count_parses(monkeypatch: pytest.MonkeyPatch, text: bytes) -> list[bytes]:
    seen: list[bytes] = []

    def counted(raw: bytes, path: str) -> Any:
        if raw == text:
            seen.append(raw)
        return parse_yaml(raw, path)

    for name, module in list(sys.modules.items()):
        if name.startswith("personas_as_code.application") and (
            getattr(module, "parse_yaml", None) is parse_yaml
        ):
            monkeypatch.setattr(module, "parse_yaml", counted)
    return seen


@pytest.mark.parametrize(
    ("slug", "fields"),
    [
        ("translator", {"description": "Shorter."}),
        ("onboarding-coach", {"description": "Shorter."}),
        ("onboarding-coach", {"system_prompt": "Be brief."}),  # goes to its prompt file
    ],
)
def test_a_patch_parses_the_persona_file_once(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch, slug: str, fields: dict[str, str]
) -> None:
    service = PersonaService(git_repo)
    text = (git_repo / service.get_persona(slug).path).read_bytes()
    seen = _count_parses(monkeypatch, text)
    result = service.patch_draft(slug, PatchSpec(set=dict(fields)))
    assert result.valid and len(seen) == 1


def test_a_file_the_bounded_parser_refuses_is_not_edited(git_repo: Path) -> None:
    service = PersonaService(git_repo)
    path = git_repo / service.get_persona("translator").path
    path.write_text("name: T\nmodel: m\n" + "x: " + "[" * 200 + "]" * 200 + "\n")
    service.store().repo.git.commit("-qam", "deep")
    with pytest.raises(DraftError, match="cannot be edited"):
        service.patch_draft("translator", PatchSpec(set={"description": "d"}))

"""Issue 20: every Python ``re`` check of a caller's identifier accepts nothing after it.

``$`` in Python also matches before a final newline, so ``"x\\n"`` passed as a slug,
a draft id, an export file name, an unset path and an HTTP header name or value."""

from __future__ import annotations

from pathlib import Path

import pytest
from personas_as_code.application.draft_patch import check_patch
from personas_as_code.application.export import write_export
from personas_as_code.application.ids import InvalidInput, check_draft_id, check_slug
from personas_as_code.application.yaml_edit import PatchSpec
from personas_as_code.schemas.simulated_user import header_problems


@pytest.mark.parametrize("slug", ["x\n", "a-b\n", "ok\n\n"])
def test_check_slug_refuses_a_trailing_newline(slug: str) -> None:
    assert check_slug(slug.rstrip("\n")) == slug.rstrip("\n")
    with pytest.raises(InvalidInput, match="invalid slug"):
        check_slug(slug)


def test_a_draft_id_with_a_trailing_newline_is_refused() -> None:
    assert check_draft_id("abcdefgh") == "abcdefgh"
    with pytest.raises(InvalidInput, match="invalid draft id"):
        check_draft_id("abcdefgh\n")


def test_an_export_file_name_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="invalid file name"):
        write_export(tmp_path, [], "csv", "out.csv\n")
    assert not (tmp_path / ".personas").exists()


def test_an_unset_path_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(InvalidInput, match="invalid unset path"):
        check_patch(PatchSpec(unset=["rag.min_score\n"]))


def test_a_header_name_or_value_with_a_trailing_newline_is_refused() -> None:
    assert header_problems({"X-Team": "support"}) == []
    (name_problem,) = header_problems({"X-Team\n": "support"})
    assert "is not an HTTP token" in name_problem[1]
    (value_problem,) = header_problems({"X-Team": "support\n"})
    assert "no line breaks" in value_problem[1]

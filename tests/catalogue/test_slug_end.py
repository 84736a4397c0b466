"""Issue 20: the REST API refuses a slug with a newline after it (the one ``Slug`` type)."""

from __future__ import annotations

import pytest

from tests.catalogue.conftest import Rest
from tests.catalogue.test_rest import BODY, P, assert_error, create


@pytest.mark.parametrize("slug", ["x\n", "x\r\n", "nl\n\n"])
def test_a_slug_with_a_trailing_newline_is_refused(rest: Rest, slug: str) -> None:
    resp = rest.client.post(f"{P}/personas", json={**BODY, "slug": slug}, headers=rest.auth())
    assert "slug" in assert_error(resp, 400, "VALIDATION_ERROR")["details"]["fields"]
    persona = create(rest, slug="x")
    resp = rest.client.put(
        f"{P}/personas/{persona['id']}", json={"slug": slug}, headers=rest.auth()
    )
    assert "slug" in assert_error(resp, 400, "VALIDATION_ERROR")["details"]["fields"]

"""Fixtures of the inference tests: the OpenAI-compatible test server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.inference.upstream import Upstream, serve_upstream


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    """A fresh OpenAI-compatible server (its own call log) on a loopback port."""
    with serve_upstream() as server:
        yield server

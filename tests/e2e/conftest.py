"""Fixtures for these tests."""

from tests.repos import example_repo, repo  # noqa: F401

"""Names of persona tests files (``<slug>.tests.yaml``): plain string checks.

Kept apart from ``schemas.persona_tests`` (the file's pydantic models) so that
telling a tests file from a persona file imports no models.
"""

from __future__ import annotations

TESTS_SUFFIXES = (".tests.yaml", ".tests.yml")


def is_tests_file(path: str) -> bool:
    """True for a persona tests file (``<slug>.tests.yaml``), which is not a persona file."""
    return path.endswith(TESTS_SUFFIXES)


def tests_slug(path: str) -> str:
    """The persona slug a tests file is about: its name less ``.tests.yaml``."""
    name = path.rsplit("/", 1)[-1]
    for suffix in TESTS_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name

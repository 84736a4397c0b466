"""The containers ``Repo`` holds for test personas and persona tests files.

Plain dataclasses, apart from their loaders (``loader.simulated_users``,
``loader.persona_tests``) and the pydantic models those load, so that a repo
without such files is loaded without importing either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from personas_as_code.schemas.problems import Problem

if TYPE_CHECKING:
    from personas_as_code.loader.persona_tests import LoadedPersonaTests
    from personas_as_code.loader.simulated_users import LoadedSimulatedUser


@dataclass
class SimulatedUserFiles:
    """The test personas of a repo: valid ones by slug, every file, and the problems."""

    personas: dict[str, LoadedSimulatedUser] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class PersonaTestsFiles:
    """The tests files of a repo: valid ones by persona slug, every file, the problems."""

    by_slug: dict[str, LoadedPersonaTests] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

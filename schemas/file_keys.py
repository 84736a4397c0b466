"""What each top-level key of a persona file is to the rest of the house, and what is
derived from it: the MCP draft tool's arguments, the order of a file's keys and the
columns of ``personas export``.

The file model (``schemas.persona.PersonaFile``) declares a ``FileKey`` beside each key
(``Annotated[type, FileKey(...)]``); this module holds those declarations' types and
reads them back off the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

from pydantic import Field

if TYPE_CHECKING:
    from personas_as_code.schemas.persona import PersonaFile

Cell = str | int | float | bool
DraftHow = Literal["set", "merge", "sources"]


class Draft:
    """How the draft tool (``patch_persona_draft``) takes a top-level key: the argument's
    type (made optional there: null leaves the key as it is), its limits and description
    (``Field`` keywords), and ``how`` the value is written: ``set`` replaces the key,
    ``merge`` merges an object into it, ``sources`` replaces the list of sources."""

    __slots__ = ("how", "limits", "type")

    def __init__(self, type_: Any, how: DraftHow = "set", **limits: Any) -> None:
        self.type = type_
        self.how = how
        self.limits = limits

    def argument(self) -> Any:
        """The tool argument's annotation."""
        return Annotated[self.type | None, Field(default=None, **self.limits)]


class ExportedPersona(Protocol):
    """What an export column reads: the file and what loading it resolved
    (``loader.repo.LoadedPersona``)."""

    @property
    def slug(self) -> str: ...
    @property
    def spec(self) -> PersonaFile: ...
    @property
    def system_prompt(self) -> str: ...
    @property
    def prompt_path(self) -> str | None: ...


@dataclass(frozen=True)
class Column:
    """A column of ``personas export``: its name, how its cell is read and, when it is
    not in declaration order, the column it follows (``""``: it comes first)."""

    name: str
    cell: Callable[[ExportedPersona], Cell]
    after: str | None = None


@dataclass(frozen=True)
class FileKey:
    """What a top-level key of a persona file is to the rest of the house, declared
    beside the key (``Annotated[type, FileKey(...)]``) so that adding a key is one edit.

    ``api``: the catalogue API fields the key maps to (``catalogue.persona_mapping``
    holds the mapping; empty for a key the API does not hold as a persona field).
    ``draft``: the draft tool's argument for it, or None when a draft cannot set it.
    ``export``: its columns in ``personas export`` (``()``: none).
    ``after``: the key a draft inserts it after, when not in declaration order.
    """

    api: tuple[str, ...]
    draft: Draft | None
    export: tuple[Column, ...]
    after: str | None = None


def ordered(entries: Sequence[tuple[str, str | None]]) -> tuple[str, ...]:
    """Names in declaration order, except that one with an ``after`` follows that name
    (``""``: comes first)."""
    order = [name for name, after in entries if after is None]
    pending = [(name, after) for name, after in entries if after is not None]
    while pending:
        ready = next(((n, a) for n, a in pending if a == "" or a in order), None)
        if ready is None:
            raise ValueError(f"'after' names no known key: {pending}")
        name, after = ready
        order.insert(0 if after == "" else order.index(after) + 1, name)
        pending.remove(ready)
    return tuple(order)

"""What ``personas apply`` prints while it applies: each persona's line as it is done.

Personas are applied several at once and finish in any order; the report lists them by
slug.  Each persona's line is printed as soon as every persona before it (by slug) is
done, so a CI log follows the apply step by step and the output is the same bytes as
the report printed at the end (nothing twice, nothing reordered).  On a terminal,
stderr also shows a progress bar.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from personas_as_code.cli.common import wants_colour, write_lines
from personas_as_code.sync.render.literal import StyledLine, visible

if TYPE_CHECKING:
    from personas_as_code.sync.apply import ApplyResult
    from personas_as_code.sync.section import PersonaResult


class PersonaLines:
    """Prints each persona's result line in slug order as soon as it can."""

    def __init__(
        self, slugs: Iterable[str], *, show: bool, advance: Callable[[], object] = lambda: None
    ) -> None:
        self.order = sorted(set(slugs))
        self.show = show
        self.advance = advance
        self.done: dict[str, PersonaResult] = {}
        self.printed: list[str] = []
        self.indexed: Callable[[str, int], None] = lambda label, count: None
        """A knowledge source is indexed (its label, the documents written)."""
        self._next = 0
        self._lock = threading.Lock()

    def __call__(self, result: PersonaResult) -> None:
        """One persona (or test persona) is done: print what is now in order."""
        from personas_as_code.sync.render.outcomes import persona_lines

        self.advance()
        if not self.show:
            return
        with self._lock:
            if result.slug in self.done or self._next >= len(self.order):
                return  # a test persona, after every persona
            self.done[result.slug] = result
            ready = []
            while self._next < len(self.order) and self.order[self._next] in self.done:
                ready.append(self.done[self.order[self._next]])
                self._next += 1
            lines = list(persona_lines(ready, []))
            self.printed += [line.text for line in lines]
            write_lines(lines)

    def rest(self, result: ApplyResult) -> list[StyledLine]:
        """The report's lines not printed yet."""
        printed = Counter(self.printed)
        rest = []
        for line in result.lines():
            if printed[line.text]:
                printed[line.text] -= 1
            else:
                rest.append(line)
        return rest


@contextmanager
def applying(
    total: int, persona_slugs: Iterable[str], *, documents: int = 0, stream: bool
) -> Iterator[PersonaLines]:
    """While apply runs: on a terminal's stderr, a progress bar for the personas (10 or
    more) and one for the knowledge documents to index (advanced as each source is done,
    ``PersonaLines.indexed``); and the personas' lines as they are done (``stream``: text
    output).  Not on a terminal, nothing but those lines."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import Progress

    show_progress = sys.stderr.isatty() and (total >= 10 or documents > 0)
    colour = wants_colour(sys.stderr)
    console = Console(stderr=True, no_color=not colour) if show_progress else None
    with Progress(console=console, transient=True, disable=not show_progress) as progress:
        task = progress.add_task("applying", total=total, visible=total >= 10)
        knowledge = progress.add_task("indexing knowledge", total=documents, visible=documents > 0)

        def indexed(label: str, count: int) -> None:
            name = escape(visible(label))  # a source id is user text, not markup
            progress.update(knowledge, advance=count, description=f"indexed {name}")
            progress.refresh()  # once per source: shown even between two auto-refreshes

        if show_progress:
            progress.refresh()  # the bars as soon as they exist, however short the apply

        lines = PersonaLines(persona_slugs, show=stream, advance=lambda: progress.advance(task))
        lines.indexed = indexed
        yield lines

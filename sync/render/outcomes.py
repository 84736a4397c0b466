"""What apply did, section by section, as the lines ``personas apply`` prints."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from personas_as_code.sync.render.literal import StyledLine, one_line

if TYPE_CHECKING:
    from personas_as_code.sync.backends import BackendOutcome
    from personas_as_code.sync.knowledge import KnowledgeOutcome
    from personas_as_code.sync.section import PersonaResult


def persona_lines(
    results: Sequence[PersonaResult], warnings: Sequence[str]
) -> Iterator[StyledLine]:
    """One line per persona, then apply's warnings."""
    for r in results:
        if r.ok:
            yield StyledLine(f"ok      {r.slug}: {r.action} ({', '.join(r.done)})")
        else:
            done = f" after {', '.join(r.done)}" if r.done else ""
            text = f"FAILED  {r.slug}: {r.action}{done}: {r.error_code}: {r.error}"
            yield StyledLine(one_line(text), "red")
    for warning in warnings:
        yield StyledLine(one_line(f"warning: {warning}"), "yellow")


def persona_closing(results: Sequence[PersonaResult]) -> Iterator[StyledLine]:
    """``Apply complete: 3 persona(s) applied, 0 failed.``"""
    ok = sum(1 for r in results if r.ok)
    yield StyledLine(f"Apply complete: {ok} persona(s) applied, {len(results) - ok} failed.")


def knowledge_lines(k: KnowledgeOutcome | None) -> Iterator[StyledLine]:
    """The sources indexed and the totals, or the failure."""
    if k is None:
        return
    for line in k.lines:
        yield StyledLine(one_line(f"ok      knowledge {line}"))
    if k.ok:
        stored = (
            f", {k.documents_from_store} from .personas/knowledge" if k.documents_from_store else ""
        )
        yield StyledLine(
            f"Knowledge indexed: {k.documents_embedded} document(s) embedded "
            f"({k.chunks_embedded} chunks){stored}, {k.documents_deleted} removed."
        )
    else:
        yield StyledLine(one_line(f"FAILED  knowledge: {k.error_code}: {k.error}"), "red")


def backend_lines(b: BackendOutcome | None) -> Iterator[StyledLine]:
    """The backend models configured, or the failure."""
    if b is None:
        return
    for line in b.lines:
        yield StyledLine(one_line(f"ok      backend {line}"))
    if not b.ok:
        yield StyledLine(one_line(f"FAILED  backends: {b.error_code}: {b.error}"), "red")


def simulated_user_lines(results: Sequence[PersonaResult]) -> Iterator[StyledLine]:
    """One line per test persona, then their totals."""
    for r in results:
        if r.ok:
            yield StyledLine(one_line(f"ok      test persona {r.slug}: {r.action}"))
        else:
            text = f"FAILED  test persona {r.slug}: {r.action}: {r.error_code}: {r.error}"
            yield StyledLine(one_line(text), "red")
    if results:
        done = sum(1 for r in results if r.ok)
        yield StyledLine(f"Test personas: {done} applied, {len(results) - done} failed.")

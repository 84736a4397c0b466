"""``personas test`` for people: the note that no model was called (when so) first, one
line per case, the failed and unchecked checks under it, a summary.

Lines are ``StyledLine``s for ``cli.common.write_lines``, which prints user text
literally (control characters made visible) and colours only on a terminal.  The
report is redacted first: no credential in an answer or a message is printed.
"""

from __future__ import annotations

from collections.abc import Iterator

from personas_as_code.persona_tests.report import CaseResult, PersonaTestReport
from personas_as_code.sync.render.literal import StyledLine, one_line
from personas_as_code.untrusted.secrets import redact

ANSWER_LINES = 12
_MARK = {
    "passed": "PASS",
    "failed": "FAIL",
    "skipped": "SKIP",
    "error": "ERROR",
    "untested": "UNTESTED",
}
_STYLE = {
    "passed": "green",
    "failed": "red",
    "skipped": "yellow",
    "error": "bold red",
    "untested": "yellow",
}
_CHANGE = {"pass->fail": "pass→fail", "fail->pass": "fail→pass"}


def case_line(result: CaseResult) -> StyledLine:
    """The one line of a case (also the progress line)."""
    took = f" ({result.latency_ms} ms)" if result.latency_ms is not None else ""
    change = _CHANGE.get(result.change or "")
    tag = f"  [{change} since baseline]" if change else ""
    name = one_line(redact(result.case))
    text = f"{_MARK[result.status]:5} {result.persona} / {name}{took}{tag}"
    return StyledLine(text, _STYLE[result.status])


def summary(report: PersonaTestReport) -> str:
    """The counts, and the baseline's regressions and fixes when one ran."""
    text = (
        f"{report.count('passed')} passed, {report.count('failed')} failed, "
        f"{report.count('untested')} untested, {report.count('skipped')} skipped, "
        f"{report.count('error')} errors."
    )
    if report.baseline_ref is not None:
        fixed = sum(1 for r in report.results if r.change == "fail->pass")
        text += (
            f" Against {redact(report.baseline_ref)}: {len(report.regressions)} pass→fail, "
            f"{fixed} fail→pass."
        )
    if report.environment:
        text = f"Environment {report.environment}: {text}"
    return text


def text_lines(report: PersonaTestReport) -> Iterator[StyledLine]:
    """The whole text report."""
    report = report.redacted()
    if report.model_note:
        yield StyledLine(report.model_note, "bold yellow")
    for result in report.results:
        yield case_line(result)
        if result.error:
            yield StyledLine(f"      {one_line(result.error)}", "red")
        for check in result.assertions:
            if check.passed is False:
                yield StyledLine(f"      ✗ {check.kind}: {one_line(check.message)}", "red")
            elif check.passed is None:
                yield StyledLine(f"      - {check.kind}: {one_line(check.message)}", "yellow")
        if result.status == "failed":
            yield StyledLine(f"      at {result.path}:{result.line}; the answer began:", "dim")
            for line in result.answer.splitlines()[:ANSWER_LINES]:
                yield StyledLine(f"      | {line}", "dim")
    for note in report.notes:
        yield StyledLine(f"note: {one_line(note)}", "yellow")
    yield StyledLine(summary(report), "bold red" if report.exit_code else "green")

"""``personas test --format markdown``: the persona tests part of the pull-request comment.

It starts with the marker line ``<!-- personas-tests -->`` (the workflow puts it under
the plan in the same comment) and the heading; when the offline mirror answered a case,
line 4 is the note that no model was called (the action looks for it there); then a
summary, then per persona -- personas with regressions first -- a table of cases,
regressions (pass→fail) first, and for each failing case, and each case whose answer or
retrieval changed against the baseline, a collapsible ``<details>``: a diff of the
baseline's answer against this branch's, both answers in full, and the chunks each side
retrieved (source, path, chunk, score) side by side.

The report is redacted first (``PersonaTestReport.redacted``): no credential in an answer, a
retrieved chunk or a message reaches the comment.

All user text goes through ``sync.render.literal`` (``md_text`` inline, ``md_code`` in
cells, ``md_fence`` for answers and diffs), so no answer can close a fence, open an HTML
element or end the comment.  The output is bounded (``MAX_MARKDOWN_CHARS``; answers cut
at ``MAX_ANSWER_CHARS``), as the comment also holds the plan.
"""

from __future__ import annotations

import difflib
from itertools import groupby
from typing import Any

from personas_as_code.persona_tests.render_text import summary
from personas_as_code.persona_tests.report import UNTESTED_LABEL, CaseResult, PersonaTestReport
from personas_as_code.sync.render.literal import md_code, md_fence, md_text

MARKER = "<!-- personas-tests -->"
MAX_MARKDOWN_CHARS = 30_000
MAX_ANSWER_CHARS = 4_000
_ICON = {"passed": "✅", "failed": "❌", "skipped": "⏭️", "error": "💥", "untested": "⚪"}
_SHOWN = {"untested": UNTESTED_LABEL}
_CHANGE = {
    "pass->fail": "**pass→fail**",
    "fail->pass": "fail→pass",
    "same": "same",
    "new": "new persona",
    "removed": "case removed",
    "untested": "not compared (no model)",
}
_RANK = {"pass->fail": 0, "fail->pass": 2}
_STATUS_RANK = {"error": 1, "failed": 1, "untested": 3, "skipped": 3, "passed": 4}


def _rank(result: CaseResult) -> int:
    if result.change in _RANK:
        return _RANK[result.change or ""]
    return _STATUS_RANK[result.status]


def _cut(answer: str) -> list[str]:
    if len(answer) <= MAX_ANSWER_CHARS:
        return answer.splitlines()
    extra = len(answer) - MAX_ANSWER_CHARS
    return [*answer[:MAX_ANSWER_CHARS].splitlines(), f"[... {extra:,} more characters]"]


def _size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)


def _shown(status: str) -> str:
    return _SHOWN.get(status, status)


def _table(results: list[CaseResult], with_baseline: bool) -> list[str]:
    if with_baseline:
        lines = ["| | case | this branch | baseline | change |", "|---|---|---|---|---|"]
    else:
        lines = ["| | case | status | checks |", "|---|---|---|---|"]
    for r in results:
        checks = sum(a.passed is True for a in r.assertions)
        if with_baseline:
            base = _shown(r.baseline.status) if r.baseline else "—"
            change = _CHANGE.get(r.change or "", "—")
            lines.append(
                f"| {_ICON[r.status]} | {md_text(r.case)} | {_shown(r.status)} | {base} "
                f"| {change} |"
            )
        else:
            lines.append(
                f"| {_ICON[r.status]} | {md_text(r.case)} | {_shown(r.status)} | "
                f"{checks}/{len(r.assertions)} |"
            )
    return lines


def _compared(result: CaseResult) -> bool:
    """Whether a baseline ran the same case and both sides got an answer."""
    base = result.baseline
    return (
        base is not None
        and base.change not in ("new", "removed")
        and "error" not in (base.status, result.status)
    )


def _answer_changed(result: CaseResult) -> bool:
    """Whether the answer or the retrieved chunks differ from the baseline's."""
    base = result.baseline
    if base is None or not _compared(result):
        return False
    return base.answer != result.answer or list(base.retrieval) != list(result.retrieval)


def _chunk(ref: dict[str, Any]) -> str:
    """One retrieved chunk in a table cell: source, path, chunk and score."""
    source = f"{ref.get('source_type', '?')}:{ref.get('source_id', '?')}"
    score = ref.get("score")
    shown = f"{score:.3f}" if isinstance(score, int | float) else "—"
    return (
        f"{md_code(source)} {md_code(str(ref.get('document', '')))} "
        f"chunk {md_text(str(ref.get('chunk', '?')))}, score {shown}"
    )


def _retrieval_table(result: CaseResult) -> list[str]:
    """The chunks each side retrieved, side by side (row n: the n-th chunk sent)."""
    base = result.baseline
    assert base is not None
    before, after = list(base.retrieval), list(result.retrieval)
    if not before and not after:
        return ["", "Retrieved chunks: none on either side."]
    lines = ["", "Retrieved chunks:", "", "| # | baseline | this branch |", "|---:|---|---|"]
    for n in range(max(len(before), len(after))):
        left = _chunk(before[n]) if n < len(before) else "—"
        right = _chunk(after[n]) if n < len(after) else "—"
        lines.append(f"| {n + 1} | {left} | {right} |")
    return lines


def _details(result: CaseResult) -> list[str]:
    """The collapsible answers of a case that failed, errored or changed."""
    title = f"{md_text(result.case)}: {_shown(result.status)}"
    if result.change in ("pass->fail", "fail->pass"):
        title += f" ({result.change.replace('->', '→')})"
    elif _answer_changed(result):
        title += " (answer changed)"
    lines = ["<details>", f"<summary>{title}</summary>", ""]
    if result.error:
        lines += [f"Could not run: {md_code(result.error)}", ""]
    for check in result.assertions:
        if check.passed is False:
            lines.append(f"- ✗ `{check.kind}`: {md_text(check.message)}")
        elif check.status == "untested":
            lines.append(f"- ⚪ `{check.kind}`: {md_text(check.message)}")
        elif check.passed is None:
            lines.append(f"- skipped `{check.kind}`: {md_text(check.message)}")
    base = result.baseline
    if base is not None and base.answer and result.answer and base.answer != result.answer:
        diff = difflib.unified_diff(
            _cut(base.answer), _cut(result.answer), "baseline", "this branch", lineterm="", n=2
        )
        lines += ["", "Answer, baseline → this branch:", "", *md_fence(list(diff), "diff")]
        lines += ["", "Baseline answer:", "", *md_fence(_cut(base.answer))]
    if result.answer:
        lines += ["", "This branch's answer:", "", *md_fence(_cut(result.answer))]
    if _compared(result):
        lines += _retrieval_table(result)
    lines += ["", "</details>", ""]
    return lines


def markdown(report: PersonaTestReport) -> str:
    """The persona tests section of the PR comment."""
    report = report.redacted()
    with_baseline = report.baseline_ref is not None
    title = "### personas test"
    if report.environment:
        title += f": {md_code(report.environment)}"
    head = [MARKER, title, ""]
    if report.model_note:
        head += [f"> ⚠️ {md_text(report.model_note)}", ""]
    where = f" (baseline {md_code(report.baseline_ref or '')})" if with_baseline else ""
    head += [f"**{md_text(summary(report))}**{where}", ""]
    if not report.results:
        head.append("No persona test cases ran.")
    groups = [
        (persona, sorted(group, key=_rank))
        for persona, group in groupby(report.results, key=lambda r: r.persona)
    ]
    groups.sort(key=lambda g: min(_rank(r) for r in g[1]))
    body: list[str] = []
    used = 0  # characters of body
    for shown, (persona, results) in enumerate(groups):
        section = [f"#### {md_text(persona)}", "", *_table(results, with_baseline), ""]
        size = _size(section)
        hidden = 0
        for result in results:
            changed = result.change in ("pass->fail", "fail->pass") or _answer_changed(result)
            if result.status in ("failed", "error") or changed:
                details = _details(result)
                # every case with a changed answer has details: keep them within the bound
                if used + size + _size(details) > MAX_MARKDOWN_CHARS:
                    hidden += 1
                    continue
                section += details
                size += _size(details)
        if hidden:
            section += [f"*Details of {hidden} more case(s) not shown here: see the job log.*", ""]
        if used + size > MAX_MARKDOWN_CHARS and shown:
            left = len(groups) - shown
            body += [f"*{left} more persona(s) not shown here: see the job log.*", ""]
            break
        body += section
        used += size
    body += [md_text(note) for note in report.notes]
    return "\n".join(head + body).rstrip("\n") + "\n"

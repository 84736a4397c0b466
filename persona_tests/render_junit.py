"""``personas test --format junit``: JUnit XML for CI test tabs.

One ``testsuite`` per persona, one ``testcase`` per case (``classname`` the persona),
with ``failure``, ``skipped`` or ``error`` elements and the answer in ``system-out``.
JUnit has no state for "no model was called": such a case is ``<skipped message="not
tested: no model was called"/>``, and every suite's ``properties`` say whether a model
answered (``personas.model_called``), how many of its cases were not tested
(``personas.untested``) and the report's note (``personas.note``).  The report is
redacted first: no credential reaches the XML.
User text is escaped by the XML writer; characters XML 1.0 cannot hold (control
characters, lone surrogates) are shown as escapes first, so the document always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import groupby

from personas_as_code.persona_tests.report import (
    MIRROR,
    UNTESTED_LABEL,
    CaseResult,
    PersonaTestReport,
)
from personas_as_code.sync.render.literal import visible

_NOT_XML = re.compile("[\ufffe\uffff\ud800-\udfff]")


def xml_text(text: str) -> str:
    """``text`` as characters XML 1.0 can hold (controls and surrogates made visible)."""
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", visible(text))


def _seconds(result: CaseResult) -> str:
    return f"{(result.latency_ms or 0) / 1000:.3f}"


def _testcase(result: CaseResult) -> ET.Element:
    case = ET.Element(
        "testcase",
        classname=xml_text(result.persona),
        name=xml_text(result.case),
        time=_seconds(result),
        file=xml_text(result.path),
        line=str(result.line),
    )
    failed = [a for a in result.assertions if a.passed is False]
    if result.status == "error":
        error = ET.SubElement(case, "error", message=xml_text(result.error or "could not run"))
        error.text = xml_text(result.error or "")
    elif result.status == "failed":
        first = failed[0]
        failure = ET.SubElement(
            case, "failure", message=xml_text(f"{first.kind}: {first.message}"), type=first.kind
        )
        failure.text = xml_text("\n".join(f"{a.kind}: {a.message}" for a in failed))
    elif result.status == "untested":
        ET.SubElement(case, "skipped", message=UNTESTED_LABEL)
    elif result.status == "skipped":
        reasons = "; ".join(f"{a.kind}: {a.message}" for a in result.assertions)
        ET.SubElement(case, "skipped", message=xml_text(reasons or "skipped"))
    if result.answer:
        ET.SubElement(case, "system-out").text = xml_text(result.answer)
    return case


def _properties(suite: ET.Element, report: PersonaTestReport, results: list[CaseResult]) -> None:
    """Whether a model answered this suite's cases, how many were not tested, the note."""
    called = any(p != MIRROR for r in results for p in r.answered_by)
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("personas.model_called", "true" if called else "false"),
        ("personas.untested", str(sum(r.status == "untested" for r in results))),
        ("personas.note", xml_text(report.model_note or "")),
    ):
        ET.SubElement(properties, "property", name=name, value=value)


def junit_xml(report: PersonaTestReport) -> str:
    """The report as a JUnit XML document."""
    report = report.redacted()
    root = ET.Element("testsuites", name="personas test")
    for persona, group in groupby(report.results, key=lambda r: r.persona):
        results = list(group)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=xml_text(persona),
            tests=str(len(results)),
            failures=str(sum(r.status == "failed" for r in results)),
            errors=str(sum(r.status == "error" for r in results)),
            skipped=str(sum(r.status in ("skipped", "untested") for r in results)),
            time=f"{sum((r.latency_ms or 0) for r in results) / 1000:.3f}",
        )
        _properties(suite, report, results)
        suite.extend(_testcase(r) for r in results)
    for key, status in (("tests", None), ("failures", "failed"), ("errors", "error")):
        count = len(report.results) if status is None else report.count(status)  # type: ignore[arg-type]
        root.set(key, str(count))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

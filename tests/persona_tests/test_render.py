"""The report formats: the PR comment's structure and its escaping of hostile answers and
names, the JUnit XML parsed by a real JUnit parser, the JSON shape, the text lines; the
note that no model was called at the top of each, untested cases counted apart, secrets
redacted everywhere, and backslashes kept literally in markdown."""

from __future__ import annotations

import json
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped
from personas_as_code.persona_tests.render_junit import junit_xml
from personas_as_code.persona_tests.render_markdown import MARKER, MAX_MARKDOWN_CHARS, markdown
from personas_as_code.persona_tests.render_text import text_lines
from personas_as_code.persona_tests.report import (
    NO_MODEL,
    AssertionResult,
    BaselineResult,
    CaseResult,
    PersonaTestReport,
)

from tests.snapshots import assert_snapshot

SNAPSHOT = Path(__file__).parent / "snapshots" / "report.md"
HOSTILE = (
    "```\n</details>\n<!-- end -->\n<img src=x onerror=alert(1)> @everyone **bold** "
    "| pipe |\n\x1b[31mred\x1b[0m \u202eevil\x00 ~~~\n````"
)


def hostile_report() -> PersonaTestReport:
    ok = AssertionResult("contains", True, "contains 'reset'")
    bad = AssertionResult("contains", False, "does not contain '<b>x</b>'")
    skip = AssertionResult("llm_rubric", None, "skipped: no judge model is configured")
    untested = AssertionResult("contains", None, NO_MODEL, no_model=True)
    cited = AssertionResult("cites", True, "a chunk of source 'col_x' reached the answer")
    return PersonaTestReport(
        results=[
            CaseResult("alpha", "fine", "passed", "all good", (ok,), 10, answered_by=("openai",)),
            CaseResult(
                "alpha",
                "echoed",
                "untested",
                "[mirror backend ...]",
                (untested, cited),
                3,
                answered_by=("mirror",),
            ),
            CaseResult(
                "beta",
                "<script>alert(1)</script> | `tick`",
                "failed",
                HOSTILE,
                (ok, bad),
                20,
                path="personas/beta.tests.yaml",
                line=3,
                baseline=BaselineResult("passed", "was fine\n```\nstill", "pass->fail", (ok,)),
                answered_by=("openai",),
            ),
            CaseResult("beta", "rubric", "skipped", "x", (skip,), 5, answered_by=("openai",)),
            CaseResult(
                "beta", "down", "error", "", (), None, error="BACKEND_UNAVAILABLE: \x1b[2Jgone"
            ),
        ],
        baseline_ref="main",
    )


def test_markdown_structure_and_snapshot() -> None:
    comment = markdown(hostile_report())
    lines = comment.splitlines()
    assert lines[:2] == [MARKER, "### personas test"]
    # the note that no model was called comes first (line 4: the action looks there)
    assert lines[3].startswith("> ⚠️ No model was called for 1 of 4 case\\(s\\)\\: answered")
    assert lines[5].startswith("**1 passed, 1 failed, 1 untested, 1 skipped, 1 errors.")
    # the persona with the regression first, its regression first in the table
    headings = [line for line in lines if line.startswith("#### ")]
    assert headings == ["#### beta", "#### alpha"]
    assert "| ⚪ | echoed | not tested: no model was called | — | — |" in lines
    rows = [line for line in lines if line.startswith("| ") and "case" not in line]
    assert "**pass→fail**" in rows[0]
    assert_snapshot(SNAPSHOT, comment, "the markdown test report")


def test_hostile_text_cannot_break_out_of_the_comment() -> None:
    comment = markdown(hostile_report())
    outside, inside, fence = [], [], None
    for line in comment.splitlines():
        if fence is None and line.startswith("```"):
            fence = line.removesuffix("diff")
            continue
        if fence is not None and line == fence:
            fence = None
            continue
        (inside if fence else outside).append(line)
    assert fence is None  # every fence closed by its own closing line
    prose = "\n".join(outside)
    assert "<script>" not in prose and "&lt;script&gt;" in prose
    assert "<img" not in prose and "<b>" not in prose
    assert "@everyone" not in prose
    assert prose.count("<details>") == prose.count("</details>") == 2
    assert "\x1b" not in comment and "\u202e" not in comment and "\x00" not in comment
    assert "\\x1b[2J" in comment  # the error is shown, made visible
    # the answer is inside a fence longer than its longest backtick run
    assert "````" in "\n".join(inside)
    assert any(line.startswith("`````") for line in comment.splitlines())


def test_junit_parses_with_a_real_parser() -> None:
    xml = junit_xml(hostile_report())
    suites = {s.name: s for s in JUnitXml.fromstring(xml)}
    assert set(suites) == {"alpha", "beta"}
    beta = suites["beta"]
    assert (beta.tests, beta.failures, beta.errors, beta.skipped) == (3, 1, 1, 1)
    alpha = suites["alpha"]
    assert (alpha.tests, alpha.failures, alpha.skipped) == (2, 0, 1)
    echoed = next(c for c in alpha if c.name == "echoed")
    (skipped,) = echoed.result
    assert isinstance(skipped, Skipped) and skipped.message == "not tested: no model was called"
    properties = {p.name: p.value for p in alpha.properties()}
    assert properties["personas.untested"] == "1" and properties["personas.model_called"] == "true"
    assert properties["personas.note"].startswith("No model was called for 1 of 4 case(s)")
    beta_properties = {p.name: p.value for p in beta.properties()}
    assert beta_properties["personas.untested"] == "0"
    cases = {c.name: c for c in beta}
    hostile = cases["<script>alert(1)</script> | `tick`"]
    assert hostile.classname == "beta"
    (failure,) = hostile.result
    assert isinstance(failure, Failure) and "<b>x</b>" in failure.message
    assert "\\x1b[31mred" in hostile.system_out and "</details>" in hostile.system_out
    assert isinstance(cases["rubric"].result[0], Skipped)
    (error,) = cases["down"].result
    assert isinstance(error, Error) and error.message == "BACKEND_UNAVAILABLE: \\x1b[2Jgone"
    assert next(iter(suites["alpha"])).is_passed


def test_json_shape() -> None:
    data = json.loads(json.dumps(hostile_report().to_dict()))
    assert data["format_version"] == 1
    assert (data["passed"], data["failed"], data["skipped"], data["errors"]) == (1, 1, 1, 1)
    assert data["untested"] == 1 and data["model_called"] is True
    assert data["answered_by"] == ["mirror", "openai"] and data["require_model"] is False
    assert data["model_note"].startswith("No model was called for 1 of 4 case(s): answered")
    echoed = data["results"][1]
    assert echoed["status"] == "untested" and echoed["answered_by"] == ["mirror"]
    assert [a["status"] for a in echoed["assertions"]] == ["untested", "passed"]
    item = data["results"][2]
    assert set(item) >= {
        "persona",
        "case",
        "status",
        "answer",
        "assertions",
        "latency_ms",
        "retrieval",
        "baseline",
    }
    assert item["assertions"][1] == {
        "kind": "contains",
        "passed": False,
        "message": "does not contain '<b>x</b>'",
        "status": "failed",
    }
    assert item["baseline"]["change"] == "pass->fail" and item["baseline"]["status"] == "passed"
    assert item["baseline"]["retrieval"] == []
    assert data["results"][0]["baseline"] is None


def test_text_lines_show_failures_literally() -> None:
    text = "\n".join(line.text for line in text_lines(hostile_report()))
    name = "<script>alert(1)</script> | `tick`"
    assert f"FAIL  beta / {name} (20 ms)  [pass→fail since baseline]" in text
    assert "✗ contains: does not contain '<b>x</b>'" in text
    assert "at personas/beta.tests.yaml:3" in text
    assert "ERROR beta / down" in text and "BACKEND_UNAVAILABLE" in text
    assert text.splitlines()[-1] == (
        "1 passed, 1 failed, 1 untested, 1 skipped, 1 errors. Against main: 1 pass→fail, "
        "0 fail→pass."
    )
    assert text.splitlines()[0].startswith("No model was called for 1 of 4 case(s)")
    assert "UNTESTED alpha / echoed (3 ms)" in text
    assert f"- contains: {NO_MODEL}" in text


def test_many_changed_answers_stay_within_the_comment_bound() -> None:
    """Every case whose answer changed gets details; their total stays bounded, the
    regression first, and the rest are counted."""
    changed = [
        CaseResult(
            "alpha",
            f"case {n}",
            "passed",
            f"new answer {n}\n" + "x" * 5000,
            (AssertionResult("contains", True, "ok"),),
            baseline=BaselineResult("passed", f"old answer {n}\n" + "y" * 5000, "same"),
        )
        for n in range(40)
    ]
    regression = CaseResult(
        "alpha",
        "flipped",
        "failed",
        "now wrong",
        (AssertionResult("contains", False, "no"),),
        baseline=BaselineResult("passed", "was right", "pass->fail"),
    )
    comment = markdown(PersonaTestReport(results=[*changed, regression], baseline_ref="main"))
    assert len(comment) < MAX_MARKDOWN_CHARS + 5_000  # the table and the note on top
    assert comment.index("<summary>flipped: failed (pass→fail)") < comment.index("(answer changed)")
    shown = comment.count("(answer changed)</summary>")
    assert 0 < shown < 40
    assert f"*Details of {40 - shown} more case(s) not shown here: see the job log.*" in comment

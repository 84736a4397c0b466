"""The expression subset the local job runner evaluates behaves as GitHub documents it
(https://docs.github.com/actions/learn-github-actions/expressions)."""

from __future__ import annotations

import pytest

from tests.gitops.expressions import Evaluator, ExpressionError

CONTEXT = {
    "steps": {"plan": {"outcome": "success", "outputs": {"has-changes": "true"}}},
    "inputs": {"prune": True, "force": False, "checksum": ""},
    "secrets": {"SCAIGRID_HOST": "https://grid.example"},
}
OK = {"success": True, "failure": False, "cancelled": False, "always": True}
FAILED = {**OK, "success": False, "failure": True}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("steps.plan.outputs.has-changes == 'true'", True),
        ("steps.plan.outcome == 'SUCCESS'", True),  # strings compare case-insensitively
        ("steps.missing.outputs.x == ''", True),  # a missing property is null, and null == ''
        ("secrets.SCAIGRID_HOST != '' && secrets.SCAIGRID_API_KEY != ''", False),
        ("inputs.prune && '--prune' || ''", "--prune"),  # && and || return an operand
        ("inputs.force && '--force' || ''", ""),
        ("inputs.checksum != '' && format('--checksum {0}', inputs.checksum) || ''", ""),
        ("format('{0}/{1}', 'a', 'b')", "a/b"),
        ("!cancelled() && (1 == 1)", True),
        ("startsWith('origin/main', 'ORIGIN/')", True),
        ("'it''s'", "it's"),
    ],
)
def test_values(expression: str, value: object) -> None:
    assert Evaluator(CONTEXT, OK).evaluate(expression) == value


def test_a_condition_without_a_status_function_needs_success() -> None:
    assert Evaluator(CONTEXT, OK).condition("steps.plan.outcome == 'success'")
    assert not Evaluator(CONTEXT, FAILED).condition("steps.plan.outcome == 'success'")
    assert Evaluator(CONTEXT, FAILED).condition("${{ !cancelled() }}")
    assert not Evaluator(CONTEXT, FAILED).condition(None)


def test_interpolation_fills_every_expression() -> None:
    text = "origin/${{ steps.plan.outcome }} ${{ inputs.prune }} ${{ steps.none.x }}."
    assert Evaluator(CONTEXT, OK).interpolate(text) == "origin/success true ."


@pytest.mark.parametrize("expression", ["fromJSON('{}')", "a ==", "1 === 1", "(1 == 1"])
def test_anything_else_is_refused(expression: str) -> None:
    with pytest.raises(ExpressionError):
        Evaluator(CONTEXT, OK).evaluate(expression)

"""The part of GitHub Actions' expression language our workflows and action use, so the
tests can decide a step's ``if:`` and fill its ``env:``/``with:`` the way the runner does.

Literals ('text', numbers, true/false/null), context paths (``steps.plan.outputs.has-changes``,
``secrets.SCAIGRID_HOST``), ``!``, ``==``, ``!=``, ``&&``, ``||``, parentheses, and the
functions ``success() failure() cancelled() always() format() startsWith() contains()``.
As on GitHub: ``&&``/``||`` return an operand, strings compare case-insensitively, a
missing property is null, and null, false, 0 and '' are falsy. Anything else raises, so a
workflow using more of the language makes the tests say so instead of guessing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||[!(),])"
    r"|(?P<name>[A-Za-z_][\w-]*(?:\.[A-Za-z_*][\w-]*)*))"
)
EMBEDDED = re.compile(r"\$\{\{(.*?)\}\}", re.S)


class ExpressionError(ValueError):
    """An expression outside the supported part of the language."""


def tokenize(text: str) -> list[tuple[str, str]]:
    """The expression's tokens as (kind, text)."""
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ExpressionError(f"cannot read {text[position:]!r} in {text!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def truthy(value: Any) -> bool:
    """GitHub's truthiness: null, false, 0 and '' are false."""
    return value not in (None, False, 0, "")


def to_text(value: Any) -> str:
    """How a value reads when interpolated into a string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    try:
        return float(value.strip() or 0)
    except (AttributeError, ValueError):
        return float("nan")


def equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is type(right):
        return left == right
    return to_number(left) == to_number(right)


class Evaluator:
    """Evaluates expressions against ``context`` (``{"steps": ..., "secrets": ...}``) and
    ``status`` (the job status functions: success, failure, cancelled, always)."""

    def __init__(self, context: Mapping[str, Any], status: Mapping[str, bool]) -> None:
        self.context = context
        self.functions: dict[str, Callable[..., Any]] = {
            **{name: (lambda v=value: v) for name, value in status.items()},
            "format": lambda fmt, *args: re.sub(
                r"\{(\d+)\}", lambda m: to_text(args[int(m.group(1))]), fmt
            ),
            "startswith": lambda s, p: to_text(s).casefold().startswith(to_text(p).casefold()),
            "contains": lambda s, p: to_text(p).casefold() in to_text(s).casefold(),
        }

    def evaluate(self, text: str) -> Any:
        """The value of one expression (without the ``${{ }}``)."""
        self.tokens, self.index = tokenize(text), 0
        value = self.parse_or()
        if self.index != len(self.tokens):
            raise ExpressionError(f"unexpected {self.tokens[self.index][1]!r} in {text!r}")
        return value

    def interpolate(self, text: str) -> str:
        """``text`` with every ``${{ … }}`` replaced by its value."""
        return EMBEDDED.sub(lambda m: to_text(self.evaluate(m.group(1))), text)

    def condition(self, text: str | bool | None) -> bool:
        """A step's ``if:``: without a status function, ``success() && (…)``, as on GitHub."""
        if text is None:
            return self.functions["success"]()
        if isinstance(text, bool):
            return text and self.functions["success"]()
        expression = text.strip()
        match = re.fullmatch(r"\$\{\{(.*)\}\}", expression, re.S)
        expression = match.group(1) if match else expression
        value = truthy(self.evaluate(expression))
        if not re.search(r"\b(success|failure|cancelled|always)\(", expression):
            value = value and self.functions["success"]()
        return value

    # --- recursive descent -------------------------------------------------------------

    def peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.index >= len(self.tokens):
            raise ExpressionError("expression ends too early")
        token = self.tokens[self.index]
        if expected is not None and token[1] != expected:
            raise ExpressionError(f"expected {expected!r}, found {token[1]!r}")
        self.index += 1
        return token

    def parse_or(self) -> Any:
        value = self.parse_and()
        while self.peek() == "||":
            self.take()
            right = self.parse_and()
            value = value if truthy(value) else right
        return value

    def parse_and(self) -> Any:
        value = self.parse_compare()
        while self.peek() == "&&":
            self.take()
            right = self.parse_compare()
            value = right if truthy(value) else value
        return value

    def parse_compare(self) -> Any:
        value = self.parse_unary()
        while self.peek() in ("==", "!="):
            operator = self.take()[1]
            same = equal(value, self.parse_unary())
            value = same if operator == "==" else not same
        return value

    def parse_unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not truthy(self.parse_unary())
        return self.parse_primary()

    def parse_primary(self) -> Any:
        kind, text = self.take()
        if text == "(":
            value = self.parse_or()
            self.take(")")
            return value
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text)
        if kind != "name":
            raise ExpressionError(f"unexpected {text!r}")
        if self.peek() == "(":
            return self.call(text)
        return {"true": True, "false": False, "null": None}.get(text, self.lookup(text))

    def call(self, name: str) -> Any:
        function = self.functions.get(name.casefold())
        if function is None:
            raise ExpressionError(f"unsupported function {name}()")
        self.take("(")
        args = []
        while self.peek() != ")":
            args.append(self.parse_or())
            if self.peek() == ",":
                self.take()
        self.take(")")
        return function(*args)

    def lookup(self, path: str) -> Any:
        node: Any = self.context
        for part in path.split("."):
            if not isinstance(node, Mapping):
                return None
            node = node.get(part)
        return node

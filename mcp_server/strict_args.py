"""Tool inputs reject unknown arguments, and say what is wrong in one plain sentence.

The SDK builds each tool's argument model from the function's signature and ignores
arguments it does not know, so a misspelt ``draft_idd`` would silently run the tool on
the working tree.  ``forbid_unknown_arguments`` swaps every registered tool's argument
model for one that refuses extras (its input schema says ``additionalProperties:
false`` so clients can see it), turns pydantic's multi-line validation report (with
its documentation link) into one sentence such as ``page_size must be at most 100``,
and dedents the tools' descriptions (they are the functions' docstrings).
"""

from __future__ import annotations

import inspect
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase
from pydantic import ConfigDict, ValidationError
from pydantic_core import ErrorDetails

MAX_REPORTED = 3


def _where(error: ErrorDetails) -> str:
    return ".".join(str(part) for part in error["loc"]) or "the arguments"


def _plural(count: Any, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def plain_error(error: ErrorDetails, known: list[str]) -> str:
    """One validation error as a short clause: ``limit must be at most 50``."""
    where, kind, ctx = _where(error), error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden" and len(error["loc"]) > 1:
        parent = ".".join(str(part) for part in error["loc"][:-1])
        return f"{parent} has no field '{str(error['loc'][-1])[:80]}'"
    if kind == "extra_forbidden":
        return f"unknown argument '{where[:80]}' (the tool takes: {', '.join(known)})"
    bounds = {
        "less_than_equal": "must be at most {le}",
        "less_than": "must be less than {lt}",
        "greater_than_equal": "must be at least {ge}",
        "greater_than": "must be greater than {gt}",
        "string_pattern_mismatch": "does not have the expected form ({pattern})",
        "literal_error": "must be one of {expected}",
        "enum": "must be one of {expected}",
    }
    if kind in bounds:
        return f"{where} {bounds[kind].format(**ctx)}"
    if kind in ("string_too_long", "too_long"):
        unit = "character" if kind == "string_too_long" else "item"
        return f"{where} must have at most {_plural(ctx.get('max_length'), unit)}"
    if kind in ("string_too_short", "too_short"):
        unit = "character" if kind == "string_too_short" else "item"
        return f"{where} must have at least {_plural(ctx.get('min_length'), unit)}"
    if kind == "missing":
        return f"{where} is required"
    kinds = {
        "int": "an integer",
        "float": "a number",
        "bool": "true or false",
        "string": "a string",
        "dict": "an object",
        "list": "an array",
        "model": "an object",
    }
    for prefix, expected in kinds.items():
        if kind.startswith(prefix + "_"):
            return f"{where} must be {expected}"
    message = error["msg"]
    return f"{where}: {message[:1].lower()}{message[1:]}"


def plain_sentence(exc: ValidationError, known: list[str]) -> str:
    """Every error of ``exc`` (at most a few) in one sentence."""
    errors = exc.errors(include_url=False)
    clauses = [plain_error(e, known) for e in errors[:MAX_REPORTED]]
    more = len(errors) - len(clauses)
    if more:
        clauses.append(f"and {_plural(more, 'more problem')}")
    return "; ".join(clauses)


class PlainArgumentsTool(Tool):
    """A tool whose argument errors read as one plain sentence."""

    async def run(self, arguments: dict[str, Any], context: Any, convert_result: bool = False):
        try:
            return await super().run(arguments, context, convert_result=convert_result)
        except ToolError as exc:
            cause = exc.__cause__
            if not isinstance(cause, ValidationError) or cause.title != self._model_title:
                raise
            known = sorted(self.fn_metadata.arg_model.model_fields)
            raise ToolError(f"INVALID_INPUT: {plain_sentence(cause, known)}") from cause

    @property
    def _model_title(self) -> str:
        return self.fn_metadata.arg_model.__name__


def forbid_unknown_arguments(server: MCPServer) -> None:
    """Make every tool registered on ``server`` so far refuse arguments it does not declare,
    report bad arguments in one sentence, and carry a dedented description."""
    # The SDK offers no hook for the argument model; its tool manager is the one place.
    manager = server._tool_manager
    for tool in manager.list_tools():
        loose = tool.fn_metadata.arg_model
        if loose.model_config.get("extra") != "forbid":
            strict: type[ArgModelBase] = type(
                loose.__name__,
                (loose,),
                {
                    "__module__": loose.__module__,
                    "__doc__": loose.__doc__,
                    "model_config": ConfigDict(extra="forbid"),
                },
            )
            tool.fn_metadata.arg_model = strict
            tool.parameters = strict.model_json_schema(by_alias=True)
        tool.description = inspect.cleandoc(tool.description or "")
        if not isinstance(tool, PlainArgumentsTool):
            fields = {name: getattr(tool, name) for name in Tool.model_fields}
            manager._tools[tool.name] = PlainArgumentsTool.model_construct(**fields)

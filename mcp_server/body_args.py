"""Tools whose arguments are the fields of one declared body model.

``preview_persona`` and ``run_persona`` take the same body (``StudioCall``, seed 003):
it is declared once, as a pydantic model, and each tool's signature (which the MCP
SDK turns into the input schema) takes its fields in place of ``**body``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, TypeVar

from pydantic import BaseModel

R = TypeVar("R")


def with_body_arguments(body: type[BaseModel]) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """A decorator: the tool's ``**body`` becomes ``body``'s fields, keyword-only, with
    their types, limits, defaults and descriptions."""

    def decorate(tool: Callable[..., R]) -> Callable[..., R]:
        signature = inspect.signature(tool, eval_str=True)
        own = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in signature.parameters.values()
            if p.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        fields = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=info.default,
                annotation=Annotated[info.annotation, info],
            )
            for name, info in body.model_fields.items()
        ]
        at = next((i for i, p in enumerate(own) if p.name == "ctx"), len(own))
        tool.__signature__ = signature.replace(parameters=[*own[:at], *fields, *own[at:]])  # type: ignore[attr-defined]
        return tool

    return decorate

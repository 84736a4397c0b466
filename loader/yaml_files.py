"""One YAML file of a repo, read within bounds and its problems located.

What the loaders of persona files (``loader.repo``), simulated users
(``loader.simulated_users``) and persona tests (``loader.persona_tests``) share:
reading a file or a file it references with a size cap, parsing a YAML mapping,
turning pydantic errors into ``path:line:col`` problems, and resolving a system
prompt (inline or from its file) with its secret check.
"""

from __future__ import annotations

import difflib
import typing
from functools import partial
from typing import Any

from personas_as_code.loader.files import (
    OversizedFile,
    PathRefused,
    RepoFiles,
    join_relative,
    read_limited,
)
from personas_as_code.schemas.persona import PersonaFile
from personas_as_code.schemas.problems import Problem
from personas_as_code.untrusted.secrets import SecretFinding, secret_problems
from personas_as_code.untrusted.yaml import MAX_YAML_BYTES, ParsedYaml, YamlRefused, parse_yaml
from personas_as_code.untrusted.yaml_paths import locate, value_node
from pydantic import BaseModel, ValidationError

PERSONA_SUFFIXES = (".yaml", ".yml")
MAX_PROMPT_BYTES = 256 * 1024


def _model_at(
    loc: tuple[str | int, ...], root: type[BaseModel] = PersonaFile
) -> type[BaseModel] | None:
    """The file-format model whose fields apply at ``loc`` (for 'did you mean')."""
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        info = model.model_fields.get(part)
        if info is None:
            return None
        annotation = info.annotation
        candidates = [annotation, *typing.get_args(annotation)]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)),
            next(
                (
                    a
                    for c in candidates
                    for a in typing.get_args(c)
                    if isinstance(a, type) and issubclass(a, BaseModel)
                ),
                None,
            ),
        )
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def error_message(err: Any) -> str:
    """One pydantic error as a reader's message (the value shown when it is short)."""
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "persona_rule":
        return err["msg"]
    message = err["msg"].removeprefix("Value error, ")
    if kind not in ("extra_forbidden",) and not isinstance(err.get("input"), dict | list):
        shown = repr(err.get("input"))
        if len(shown) <= 60:
            message += f" (got {shown})"
    return message


def validation_problems(
    exc: ValidationError, path: str, node: Any, root: type[BaseModel] = PersonaFile
) -> list[Problem]:
    """The errors of ``exc`` as problems located in ``node`` (the file's YAML), an
    unknown key with a 'did you mean' taken from the fields of ``root`` at that place."""
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        dotted = ".".join(str(p) for p in loc) or "(document)"
        if err["type"] == "extra_forbidden":
            key = str(loc[-1])
            model = _model_at(loc[:-1], root)
            hint = ""
            if model is not None:
                names = [f.alias or name for name, f in model.model_fields.items()]
                close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
                if close:
                    parent = ".".join(str(p) for p in loc[:-1])
                    hint = f"; did you mean '{parent + '.' if parent else ''}{close[0]}'?"
            line, col = locate(node, loc, key=True)
            problems.append(
                Problem(path, line, col, f"unknown key '{dotted}'{hint}", "unknown_key")
            )
            continue
        line, col = locate(node, loc, key=err["type"] == "missing")
        problems.append(Problem(path, line, col, f"{dotted}: {error_message(err)}", err["type"]))
    return problems


def prompt_line(node: Any, loc: tuple[str | int, ...], line_in_value: int) -> tuple[int, int]:
    """Best line for a position inside a scalar value (exact for block scalars)."""
    scalar = value_node(node, loc)
    line, col = locate(node, loc)
    if scalar is not None and getattr(scalar, "style", None) in ("|", ">"):
        return (line + line_in_value, 1)
    return (line, col)


def resolve_system_prompt(
    files: RepoFiles, path: str, node: Any, inline: str | None, prompt_file: str | None
) -> tuple[str, str | None, list[Problem]]:
    """The system prompt of ``path`` (inline, or read from ``prompt_file``), the file it
    came from (or None) and its problems: a secret in it, an unreadable prompt file."""
    if inline is not None:
        problems = secret_problems(
            inline, path, lambda f: prompt_line(node, ("system_prompt",), f.line)
        )
        return inline, None, problems
    if prompt_file is None:
        return "", None, []
    at = locate(node, ("system_prompt_file",))
    prompt_path = None
    try:
        prompt_path, prompt_raw = read_reference(
            files, path, prompt_file, MAX_PROMPT_BYTES, "system_prompt_file"
        )
        system_prompt = prompt_raw.decode("utf-8")
    except UnicodeDecodeError:
        return "", prompt_path, [Problem(path, *at, "prompt file is not UTF-8")]
    except ValueError as exc:
        return "", prompt_path, [Problem(path, *at, str(exc), "path")]
    return (
        system_prompt,
        prompt_path,
        secret_problems(system_prompt, prompt_path, lambda f: (f.line, f.col)),
    )


def prompt_secret_problems(data: dict[str, Any], node: Any, path: str) -> list[Problem]:
    """The secrets of the texts a persona sends to a model (its inline system prompt
    and its context template), read from a file that is otherwise invalid."""
    problems: list[Problem] = []
    prompt = data.get("system_prompt")
    if isinstance(prompt, str):
        problems += secret_problems(
            prompt, path, lambda f: prompt_line(node, ("system_prompt",), f.line)
        )
    rag = data.get("rag")
    template = rag.get("context_template") if isinstance(rag, dict) else None
    if isinstance(template, str):
        problems += template_secret_problems(template, node, path)
    return problems


def template_secret_problems(template: str, node: Any, path: str) -> list[Problem]:
    """The secrets of a persona's context template, located at its key."""
    return secret_problems(template, path, lambda f: locate(node, ("rag", "context_template")))


def read_reference(
    files: RepoFiles, persona_path: str, reference: str, limit: int, what: str
) -> tuple[str, bytes]:
    """Read a file referenced from a persona; raise ValueError with a readable reason."""
    try:
        target = join_relative(persona_path, reference)
        return target, read_limited(files, target, limit)
    except OversizedFile as exc:
        raise ValueError(
            f"{what} '{reference}' is {exc.size:,} bytes; the limit is {exc.limit:,} bytes"
        ) from None
    except PathRefused as exc:
        raise ValueError(f"{what}: {exc}") from None
    except FileNotFoundError:
        raise ValueError(
            f"{what} '{reference}' not found (paths are relative to {persona_path})"
        ) from None
    except OSError as exc:
        raise ValueError(f"{what} '{reference}' cannot be read: {exc.strerror}") from None


def _read(files: RepoFiles, path: str) -> tuple[bytes | None, list[Problem]]:
    try:
        return read_limited(files, path, MAX_YAML_BYTES), []
    except OversizedFile as exc:
        message = f"file is {exc.size:,} bytes; the limit is {exc.limit:,} bytes"
        return None, [Problem(path, 1, 1, message, code="file_too_large")]
    except PathRefused as exc:
        return None, [Problem(path, 0, 0, str(exc), code="path")]
    except FileNotFoundError:
        return None, [Problem(path, 0, 0, "file disappeared while loading", code="io")]
    except OSError as exc:
        return None, [Problem(path, 0, 0, f"cannot read: {exc.strerror}", code="io")]


def read_yaml_mapping(
    files: RepoFiles, path: str, must_be: str, *, code: str = "invalid"
) -> tuple[ParsedYaml | None, list[Problem]]:
    """Read (size-capped) and parse one YAML file that must hold a mapping; return it
    (or None) and its problems.  ``must_be`` starts the message when it is no mapping."""
    raw, problems = _read(files, path)
    if raw is None:
        return None, problems
    parsed, problems = parse_yaml_checked(raw, path)
    if parsed is None:
        return None, problems
    if not isinstance(parsed.data, dict):
        kind = "empty" if parsed.data is None else type(parsed.data).__name__
        message = f"{must_be}, not {kind}"
        return None, [*problems, Problem(path, *locate(parsed.node, ()), message, code=code)]
    return parsed, problems


def parse_yaml_checked(raw: bytes, path: str) -> tuple[ParsedYaml | None, list[Problem]]:
    """``parse_yaml``'s document and its problems: None when refused, except when only
    duplicate keys were found: then the document (last value kept) comes back with them,
    so the file's other problems are found in the same run."""
    try:
        return parse_yaml(raw, path), []
    except YamlRefused as exc:
        return exc.partial, exc.problems


def text_secret_problems(
    data: Any, node: Any, path: str, *, holder: str = "a persona"
) -> list[Problem]:
    """A ``secret`` error for every credential in any text of a file's ``data``: each
    string value and each key, at any depth.  Located at the text's line (exact inside
    a block scalar), never quoted; ``holder`` names what must not hold secrets."""
    problems: list[Problem] = []
    pending: list[tuple[Any, tuple[str | int, ...]]] = [(data, ())]
    while pending:
        value, loc = pending.pop()
        if isinstance(value, str):
            problems += secret_problems(value, path, partial(_place, node, loc), holder=holder)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str):
                    at = locate(node, (*loc, key), key=True)
                    problems += secret_problems(
                        key,
                        path,
                        lambda f: at,  # noqa: B023 - called at once, before the loop moves on
                        holder=holder,
                    )
                pending.append((item, (*loc, key)))
        elif isinstance(value, list):
            pending += [(item, (*loc, i)) for i, item in enumerate(value)]
    return sorted(problems)


def _place(node: Any, loc: tuple[str | int, ...], finding: SecretFinding) -> tuple[int, int]:
    """Where ``finding`` (line and column inside the text at ``loc``) is in the file:
    exact on a block scalar's lines and on a one-line plain or quoted scalar."""
    line, col = locate(node, loc)
    style = getattr(value_node(node, loc), "style", None)
    if style in ("|", ">"):
        return prompt_line(node, loc, finding.line)
    if finding.line == 1:
        return line, col + finding.col - 1 + (1 if style in ("'", '"') else 0)
    return line + finding.line - 1, 1

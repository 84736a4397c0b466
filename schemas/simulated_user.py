"""The test persona file format: one simulated user per file under ``test-personas/``.

A test persona (seed ``reference/test-personas-api.txt``) is a user that persona
tests simulate: a name, a description, the system prompt that makes a model
play that user, and the HTTP headers merged into the requests a test sends
(persona headers win over defaults).  The file name is the slug; names are
unique in the repo, as the API answers 409 on a duplicate name.

Headers are bounded and checked here, once, for the file and the REST API
alike (``HEADER_RULES``): at most ``MAX_HEADERS`` of them, names that are HTTP
tokens of at most ``MAX_HEADER_NAME`` characters, unique ignoring case, values
of printable ASCII (tab allowed) of at most ``MAX_HEADER_VALUE`` characters.
Headers that belong to the connection (hop-by-hop and framing headers such as
``Connection`` or ``Content-Length``) and headers that carry credentials
(``Authorization``, ``Cookie``, ``X-API-Key``...) are refused: the first would
break the request a test sends, the second would put a secret in git.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

MAX_HEADERS = 32
MAX_HEADER_NAME = 100
MAX_HEADER_VALUE = 4096
MAX_SYSTEM_PROMPT_CHARS = 256 * 1024
MAX_DESCRIPTION_CHARS = 4000
MAX_NAME_CHARS = 200

TOKEN_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"  # JSON Schema: ``$`` ends the text
# in Python ``$`` also matches before a final newline: ``\Z`` leaves nothing after the value
_TOKEN = re.compile(TOKEN_PATTERN.removesuffix("$") + r"\Z")
_VALUE = re.compile(r"[\t\x20-\x7e]*\Z")
CONNECTION_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",
    }
)
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-access-token",
        "x-csrf-token",
        "x-xsrf-token",
    }
)


def header_problems(headers: dict[str, Any]) -> list[tuple[str, str]]:
    """Every reason ``headers`` is refused, each with the header name it is about."""
    problems: list[tuple[str, str]] = []
    if len(headers) > MAX_HEADERS:
        problems.append(("", f"at most {MAX_HEADERS} headers are allowed, not {len(headers)}"))
    seen: dict[str, str] = {}
    for name, value in headers.items():
        shown = name if len(name) <= 60 else name[:57] + "..."
        lower = name.lower()
        if not name or len(name) > MAX_HEADER_NAME or not _TOKEN.match(name):
            problems.append(
                (
                    shown,
                    f"header name {shown!r} is not an HTTP token of 1-{MAX_HEADER_NAME} "
                    "letters, digits and !#$%&'*+.^_`|~-",
                )
            )
            continue
        if lower in seen:
            problems.append((shown, f"header {name!r} repeats {seen[lower]!r} (names ignore case)"))
        seen.setdefault(lower, name)
        if lower in CONNECTION_HEADERS or lower.startswith("proxy-"):
            problems.append(
                (shown, f"header {name!r} belongs to the connection and cannot be set per persona")
            )
        elif lower in CREDENTIAL_HEADERS:
            problems.append(
                (
                    shown,
                    f"header {name!r} carries credentials; secrets must not be stored in a test "
                    "persona (the connector's own auth is used)",
                )
            )
        if not isinstance(value, str):
            problems.append((shown, f"header {name!r}: the value must be a string"))
        elif len(value) > MAX_HEADER_VALUE:
            problems.append(
                (shown, f"header {name!r}: the value is over {MAX_HEADER_VALUE} characters")
            )
        elif not _VALUE.match(value):
            problems.append(
                (
                    shown,
                    f"header {name!r}: the value may hold only printable ASCII and tabs "
                    "(no line breaks or control characters)",
                )
            )
    return problems


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    """Refuse bad headers, each error pinned to its header so a file problem names its line."""
    problems = header_problems(headers)
    if problems:
        details = [
            InitErrorDetails(
                type=PydanticCustomError("persona_rule", message),
                loc=(name,) if name in headers else (),
                input=headers.get(name, headers),
            )
            for name, message in problems
        ]
        raise ValidationError.from_exception_data("Headers", details)
    return headers


Headers = Annotated[
    dict[str, str],
    Field(
        max_length=MAX_HEADERS,
        description=f"HTTP headers merged into the requests a test sends (persona headers win "
        f"over defaults); at most {MAX_HEADERS}, no connection or credential headers.",
        json_schema_extra={
            "propertyNames": {"pattern": TOKEN_PATTERN, "maxLength": MAX_HEADER_NAME},
            "additionalProperties": {"type": "string", "maxLength": MAX_HEADER_VALUE},
        },
    ),
    AfterValidator(_check_headers),
]
"""The header map of a test persona, checked by ``header_problems``."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]


class SimulatedUserFile(BaseModel):
    """One test persona file, as written by people in pull requests."""

    # titled with its name in test-persona.schema.json (and in validation messages)
    model_config = ConfigDict(extra="forbid", validate_default=True, title="TestPersonaFile")

    name: Name | None = Field(
        default=None, description="Unique in the repo; defaults to the file name (the slug)."
    )
    description: Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION_CHARS)] | None = Field(
        default=None, description="Who this simulated user is."
    )
    system_prompt: str | None = Field(
        default=None, description="How the simulated user behaves (the model playing it)."
    )
    system_prompt_file: str | None = Field(
        default=None, description="Path of the prompt, relative to this file, inside the repo."
    )
    headers: Headers = Field(default_factory=dict)
    protect: bool = Field(default=False, description="Refuse to delete this test persona.")

    @model_validator(mode="after")
    def _one_prompt(self) -> Self:
        if self.system_prompt is not None and self.system_prompt_file is not None:
            error = PydanticCustomError(
                "persona_rule", "give either system_prompt or system_prompt_file, not both"
            )
            raise ValidationError.from_exception_data(
                "TestPersonaFile",  # the title users see (model_config)
                [
                    InitErrorDetails(
                        type=error, loc=("system_prompt_file",), input=self.system_prompt_file
                    )
                ],
            )
        return self

"""The persona tests file format: ``personas/<slug>.tests.yaml`` holds one persona's cases.

A case sends one user ``message``, or lets a test persona (a simulated user of
``test-personas/``) hold a ``conversation`` of a few turns with the persona, and
checks the persona's last answer with assertions.  Each assertion is a mapping
with exactly one key, its kind.

Regular expressions run on the ``regex`` module with a timeout (``REGEX_TIMEOUT_S``),
so a pattern that backtracks catastrophically fails its case instead of hanging the
run; patterns are capped at ``MAX_REGEX_CHARS`` and at ``MAX_REGEX_SIZE`` items once
compiled (``schemas.regex_bounds``: checked before compiling), and answers longer than
``MAX_MATCH_CHARS`` are not matched at all (the assertion fails and says why).  A
``json_schema`` assertion's schema is bounded in size and depth, and its patterns are
checked like a ``regex`` assertion's (and run the same way, with the same timeout).
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from personas_as_code.schemas.fields import NonEmptyStr, Slug
from personas_as_code.schemas.regex_bounds import (  # noqa: F401 (MAX_* re-exported)
    MAX_REGEX_CHARS,
    MAX_REGEX_SIZE,
    check_schema_bounds,
    compile_pattern,
)
from personas_as_code.schemas.tests_names import (  # noqa: F401 (re-exported)
    TESTS_SUFFIXES,
    is_tests_file,
    tests_slug,
)
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

MAX_CASES = 200
MAX_ASSERTIONS = 50
MAX_TURNS = 20
MAX_MESSAGE_CHARS = 64 * 1024
MAX_EXPECTED_CHARS = 64 * 1024
MAX_MATCH_CHARS = 256 * 1024
REGEX_TIMEOUT_S = 1.0

Message = Annotated[str, StringConstraints(min_length=1, max_length=MAX_MESSAGE_CHARS)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_EXPECTED_CHARS)]
ASSERTION_KINDS = (
    "contains",
    "not_contains",
    "regex",
    "equals",
    "json_schema",
    "max_tokens",
    "max_latency_ms",
    "cites",
    "llm_rubric",
)


class Assertion(BaseModel):
    """One check of the answer: a mapping with exactly one key, its kind."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"minProperties": 1, "maxProperties": 1},
    )

    contains: Text | None = Field(None, description="The answer contains this text.")
    not_contains: Text | None = Field(None, description="The answer does not contain this text.")
    regex: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_REGEX_CHARS,
        description="The answer matches this regular expression (searched anywhere; "
        f"evaluated with a {REGEX_TIMEOUT_S:g} s timeout).",
    )
    equals: str | None = Field(
        None,
        max_length=MAX_EXPECTED_CHARS,
        description="The answer, less surrounding whitespace, is exactly this.",
    )
    json_schema: dict[str, Any] | None = Field(
        None, description="The answer is a JSON document valid against this JSON Schema."
    )
    max_tokens: int | None = Field(
        None, ge=1, le=10_000_000, description="The answer used at most this many tokens."
    )
    max_latency_ms: int | None = Field(
        None, ge=1, le=3_600_000, description="The answer came within this many milliseconds."
    )
    cites: NonEmptyStr | None = Field(
        None,
        description="A chunk retrieved from this source id reached the answer "
        "(the run's retrieval provenance).",
    )
    llm_rubric: Text | None = Field(
        None,
        description="A judge model grades the answer against this rubric ([tests] "
        "judge_backend in personas.toml); skipped with a reason when none is configured.",
    )

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            compile_pattern(value)  # bounded: refused before it can blow up
        return value

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            from jsonschema import Draft202012Validator  # imported when a file uses it
            from jsonschema.exceptions import SchemaError

            check_schema_bounds(value)  # before the metaschema compiles its patterns
            try:
                Draft202012Validator.check_schema(value)
            except SchemaError as exc:
                where = "/".join(str(p) for p in exc.path) or "(root)"
                raise ValueError(f"not a valid JSON Schema at {where}: {exc.message}") from None
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = self.kinds()
        if len(given) != 1:
            shown = ", ".join(given) if given else "none"
            raise ValueError(
                f"an assertion has exactly one kind ({', '.join(ASSERTION_KINDS)}); got {shown}"
            )
        return self

    def kinds(self) -> list[str]:
        """The kinds set on this assertion (exactly one once validated)."""
        return [k for k in ASSERTION_KINDS if getattr(self, k) is not None]

    @property
    def kind(self) -> str:
        """This assertion's kind."""
        return self.kinds()[0]

    @property
    def value(self) -> Any:
        """This assertion's expected value."""
        return getattr(self, self.kind)


class Conversation(BaseModel):
    """A simulated user (a test persona) talks with the persona for ``turns`` turns."""

    model_config = ConfigDict(extra="forbid")

    test_persona: Slug = Field(description="Slug of a test persona under test-personas/.")
    turns: int = Field(3, ge=1, le=MAX_TURNS, description="User turns (1-20).")
    opening: Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARS)] | None = Field(
        None,
        description="The simulated user's first message; by default the test persona's model "
        "writes it too.",
    )


class PersonaTestCase(BaseModel):
    """One case: a message or a simulated conversation, and the checks of the last answer."""

    # titled with its name in persona-tests.schema.json (and in validation messages)
    model_config = ConfigDict(extra="forbid", populate_by_name=True, title="TestCase")

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="The case's name, shown in the report."
    )
    message: Message | None = Field(None, description="One user message.")
    conversation: Conversation | None = Field(
        None, description="A conversation with a simulated user (a test persona)."
    )
    assertions: list[Assertion] = Field(
        alias="assert", min_length=1, max_length=MAX_ASSERTIONS, description="The checks."
    )

    @model_validator(mode="after")
    def _one_input(self) -> Self:
        if (self.message is None) == (self.conversation is None):
            raise ValueError("a case has either a message or a conversation, not both or neither")
        return self


class PersonaTestsFile(BaseModel):
    """``personas/<slug>.tests.yaml``: the cases of the persona ``<slug>``."""

    model_config = ConfigDict(extra="forbid")

    cases: list[PersonaTestCase] = Field(
        min_length=1, max_length=MAX_CASES, description="The test cases of this persona."
    )

"""The one body ``preview_persona`` and ``run_persona`` take: Prompt Studio's preview and
run (``reference/prompt-studio-api.txt``, seed 003: run takes the "same request body").

Every field of the seed's body is accepted.  What has no meaning for a persona here
(a room's participant, ScaiWave plugins, a response mode, a reasoning effort the
persona's base model is never asked for) is not refused: it is reported in the
result's ``ignored``, each with why, so an assistant that sends the seed's body as is
learns what was left out instead of being turned away.
"""

from __future__ import annotations

from typing import Annotated, Any

from personas_as_code.application.ids import MAX_TEXT_BYTES, InvalidInput
from personas_as_code.application.preview import PreviewRequest
from personas_as_code.sandbox.models import HistoryMessage, IgnoredArgument
from personas_as_code.sandbox.run import RunRequest
from pydantic import BaseModel, ConfigDict, Field

OVERRIDE_KEYS = ("temperature", "top_p", "max_tokens", "frequency_penalty", "presence_penalty")

WHY_IGNORED = {
    "participant_id": "a persona is named here by slug or draft_id; there is no room "
    "participant to resolve",
    "reasoning_effort": "a persona's base model is called with default_params and the "
    "overrides temperature, top_p, max_tokens, frequency_penalty and presence_penalty; "
    "it is never asked for a reasoning effort",
    "response_mode": "there are no rooms here: a persona answers each message with one plain reply",
    "plugins_enabled": "ScaiWave plugins do not exist here: what a persona can use is its "
    "knowledge sources (rag)",
}

SHORT = 200


class StudioCall(BaseModel):
    """The seed's preview/run body (without ``slug`` / ``draft_id``, which say whose)."""

    model_config = ConfigDict(extra="forbid")

    trigger_text: str | None = Field(
        default=None,
        max_length=MAX_TEXT_BYTES,
        description="The user's message (run_persona needs it, or message).",
    )
    message: str | None = Field(
        default=None,
        max_length=MAX_TEXT_BYTES,
        description="The same as trigger_text (its earlier name in run_persona); give one.",
    )
    history: list[HistoryMessage] | None = Field(
        default=None, max_length=200, description="Earlier messages, oldest first."
    )
    system_prompt_override: str | None = Field(default=None, max_length=256 * 1024)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    reasoning_effort: str | None = Field(
        default=None, max_length=SHORT, description="Accepted and reported in `ignored`."
    )
    response_mode: str | None = Field(
        default=None, max_length=SHORT, description="Accepted and reported in `ignored`."
    )
    plugins_enabled: list[Annotated[str, Field(max_length=SHORT)]] | None = Field(
        default=None, max_length=100, description="Accepted and reported in `ignored`."
    )
    participant_id: str | None = Field(
        default=None, max_length=SHORT, description="Accepted and reported in `ignored`."
    )

    def user_text(self) -> str | None:
        """The user's message: ``trigger_text`` or ``message`` (both given must agree)."""
        given = {t for t in (self.trigger_text, self.message) if t is not None}
        if len(given) > 1:
            raise InvalidInput("trigger_text and message are the same argument; give one")
        return self.trigger_text if self.trigger_text is not None else self.message

    def overrides(self) -> dict[str, Any]:
        """The call parameters given, over the persona's ``default_params``."""
        return {key: getattr(self, key) for key in OVERRIDE_KEYS}

    def ignored(self) -> list[IgnoredArgument]:
        """The arguments given that mean nothing here, each with why."""
        return [
            IgnoredArgument(name=name, reason=reason)
            for name, reason in WHY_IGNORED.items()
            if getattr(self, name) not in (None, [])
        ]

    def preview_request(self) -> PreviewRequest:
        """This body as a preview's request."""
        return PreviewRequest(
            system_prompt_override=self.system_prompt_override,
            overrides=self.overrides(),
            history=list(self.history or []),
            trigger_text=self.user_text(),
        )

    def run_request(self) -> RunRequest:
        """This body as a run's request; a run needs the user's message."""
        text = self.user_text()
        if not text:
            raise InvalidInput("a run needs the user's message: give trigger_text")
        return RunRequest(
            message=text,
            history=list(self.history or []),
            system_prompt_override=self.system_prompt_override,
            overrides=self.overrides(),
        )

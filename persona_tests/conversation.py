"""A simulated user: a test persona's system prompt drives a user-side model call (the
persona's base model, the same backends), turn after turn, against the persona.

The roles are swapped for the user side: the persona's answers are what the simulated
user is told (``user``), its own earlier messages are its replies (``assistant``).
Every message carried into a later turn is capped at ``MAX_TURN_CHARS`` (cut with a
visible note), so a conversation on the ``mirror`` backend -- whose answers repeat
everything they received -- grows linearly, not geometrically.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from personas_as_code.inference.messages import ChatMessage
from personas_as_code.loader.simulated_users import LoadedSimulatedUser
from personas_as_code.sandbox.models import HistoryMessage
from personas_as_code.sandbox.run import RunRequest, RunResult
from personas_as_code.schemas.persona_tests import Conversation

MAX_TURN_CHARS = 8000
USER_ROLE_BRIEF = (
    "\n\nYou are playing this user in a conversation with an assistant. Write only the "
    "user's next message to the assistant: no names, no commentary."
)
OPENING = "(The conversation starts now. Write your first message to the assistant.)"


def capped(text: str) -> str:
    """``text`` cut to ``MAX_TURN_CHARS`` with a note saying how much was cut."""
    if len(text) <= MAX_TURN_CHARS:
        return text
    return text[:MAX_TURN_CHARS] + f"\n[... {len(text) - MAX_TURN_CHARS:,} characters cut]"


@dataclass
class Turns:
    """A finished conversation: every message, the persona's last run and its latency."""

    transcript: list[dict[str, str]]
    last: RunResult
    latency_ms: int


AskUser = Callable[[list[ChatMessage]], str]
AskPersona = Callable[[RunRequest], RunResult]


def converse(
    spec: Conversation,
    user: LoadedSimulatedUser,
    ask_user: AskUser,
    ask_persona: AskPersona,
) -> Turns:
    """Hold ``spec.turns`` turns between the simulated ``user`` and the persona."""
    history: list[HistoryMessage] = []
    transcript: list[dict[str, str]] = []
    last: RunResult | None = None
    latency_ms = 0
    for turn in range(spec.turns):
        opening = spec.opening if turn == 0 else None
        said = opening or ask_user(_user_side(user, history))
        said = capped(said.strip() or "(no message)")
        transcript.append({"role": "user", "content": said})
        request = RunRequest(message=said, history=list(history), headers=dict(user.headers))
        started = time.perf_counter()
        last = ask_persona(request)
        latency_ms = round((time.perf_counter() - started) * 1000)
        transcript.append({"role": "assistant", "content": last.answer})
        history += [
            HistoryMessage(role="user", content=said),
            HistoryMessage(role="assistant", content=capped(last.answer)),
        ]
    assert last is not None  # turns >= 1
    return Turns(transcript, last, latency_ms)


def _user_side(user: LoadedSimulatedUser, history: list[HistoryMessage]) -> list[ChatMessage]:
    """The messages that make a model play ``user`` (roles swapped)."""
    messages = [ChatMessage("system", user.system_prompt + USER_ROLE_BRIEF)]
    if not history:
        return [*messages, ChatMessage("user", OPENING)]
    for message in history:
        role: Literal["user", "assistant"] = "assistant" if message.role == "user" else "user"
        messages.append(ChatMessage(role, message.content))
    return messages

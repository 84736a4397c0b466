"""The answer of one chat call, declared once: ``inference.chat.ChatResult`` builds it and
``POST /v1/inference/chat`` (``catalogue.rest_inference``) documents and answers it.

The class names are the schema names of the REST API's OpenAPI document: renaming one
renames it there too.  Only pydantic is imported here, so a remote catalogue's client
can parse an answer without loading the enricher or the knowledge index.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class ChatChoiceMessage(BaseModel):
    role: Literal["assistant"]
    content: str


class ChatChoice(BaseModel):
    index: int
    message: ChatChoiceMessage
    finish_reason: str | None


class ChatUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class RetrievedRef(BaseModel):
    """Where one chunk of the injected context came from."""

    source_type: str
    source_id: str
    document: str
    chunk: int
    score: float


class BackendRef(BaseModel):
    """Which backend answered."""

    provider: str
    backend_model: str
    upstream_model: str | None = None
    base_url: str | None = None


class ChatCompletion(BaseModel):
    """An answer of ``POST /v1/inference/chat``."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage
    retrieval: list[RetrievedRef]
    backend: BackendRef


class ChatData(BaseModel):
    data: ChatCompletion

"""The shapes of a sandbox run shared by the CLI, the MCP tools and persona tests."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class HistoryMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=64 * 1024)


class RetrievedRef(BaseModel):
    """Where one retrieved chunk came from."""

    source_type: str
    source_id: str
    document: str = Field(description="Repo-relative path of the document.")
    chunk: int = Field(description="Ordinal of the chunk within the document.")
    score: float


class IgnoredArgument(BaseModel):
    """An argument a caller sent that has no meaning for a persona here: accepted (the
    seed's body carries it), not used, and reported with why."""

    name: str
    reason: str

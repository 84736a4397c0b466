"""``collection.yaml``: the optional description of one knowledge folder.

``knowledge/<source_id>/collection.yaml`` names the source, describes it and sets
how its documents are chunked; every field is optional.
"""

from __future__ import annotations

from typing import Annotated, Self

from personas_as_code.schemas.fields import SourceType
from pydantic import BaseModel, ConfigDict, Field, model_validator

COLLECTION_FILE = "collection.yaml"


class Chunking(BaseModel):
    """How the folder's documents are cut into chunks before they are embedded."""

    model_config = ConfigDict(extra="forbid")

    max_chars: int = Field(
        default=1200, ge=200, le=8000, description="Largest chunk, in characters."
    )
    overlap_chars: int = Field(
        default=150,
        ge=0,
        le=4000,
        description="Characters of the previous chunk repeated at the start of the next one "
        "(at most half of max_chars).",
    )

    @model_validator(mode="after")
    def _overlap_fits(self) -> Self:
        if self.overlap_chars > self.max_chars // 2:
            raise ValueError("overlap_chars must be at most half of max_chars")
        return self


class CollectionFile(BaseModel):
    """``knowledge/<source_id>/collection.yaml``."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        default=None, description="Display name of the collection or share."
    )
    description: Annotated[str, Field(max_length=2000)] | None = Field(
        default=None, description="What the documents are about."
    )
    type: SourceType | None = Field(
        default=None,
        description="Index the folder as this source type only. By default it is indexed "
        "as every type the personas name it with (a collection when none does).",
    )
    chunking: Chunking = Field(
        default_factory=Chunking, description="How documents are cut into chunks."
    )

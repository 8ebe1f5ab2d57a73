"""The base of every typed result: frozen pydantic models whose dump is the JSON document and whose
JSON Schema is generated from the same classes (one shape). Every room defines the results it builds.

Fields that carry working objects for other rooms (the request, a search's arrays) are excluded from
the document and its schema (``Field(exclude=True)`` with ``SkipJsonSchema``).
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.2.0"  # semantic version: major when a contract key changes meaning, minor when keys are added
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class Result(BaseModel):
    """A typed, immutable result; numbers are plain floats and ints in its dump."""

    # the schema of what is emitted: every field with a default is always present, so it is required
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True,
                              json_schema_serialization_defaults_required=True)


class Document(Result):
    """A top-level document a command emits (--json). Each kind overrides ``kind`` with its own literal name
    (the name `plan schema` takes), so a reader (plan diff) knows what it holds."""

    schema_version: str = Field(default=SCHEMA_VERSION, description="Version of the document's shape (semantic versioning).")
    kind: str = Field(default="document", description="What the document is: the name `plan schema` takes for it.")


class Range(Result):
    """Low and high ends of a figure, and what the range spans."""

    low: float
    high: float
    basis: str = Field(description="What the range spans (e.g. the calibration residuals, the price range).")

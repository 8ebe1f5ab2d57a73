"""Common base for every spec: frozen, unknown fields rejected."""
from pydantic import BaseModel, ConfigDict


class Spec(BaseModel):
    """Immutable and strict: a typo in a model file is an error, not a silently ignored key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

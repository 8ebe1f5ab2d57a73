"""Common base for every spec: frozen, unknown fields rejected, numbers that are numbers."""
import math
import typing

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError


def _allows_bool(annotation) -> bool:
    return annotation is bool or bool in typing.get_args(annotation)


class Spec(BaseModel):
    """Immutable and strict: a typo in a model file is an error, not a silently ignored key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, value, info: ValidationInfo):
        # pydantic's lax mode reads `true` as 1 in a whole-number field and accepts inf and nan in a
        # float field; in a spec both are typing mistakes that give nonsense or crash a count.
        if isinstance(value, bool) and not _allows_bool(cls.model_fields[info.field_name].annotation):
            raise PydanticCustomError("number_type", "expected a number, got {given}", {"given": str(value).lower()})
        if isinstance(value, float) and not math.isfinite(value):
            raise PydanticCustomError("finite_number", "expected a finite number, got {given}", {"given": str(value)})
        return value

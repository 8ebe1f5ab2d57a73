"""Common base for every spec: frozen, unknown fields rejected, numbers that are numbers."""
import math
import typing

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError


def _allows_bool(annotation) -> bool:
    return annotation is bool or bool in typing.get_args(annotation)


class Spec(BaseModel):
    """Immutable and strict: a typo in a model file is an error, not a silently ignored key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _numbers_are_numbers(cls, data):
        # pydantic's lax mode reads `true` as 1 in a whole-number field and accepts inf and nan in a
        # float field; in a spec both are typing mistakes that give nonsense or crash a count. (A model
        # validator, not a field one: pydantic forbids "before" field validators on union discriminators.)
        if not isinstance(data, dict):
            return data
        for name, value in data.items():
            field = cls.model_fields.get(name)
            if field is None:
                continue
            if isinstance(value, bool) and not _allows_bool(field.annotation):
                raise PydanticCustomError("number_type", "{field}: expected a number, got {given}", {"field": name, "given": str(value).lower()})
            if isinstance(value, float) and not math.isfinite(value):
                raise PydanticCustomError("finite_number", "{field}: expected a finite number, got {given}", {"field": name, "given": str(value)})
        return data

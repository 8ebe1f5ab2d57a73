"""Bounds on the numbers of a spec, checked wherever the spec is built (options, files, sweeps, notebooks).

A bound is metadata on a field's type: ``Annotated[int, Bound(1, 16_384)]``. Out of range, it raises a
pydantic error of type ``too_low`` or ``too_high`` (a NaN or infinity: ``finite_number``) whose context
carries the limit, a hint for a value too low and the reason for the upper limit; estimators/specs/messages.py
words it. Upper limits of this planner (not of the hardware or the model) keep every command answering
within seconds: each is far beyond any real training plan, while the search, the Monte Carlo and the
per-layer counts grow with them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic_core import PydanticCustomError, core_schema

BOUND_REASON = "a bound of this planner that keeps every command answering within seconds"
MAX_MODEL_WHOLE_NUMBER = 1_000_000  # widths, heads, vocabularies, channels of a model file
MAX_MODEL_DEPTH = 10_000  # layers, blocks, a block kind's count: the counts walk them one by one


@dataclass(frozen=True)
class Bound:
    """Allowed range of a number; ``above`` makes the low end exclusive (a positive real). ``hint`` is said
    when the value is too low, ``why`` when it is too high; ``unit`` follows the upper limit ('GPUs')."""

    low: float
    high: float
    above: bool = False
    hint: str = ""
    why: str = BOUND_REASON
    unit: str = ""

    def __get_pydantic_core_schema__(self, source: Any, handler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler) -> dict:
        json_schema = handler(schema)
        json_schema["exclusiveMinimum" if self.above else "minimum"] = self.low
        json_schema["maximum"] = self.high
        return json_schema

    def check(self, value):
        """``value`` when within the bound; else a pydantic error that messages.py words."""
        context = {"value": value, "low": self.low, "high": self.high, "above": self.above, "hint": self.hint,
                   "why": self.why, "unit": self.unit}
        if isinstance(value, float) and not math.isfinite(value):
            raise PydanticCustomError("finite_number", "expected a finite number, got {value}", context)
        if value <= self.low if self.above else value < self.low:
            raise PydanticCustomError("too_low", "must be {relation} {low}", {**context, "relation": "more than" if self.above else "at least"})
        if value > self.high:
            raise PydanticCustomError("too_high", "at most {high} ({why})", context)
        return value


# The whole numbers of a model file (specs/dit_blocks.py, models.py, text_encoders.py, vaes.py).
Depth = Annotated[int, Bound(1, MAX_MODEL_DEPTH)]
Size = Annotated[int, Bound(1, MAX_MODEL_WHOLE_NUMBER)]
SizeOrZero = Annotated[int, Bound(0, MAX_MODEL_WHOLE_NUMBER)]

"""Pydantic's validation errors in the user's words: the field, what was expected, the value given."""
from __future__ import annotations

from pydantic import BaseModel, ValidationError


def plain_error(exc: ValidationError, origin: str, model: type[BaseModel] | None = None) -> str:
    """The first problem of a pydantic error in plain words: where, what was expected, what was given."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    kind, ctx, given_value = err["type"], err.get("ctx") or {}, err.get("input")
    shown = f", got {given_value!r}" if isinstance(given_value, (int, float, str)) else ""
    if kind == "extra_forbidden":
        known = f" (known: {', '.join(model.model_fields)})" if model is not None and len(err["loc"]) == 1 else ""
        text = f"unknown field{known}"
    elif kind == "missing":
        text = "missing; this field is required"
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        words = {"greater_than": "more than", "greater_than_equal": "at least", "less_than": "less than", "less_than_equal": "at most"}
        limit = next(iter(ctx.values()), "")
        text = f"expected a number {words[kind]} {limit}{shown}"
    elif kind.startswith("int_"):
        text = f"expected a whole number{shown}"
    elif kind.startswith(("float_", "finite_")):
        text = f"expected a finite number{shown}"
    elif kind.startswith("bool_"):
        text = f"expected true or false{shown}"
    elif kind == "literal_error":
        text = f"expected {ctx.get('expected', 'one of the listed values')}{shown}"
    elif kind == "too_short":
        text = f"expected at least {ctx.get('min_length', 1)} entries"
    elif kind == "value_error":
        text = str(ctx.get("error", err["msg"]))
    elif kind in ("model_type", "dict_type", "tuple_type", "list_type", "string_type"):
        expected = {"model_type": "a mapping", "dict_type": "a mapping", "tuple_type": "a list", "list_type": "a list", "string_type": "text"}[kind]
        text = f"expected {expected}{shown}"
    else:
        text = err["msg"]
    return f"{origin}: {where}: {text}" if origin else f"{where}: {text}"

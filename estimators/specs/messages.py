"""The one translator of pydantic's validation errors into plain words, for options and files alike.

The caller says how the user spelled the input (``Spelling``): the command-line option or ``key=value``
pair each field came from, the file it was read from, and whether it is a document of many parts.

- Typed inputs (options, ``--stage``/``--layout`` pairs, workload files, golden scenarios, notebooks): the
  first problem, one line. A number out of its bound repeats the name and value as typed, then the rule
  (``--frames 0: must be at least 1``, ``w.yaml: stages.0.steps=10000000000000: at most ...``); anything
  else names the field, what was expected and the value given (``--layout: tp: expected a number more
  than 0, got 0``).
- Documents (model files, GPU files): every problem at once, one 'field.path: what is wrong' line each.
  Pydantic's locations also name union branches ('video_dit', 'tagged-union[...]', 'tuple[...]'); the
  path is walked along the input to keep only the field path and drop the branches the input did not take.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from pydantic import BaseModel, ValidationError

from estimators.specs.bounds import BOUND_REASON

TAG_KEYS = ("family", "kind")
SEQUENCE_BRANCHES = ("tuple[", "list[")
RANGE_KINDS = ("too_low", "too_high", "finite_number")
COMPARISONS = {"greater_than": ("more than", ">"), "greater_than_equal": ("at least", ">="),
               "less_than": ("less than", "<"), "less_than_equal": ("at most", "<=")}
SHAPES = {"model_type": "a mapping", "dict_type": "a mapping", "model_attributes_type": "a mapping",
          "tuple_type": "a list", "list_type": "a list", "string_type": "text"}


@dataclass(frozen=True)
class Spelled:
    """How the user wrote one field: its name as typed ('--frames', '--stage: frames'), what stands between
    the name and the value ('--frames 0', 'frames=0'; None: the name already shows the value), and the
    field's value per unit typed (--restart-min sets seconds: 60 a minute)."""

    name: str
    separator: Optional[str] = " "
    per_unit: float = 1.0


@dataclass(frozen=True)
class Spelling:
    """How an input was written. ``origin`` names it (a file, '--stage'); ``fields`` maps dotted field paths
    to how they were typed; other fields are named 'origin: path' with ``separator`` before their value.
    ``document``: a file of many parts, every problem reported."""

    origin: str = ""
    fields: Mapping[str, Spelled] = field(default_factory=dict)
    separator: str = "="
    document: bool = False


def plain_words(exc: ValidationError, spelling: Spelling = Spelling(), data: Any = None,
                model: Optional[type[BaseModel]] = None) -> str:
    """The validation error in the user's words: one line for a typed input, one line per problem of a
    document. ``data`` is the input a document was validated from; ``model`` the spec a typed input built
    (to list its fields when one is unknown)."""
    if spelling.document:
        prefix = f"{spelling.origin}: " if spelling.origin else ""
        return "\n".join(prefix + line for line in document_problems(exc, data))
    return _typed_line(exc.errors()[0], spelling, model)


# ---- typed inputs -------------------------------------------------------------------------------------

def _location(err: dict) -> tuple:
    """The error's field path; a check of the whole spec (specs/base.py) names its field in the context."""
    loc, ctx = tuple(err["loc"]), err.get("ctx") or {}
    return loc + (ctx["field"],) if "field" in ctx else loc


def _shown(value: Any, per_unit: float) -> str:
    if per_unit != 1 and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = value / per_unit
    return str(value).lower() if isinstance(value, bool) else str(value)


def _typed_line(err: dict, spelling: Spelling, model: Optional[type[BaseModel]]) -> str:
    path = ".".join(str(p) for p in _location(err))
    spelled = spelling.fields.get(path)
    if spelled is None:
        where = path or "(top level)"
        spelled = Spelled(f"{spelling.origin}: {where}" if spelling.origin else where, spelling.separator)
    kind, ctx = err["type"], err.get("ctx") or {}
    value = ctx.get("value", ctx.get("given", err.get("input")))
    if kind in RANGE_KINDS:
        subject = spelled.name if spelled.separator is None else f"{spelled.name}{spelled.separator}{_shown(value, spelled.per_unit)}"
        return f"{subject}: {_range_rule(kind, ctx, spelled.per_unit)}"
    known = f" (known: {', '.join(model.model_fields)})" if model is not None and len(err["loc"]) == 1 else ""
    return f"{spelled.name}: {_typed_rule(err, known)}"


def _range_rule(kind: str, ctx: dict, per_unit: float) -> str:
    if kind == "finite_number":
        return "expected a finite number"
    if kind == "too_low":
        return f"must be {ctx['relation']} {ctx['low'] / per_unit:,g}{ctx['hint']}"
    unit = f" {ctx['unit']}" if ctx["unit"] else ""
    return f"at most {ctx['high'] / per_unit:,.0f}{unit} ({ctx['why']})"


def _typed_rule(err: dict, known: str) -> str:
    kind, ctx, given_value = err["type"], err.get("ctx") or {}, err.get("input")
    shown = f", got {given_value!r}" if isinstance(given_value, (int, float, str)) else ""
    if kind == "extra_forbidden":
        return f"unknown field{known}"
    if kind == "missing":
        return "missing; this field is required"
    if kind in COMPARISONS:
        return f"expected a number {COMPARISONS[kind][0]} {next(iter(ctx.values()), '')}{shown}"
    if kind.startswith("int_"):
        return f"expected a whole number{shown}"
    if kind.startswith("float_"):
        return f"expected a finite number{shown}"
    if kind == "number_type":
        return f"expected a number, got {ctx['given']}"
    if kind.startswith("bool_"):
        return f"expected true or false{shown}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected', 'one of the listed values')}{shown}"
    if kind in ("too_short", "too_long"):
        return _length_rule(kind, ctx)
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind in SHAPES:
        return f"expected {SHAPES[kind]}{shown}"
    return err["msg"]


def _length_rule(kind: str, ctx: dict) -> str:
    """A list too short, or longer than this planner's bound (every max_length on a spec is one)."""
    if kind == "too_long":
        return f"{ctx.get('actual_length')} entries, at most {ctx.get('max_length')} ({BOUND_REASON})"
    if ctx.get("min_length") == 1:
        return "empty; expected at least one entry"
    return f"expected at least {ctx.get('min_length')} entries"


# ---- documents ----------------------------------------------------------------------------------------

def _describe(value: Any) -> str:
    """A short rendering of the offending value."""
    text = repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
    if isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, (list, tuple)):
        text = "a list"
    return text if len(text) <= 40 else text[:37] + "..."


def _grouped(number: float) -> str:
    """1,000,000 for a whole number (even one read as 1e6), else the number as written."""
    return f"{int(number):,}" if float(number).is_integer() else f"{number:,}"


def _field_path(loc: tuple, data: Any) -> tuple[str, bool]:
    """(dotted field path, whether the error belongs to a union branch the input did not take)."""
    parts, node = [], data
    for part in loc:
        if isinstance(part, str) and isinstance(node, dict) and part not in node:
            if any(node.get(key) == part for key in TAG_KEYS):
                continue  # the discriminator's branch name, not a field
            if "[" in part or part.startswith("function-"):
                if part.startswith(SEQUENCE_BRANCHES):
                    return "", True  # a mapping was given; the list branch does not apply
                continue
        if isinstance(part, str) and "[" in part:
            if isinstance(node, (list, tuple)) != part.startswith(SEQUENCE_BRANCHES):
                return "", True  # the branch for the other shape (one item vs a list)
            continue
        parts.append(f"[{part}]" if isinstance(part, int) else part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, (list, tuple)) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    path = ".".join(parts).replace(".[", "[")
    return path or "(top level)", False


def _document_rule(err: dict) -> str:
    """The error in plain words for a person writing YAML."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    got = f", got {_describe(ctx.get('value', value))}"
    if kind == "missing":
        return "required but missing"
    if kind == "extra_forbidden":
        return "not a field of this part (misspelt, or belongs elsewhere)"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "expected a whole number" + got
    if kind in ("float_parsing", "float_type"):
        return "expected a number" + got
    if kind in ("bool_parsing", "bool_type"):
        return "expected true or false" + got
    if kind == "number_type":
        return f"expected a number, got {ctx['given']}"
    if kind == "finite_number":
        return f"expected a finite number, got {ctx.get('given', ctx.get('value'))}"
    if kind == "too_high":
        return f"{_grouped(ctx['value'])} is more than this planner's bound of {_grouped(ctx['high'])}"
    if kind == "too_low":
        whole = isinstance(ctx["value"], int)
        return f"expected {'a whole number' if whole else 'a number'} {'>' if ctx['above'] else '>='} {ctx['low']:g}" + got
    if kind in COMPARISONS:
        bound = next(iter(ctx.values()), "")
        if kind == "greater_than" and isinstance(value, int) and bound == 0:
            return "expected a whole number >= 1" + got
        return f"expected {'a whole number' if isinstance(value, int) else 'a number'} {COMPARISONS[kind][1]} {bound}" + got
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}" + got
    if kind == "union_tag_invalid":
        return f"unknown {ctx.get('discriminator', '').strip(chr(39))} {_describe(ctx.get('tag'))} (expected one of {ctx.get('expected_tags')})"
    if kind == "union_tag_not_found":
        return f"missing {ctx.get('discriminator')}, which says what this part is"
    if kind in ("string_type", "string_too_short"):
        return "expected text" + got
    if kind in ("tuple_type", "list_type"):
        return "expected a list" + got
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "expected a mapping of fields" + got
    if kind in ("too_short", "too_long"):
        return _length_rule(kind, ctx)
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return str(err["msg"])


def document_problems(exc: ValidationError, data: Any) -> list[str]:
    """One 'path: problem' line per distinct problem of the input ``data``."""
    lines, seen_paths = [], []
    for err in exc.errors():
        path, other_branch = _field_path(_location(err), data)
        if other_branch:
            continue
        seen_paths.append((path, err["type"]))
        lines.append((path, err["type"], f"{path}: {_document_rule(err)}"))
    misspelt = _misspellings([(path, kind) for path, kind, _ in lines])
    out = []
    for path, kind, line in lines:
        # a list reported too short because its items failed is not a problem of its own
        if kind == "too_short" and any(p != path and p.startswith(path + "[") for p, _ in seen_paths):
            continue
        if path in misspelt.values():
            continue  # reported with the misspelling that caused it
        if path in misspelt:
            line = f"{path}: not a field; did you mean '{misspelt[path].rsplit('.', 1)[-1]}'?"
        if line not in out:
            out.append(line)
    return out


def _misspellings(errors: list[tuple[str, str]]) -> dict[str, str]:
    """Unknown field path -> the missing field of the same part it most likely misspells."""
    missing = [path for path, kind in errors if kind == "missing"]
    found = {}
    for path, kind in errors:
        if kind != "extra_forbidden":
            continue
        parent, _, name = path.rpartition(".")
        siblings = {m.rpartition(".")[2]: m for m in missing if m.rpartition(".")[0] == parent and m not in found.values()}
        close = difflib.get_close_matches(name, list(siblings), n=1, cutoff=0.75)
        if close:
            found[path] = siblings[close[0]]
    return found

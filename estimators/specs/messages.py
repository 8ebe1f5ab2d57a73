"""Every problem of a model file at once, each as 'field.path: what is wrong' in plain words.

Pydantic reports each error with a location that also names union branches ('video_dit',
'tagged-union[...]', 'tuple[...]') and with library wording; this module walks the location along
the input to keep only the field path, drops the branches the input did not choose, and words each
error type for a person writing YAML.
"""
from __future__ import annotations

import difflib
from typing import Any

from pydantic import ValidationError

TAG_KEYS = ("family", "kind")
SEQUENCE_BRANCHES = ("tuple[", "list[")


def _describe(value: Any) -> str:
    """A short rendering of the offending value."""
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, (list, tuple)):
        text = "a list"
    return text if len(text) <= 40 else text[:37] + "..."


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


def _wording(err: dict) -> str:
    """The error in plain words."""
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    got = f", got {_describe(value)}"
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
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        sign = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        bound = next(iter(ctx.values()), "")
        number = "a whole number" if isinstance(value, int) else "a number"
        if kind == "greater_than" and isinstance(value, int) and bound == 0:
            return "expected a whole number >= 1" + got
        return f"expected {number} {sign} {bound}" + got
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
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} item(s)"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    return str(err["msg"])


def validation_problems(exc: ValidationError, data: Any) -> list[str]:
    """One 'path: problem' line per distinct problem of the input ``data``."""
    lines, seen_paths = [], []
    for err in exc.errors():
        path, other_branch = _field_path(err["loc"], data)
        if other_branch:
            continue
        seen_paths.append((path, err["type"]))
        lines.append((path, err["type"], f"{path}: {_wording(err)}"))
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

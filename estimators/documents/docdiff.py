"""What moved between two JSON documents (plans, golden files): flattened keys, relative changes."""
from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import validate_call

from estimators.specs.bounds import Bound

Tolerance = Annotated[float, Bound(0, 1e6)]  # relative change ignored (0.01 = 1%)


def flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': [1, 2]}} -> {'a.b.0': 1, 'a.b.1': 2}."""
    if isinstance(doc, dict):
        items = doc.items()
    elif isinstance(doc, list):
        items = enumerate(doc)
    else:
        return {prefix: doc}
    out: dict[str, Any] = {}
    for key, value in items:
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def relative_change(old: float, new: float) -> float:
    """new / old - 1, with 0 -> 0 as no change and 0 -> x as infinite."""
    if old == new:
        return 0.0
    return math.inf if old == 0 else new / old - 1


@validate_call
def diff(old: Any, new: Any, tolerance: Tolerance = 0.0) -> list[dict]:
    """Changes beyond ``tolerance`` (relative) for numbers, any change otherwise; added/removed keys too."""
    a, b = flatten(old), flatten(new)
    rows = []
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            rows.append({"key": key, "old": a.get(key), "new": b.get(key), "change": "added" if key in b else "removed"})
        elif _is_number(a[key]) and _is_number(b[key]):
            change = relative_change(float(a[key]), float(b[key]))
            if abs(change) > tolerance:
                # JSON has no infinity: a figure that left zero is said in words
                rows.append({"key": key, "old": a[key], "new": b[key], "change": change if math.isfinite(change) else "from zero"})
        elif a[key] != b[key]:
            rows.append({"key": key, "old": a[key], "new": b[key], "change": "changed"})
    return rows

"""What moved between two JSON documents (plans, simulations, back-tests, golden files).

Documents are flattened to dotted keys. A list of mappings that name themselves (``name``, ``id``, ``label``,
or ``gpu`` with ``num_gpus``) is keyed by that identity, not by position: a plan's collectives, stages and
ranked layouts, a back-test's rows and a deadline answer's candidates are compared item by item, and an
item present on one side only is added or removed (a text all-reduce is never compared with a K/V
exchange because both were third). The headline figures of the document's kind come first; two
documents of different kinds are not compared.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Field, validate_call

from estimators.errors import PlanInputError
from estimators.results import Document, Result
from estimators.specs.bounds import Bound

Tolerance = Annotated[float, Bound(0, 1e6)]  # relative change ignored (0.01 = 1%)
Leaf = Optional[Union[bool, int, float, str]]
# Keys that name an item of a list, tried in order (a fleet candidate is a GPU kind at a size).
IDENTITIES = (("name",), ("id",), ("label",), ("gpu", "num_gpus"),
              ("gpu", "gpus_per_replica", "batch"), ("gpu", "gpus", "batch"), ("gpu",))  # serving: fleets, replicas, kinds
# The figures a reader checks first, by document kind (dotted keys as flattened).
HEADLINES = {
    "estimate": ("answer", "cluster.gpu", "cluster.num_gpus", "step_time_s", "train_time_days", "preprocessing_days", "cost_usd",
                 "gpu_hours", "mfu", "memory_per_gpu_bytes.total", "energy_kwh"),
    "estimate-deadline": ("choice.gpu", "choice.num_gpus", "choice.elapsed_days", "choice.elapsed_days_high", "choice.cost_usd",
                          "choice.layout"),
    "simulate": ("step.step_time_s", "failure_free_days", "wall_clock_days.p50", "wall_clock_days.p90", "goodput"),
    "backtest": ("mape", "max_abs_error", "cv.mape", "baseline.mape"),
    "serve": ("answer", "choice.gpu", "choice.gpus_per_replica", "choice.replicas", "choice.p95_s", "choice.cost_per_clip_usd",
              "choice.gpu_hours_per_day"),
    "serve-backtest": ("mape", "mape_end_to_end", "mape_own_kernel_tables", "mape_transferred_kernel_tables"),
    "loadtest": ("measured_service_s", "predicted_service_s", "service_error", "p95_mape_below_saturation"),
}
# A document without a 'kind' key (written before kinds were added): the keys only that kind has.
SIGNATURES = {"estimate-deadline": ("choice", "candidates"), "estimate": ("stages", "cluster"), "simulate": ("goodput", "wall_clock_days"),
              "backtest": ("rows", "baseline")}
# Figures whose last key names them, for documents of no known kind (golden files: 'scenario.step_time_s').
GENERIC_HEADLINES = ("step_time_s", "train_time_days", "cost_usd", "gpu_hours", "mfu", "memory_per_gpu_bytes")


class FigureChange(Result):
    """One figure that moved (or a headline figure, moved or not)."""

    key: str = Field(description="Dotted key; list items by their identity, e.g. 'stages[480p].collectives[dp gradient all-reduce].seconds'.")
    old: Leaf
    new: Leaf
    change: Union[float, Literal["added", "removed", "changed", "from zero", "unchanged"]] = Field(
        description="new / old - 1 for numbers; otherwise what happened.")
    headline: bool = Field(description="One of the figures of this kind of document a reader checks first.")


class DiffResult(Document):
    """`plan diff --json`: the headline figures of both documents, then every figure that moved."""

    kind: Literal["diff"] = "diff"
    old_document: str
    new_document: str
    documents_kind: Optional[str] = Field(description="The kind both documents are (None: plain JSON of no known kind).")
    tolerance: float = Field(description="Relative changes up to this were ignored.")
    headline: list[FigureChange] = Field(description="The headline figures of the kind, in reading order, moved or not.")
    moved: list[FigureChange] = Field(description="Every figure that moved beyond the tolerance: headline figures first, then the "
                                                  "largest relative changes.")
    notes: list[str]


def _identity(items: list) -> Optional[tuple[str, ...]]:
    """The identity keys every item of a list of mappings has, with distinct values; None when none does."""
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for keys in IDENTITIES:
        if all(all(k in item and isinstance(item[k], (str, int)) for k in keys) for item in items):
            names = [_name(item, keys) for item in items]
            if len(set(names)) == len(names):
                return keys
    return None


def _name(item: dict, keys: tuple[str, ...]) -> str:
    return "x".join(str(item[k]) for k in keys)


def flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': [1, 2]}} -> {'a.b.0': 1, 'a.b.1': 2}; items of a list of named mappings as 'a[name]'.
    Iterative: a document is at most estimators.catalog.files.MAX_DEPTH deep, but this never recurses."""
    out: dict[str, Any] = {}
    pending = [(prefix, doc)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            pending.extend((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            keys = _identity(value)
            if keys is None:
                pending.extend((f"{path}.{i}" if path else str(i), v) for i, v in enumerate(value))
            else:
                pending.extend((f"{path}[{_name(v, keys)}]", v) for v in value)
        else:
            out[path] = value
    return dict(sorted(out.items()))


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def relative_change(old: float, new: float) -> float:
    """new / old - 1, with 0 -> 0 as no change and 0 -> x as infinite."""
    if old == new:
        return 0.0
    return math.inf if old == 0 else new / old - 1


def document_kind(doc: Any) -> Optional[str]:
    """The document's kind: its 'kind' key, else the kind whose signature keys it has, else None."""
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("kind"), str):
        return doc["kind"]
    return next((kind for kind, keys in SIGNATURES.items() if all(k in doc for k in keys)), None)


def _change(key: str, a: dict, b: dict, tolerance: float, headline: bool) -> Optional[FigureChange]:
    """The figure's change, or None when it did not move beyond the tolerance (a headline figure is always kept)."""
    old, new = a.get(key), b.get(key)
    if key not in a or key not in b:
        change: Any = "added" if key in b else "removed"
    elif _is_number(old) and _is_number(new):
        relative = relative_change(float(old), float(new))
        if abs(relative) <= tolerance:
            change = "unchanged"
        else:
            change = relative if math.isfinite(relative) else "from zero"  # JSON has no infinity
    else:
        change = "unchanged" if old == new else "changed"
    if change == "unchanged" and not headline:
        return None
    return FigureChange(key=key, old=old, new=new, change=change, headline=headline)


def _copy_of_last_stage(key: str, doc: Any, a: dict, b: dict) -> bool:
    """A plan's top-level per-sample figure that repeats its last stage's (estimate documents carry both): listed once,
    under the stage."""
    stages = doc.get("stages") if isinstance(doc, dict) else None
    if not (isinstance(stages, list) and stages and isinstance(stages[-1], dict) and "name" in stages[-1]):
        return False
    copy = f"stages[{stages[-1]['name']}].{key}"
    return copy in a and copy in b and a.get(key) == a[copy] and b.get(key) == b[copy]


def _headline_keys(kind: Optional[str], keys: list[str]) -> list[str]:
    if kind in HEADLINES:
        return [k for k in HEADLINES[kind] if k in keys]
    return [k for k in keys if k.rsplit(".", 1)[-1] in GENERIC_HEADLINES]


def _size(row: FigureChange) -> float:
    """Sort key of the other moved figures: largest relative change first, then words."""
    return -abs(row.change) if isinstance(row.change, float) else 0.0


@validate_call
def diff(old: Any, new: Any, tolerance: Tolerance = 0.0) -> list[FigureChange]:
    """Changes beyond ``tolerance`` (relative) for numbers, any change otherwise; added and removed keys too;
    headline figures first, then the largest changes."""
    return compare(old, new, tolerance).moved


@validate_call
def compare(old: Any, new: Any, tolerance: Tolerance = 0.0, old_name: str = "old", new_name: str = "new") -> DiffResult:
    """Both documents' headline figures and everything that moved; a one-line error when their kinds differ."""
    kinds = (document_kind(old), document_kind(new))
    if kinds[0] != kinds[1]:
        said = [f"{name} is {f'a document of kind {kind}' if kind else 'JSON of no known document kind'}"
                for name, kind in zip((old_name, new_name), kinds)]
        raise PlanInputError(f"{said[0]}, {said[1]}: plan diff compares two documents of one kind")
    a, b = flatten(old), flatten(new)
    keys = [key for key in sorted(set(a) | set(b)) if not _copy_of_last_stage(key, new, a, b)]
    headline_keys = _headline_keys(kinds[0], sorted(set(a) | set(b)))
    headline = [row for key in headline_keys if (row := _change(key, a, b, tolerance, True)) is not None]
    others = [row for key in keys if key not in headline_keys and (row := _change(key, a, b, tolerance, False)) is not None]
    notes = []
    versions = (a.get("schema_version"), b.get("schema_version"))
    if versions[0] != versions[1]:
        notes.append(f"schema versions differ ({versions[0]} -> {versions[1]}): keys may have been added or renamed")
    return DiffResult(old_document=old_name, new_document=new_name, documents_kind=kinds[0], tolerance=tolerance, headline=headline,
                      moved=[row for row in headline if row.change != "unchanged"] + sorted(others, key=_size), notes=notes)

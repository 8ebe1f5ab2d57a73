"""Explaining a search: the best layouts with their bottleneck, and why popular alternatives lose."""
from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import ConfigDict, SkipValidation, validate_call

from estimators.search.layout_search import SearchResult
from estimators.specs.bounds import Bound
from estimators.specs.layout_arrays import RECOMPUTE_CODES, LayoutArrays
from estimators.time.time_model import STEP_PARTS

GIB = 2**30
LayoutsListed = Annotated[int, Bound(0, 1_000)]  # the best layouts listed ahead of the popular families
# Families a reviewer asks about, as masks over the evaluated layouts.
POPULAR = {
    "DP-only (ZeRO-1, no model parallelism)": lambda l: (l.tp == 1) & (l.pp == 1) & (l.cp == 1) & (l.zero <= 1),
    "FSDP only (ZeRO-3, no model parallelism)": lambda l: (l.tp == 1) & (l.pp == 1) & (l.cp == 1) & (l.zero == 3),
    "Tensor parallel 8 in a node": lambda l: (l.tp == 8) & (l.cp == 1),
    "Pipeline parallel (pp > 1)": lambda l: l.pp > 1,
    "No activation recompute": lambda l: l.recompute == RECOMPUTE_CODES["none"],
}


def short_label(lay: LayoutArrays, i: int) -> str:
    """Compact layout text, e.g. 'tp1 cp4 pp1 dp128 z3 mb1 selective ulysses'."""
    l = lay.layout(i)
    kind = f" {l.cp_kind}" if l.cp > 1 else ""
    vpp = f" v{l.vpp}" if l.vpp > 1 else ""
    return f"tp{l.tp} cp{l.cp} pp{l.pp}{vpp} dp{l.dp} z{l.zero} mb{l.micro_batch} {l.recompute}{kind}"


def bottleneck(metrics: dict, i: int) -> str:
    """The largest part of layout i's step time."""
    parts = {f"{k}_s": float(metrics[f"{k}_s"][i]) for k in STEP_PARTS}
    name = max(parts, key=parts.get)
    return f"{name.removesuffix('_s')} {parts[name] / float(metrics['step_time_s'][i]):.0%}"


def _row(result: SearchResult, i: int, verdict: str) -> dict:
    m = result.metrics
    return {
        "label": short_label(result.layouts, i),
        "layout": result.layouts.layout(i).model_dump(),
        "step_time_s": float(m["step_time_s"][i]),
        "memory_bytes": float(m["memory"]["total"][i]),
        "verdict": verdict,
    }


@validate_call(config=ConfigDict(arbitrary_types_allowed=True))  # checks ``top``; the search result is taken as given
def explain(result: SkipValidation[SearchResult], capacity_bytes: float, top: LayoutsListed = 5) -> list[dict]:
    """Rows: the ``top`` best layouts, then the best of each popular family with why it loses."""
    m, lay = result.metrics, result.layouts
    rows = [_row(result, int(i), f"#{rank + 1}: {bottleneck(m, int(i))}") for rank, i in enumerate(result.ranked[:top])]
    if len(result.ranked) == 0:
        return rows
    best_time = float(m["step_time_s"][result.ranked[0]])
    for name, family in POPULAR.items():
        mask = family(lay) & m["valid"]
        if not mask.any():
            rows.append({"label": name, "layout": None, "step_time_s": None, "memory_bytes": None,
                         "verdict": "no valid layout of this kind for this model and cluster"})
            continue
        fitting = np.flatnonzero(mask & m["fits"])
        if len(fitting) == 0:
            smallest = np.flatnonzero(mask)[np.argmin(m["memory"]["total"][mask])]
            verdict = f"does not fit: {m['memory']['total'][smallest] / GIB:.0f} GiB > {capacity_bytes / GIB:.0f} GiB"
            rows.append({**_row(result, int(smallest), verdict), "label": f"{name}: {short_label(lay, int(smallest))}"})
            continue
        # the family's best is its first layout in the search's ranking (which breaks step-time ties), so a
        # family holding the overall best names that layout, not a tied runner-up
        i = int(result.ranked[np.argmax(mask[result.ranked])])
        slower = float(m["step_time_s"][i]) / best_time - 1
        if i == int(result.ranked[0]):
            verdict = "this is the best layout"
        else:
            rank = int(np.flatnonzero(result.ranked == i)[0]) + 1
            verdict = f"#{rank}, {slower:.0%} slower; {bottleneck(m, i)}"
        rows.append({**_row(result, i, verdict), "label": f"{name}: {short_label(lay, i)}"})
    return rows

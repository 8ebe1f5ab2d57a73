"""Explaining a search: the best layouts with their bottleneck, and why popular alternatives lose."""
from __future__ import annotations

from typing import Annotated, Optional

import numpy as np
from pydantic import Field

from estimators.results import Result
from estimators.search.layout_search import SearchResult
from estimators.specs.bounds import Bound
from estimators.specs.layout import Layout
from estimators.specs.layout_arrays import RECOMPUTE_CODES, LayoutArrays
from estimators.units import GIB

LayoutsListed = Annotated[int, Bound(0, 1_000)]  # the best layouts listed ahead of the popular families
# Families a reviewer asks about, as masks over the evaluated layouts.
POPULAR = {
    "DP-only (ZeRO-1, no model parallelism)": lambda l: (l.tp == 1) & (l.pp == 1) & (l.cp == 1) & (l.zero <= 1),
    "FSDP only (ZeRO-3, no model parallelism)": lambda l: (l.tp == 1) & (l.pp == 1) & (l.cp == 1) & (l.zero == 3),
    "Tensor parallel 8 in a node": lambda l: (l.tp == 8) & (l.cp == 1),
    "Pipeline parallel (pp > 1)": lambda l: l.pp > 1,
    "No activation recompute": lambda l: l.recompute == RECOMPUTE_CODES["none"],
}
DEFAULT_RANKED = 5  # best layouts a plan lists


class RankedLayout(Result):
    """One row of the ranking: a searched layout or a popular family's best, with its verdict."""

    label: str
    layout: Optional[Layout] = Field(description="None where the family has no valid layout.")
    step_time_s: Optional[float]
    memory_bytes: Optional[float]
    verdict: str


class SearchSummary(Result):
    """How many layouts the search evaluated, how many are valid and fit, and the ranking."""

    layouts_evaluated: int
    layouts_valid_and_fitting: int
    ranking: tuple[RankedLayout, ...]


def short_label(lay: LayoutArrays, i: int) -> str:
    """Compact layout text, e.g. 'tp1 cp4 pp1 dp128 z3 mb1 selective ulysses'."""
    l = lay.layout(i)
    kind = f" {l.cp_kind}" if l.cp > 1 else ""
    vpp = f" v{l.vpp}" if l.vpp > 1 else ""
    partial = f"x{l.recompute_layers}" if l.recompute_layers is not None and l.recompute != "none" else ""
    offload = " offload" if l.offload else ""
    return f"tp{l.tp} cp{l.cp} pp{l.pp}{vpp} dp{l.dp} z{l.zero} mb{l.micro_batch} {l.recompute}{partial}{offload}{kind}"


def bottleneck(result: SearchResult, i: int) -> str:
    """The largest part of layout i's step time."""
    time = result.evaluation.time
    parts = time.breakdown(i).parts()
    name = max(parts, key=parts.get)
    return f"{name} {parts[name] / float(time.step_time_s[i]):.0%}"


def _row(result: SearchResult, i: int, verdict: str, label: str | None = None) -> RankedLayout:
    return RankedLayout(label=label or short_label(result.layouts, i), layout=result.layouts.layout(i),
                        step_time_s=float(result.evaluation.time.step_time_s[i]),
                        memory_bytes=float(result.evaluation.memory.total[i]), verdict=verdict)


def _family_row(result: SearchResult, name: str, mask: np.ndarray, capacity_bytes: float) -> RankedLayout:
    """The best layout of a popular family, or why it has none."""
    ev, lay = result.evaluation, result.layouts
    if not mask.any():
        return RankedLayout(label=name, layout=None, step_time_s=None, memory_bytes=None,
                            verdict="no valid layout of this kind for this model and cluster")
    if not (mask & ev.fits).any():
        smallest = int(np.flatnonzero(mask)[np.argmin(ev.memory.total[mask])])
        verdict = f"does not fit: {ev.memory.total[smallest] / GIB:.0f} GiB > {capacity_bytes / GIB:.0f} GiB"
        return _row(result, smallest, verdict, f"{name}: {short_label(lay, smallest)}")
    # the family's best is its first layout in the search's ranking (which breaks step-time ties), so a
    # family holding the overall best names that layout, not a tied runner-up
    i = int(result.ranked[np.argmax(mask[result.ranked])])
    if i == int(result.ranked[0]):
        verdict = "this is the best layout"
    else:
        rank = int(np.flatnonzero(result.ranked == i)[0]) + 1
        slower = float(ev.time.step_time_s[i]) / float(ev.time.step_time_s[result.ranked[0]]) - 1
        verdict = f"#{rank}, {slower:.0%} slower; {bottleneck(result, i)}"
    return _row(result, i, verdict, f"{name}: {short_label(lay, i)}")


def explain(result: SearchResult, capacity_bytes: float, top: int = DEFAULT_RANKED) -> SearchSummary:
    """The ``top`` best layouts, then the best of each popular family with why it loses."""
    rows = [_row(result, int(i), f"#{rank + 1}: {bottleneck(result, int(i))}") for rank, i in enumerate(result.ranked[:top])]
    if len(result.ranked) > 0:
        valid = result.evaluation.valid
        rows += [_family_row(result, name, family(result.layouts) & valid, capacity_bytes) for name, family in POPULAR.items()]
    return SearchSummary(layouts_evaluated=len(result), layouts_valid_and_fitting=int(len(result.ranked)), ranking=tuple(rows))

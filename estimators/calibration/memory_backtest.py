"""The memory back-test: the planned memory of each published run's layout against its measured peak.

What a figure measures decides what it is compared with (memory/per_gpu.py's parts):
- ``allocated`` (torch.cuda.max_memory_allocated): the tensors, every part but the runtime reserve and the
  allocator's fragmentation;
- ``reserved`` (max_memory_reserved): the caching allocator's segments, the tensors and their fragmentation;
- ``device`` (nvidia-smi, or a GPU's memory in use): all of it, the CUDA context and NCCL buffers too.
Nothing here is fitted: the rows judge the planner (target: 80% of rows within 0.8-1.25x, issue 18).
"""
from __future__ import annotations

from typing import Union

import numpy as np
from pydantic import Field

from estimators.memory.per_gpu import MemoryBreakdown
from estimators.memory.states import FRAGMENTATION_RANGE
from estimators.results import Result
from estimators.specs.layout import Layout
from estimators.specs.training import Training
from estimators.units import GIB

BAND = (0.8, 1.25)  # a row is within when predicted / measured lies in this band


def predicted_bytes(memory: MemoryBreakdown, measures: str) -> tuple[float, float, float]:
    """(central, low, high) planned bytes of what ``measures`` measures (the range as memory/per_gpu.py spans it:
    the implementation's uncertainty and, beyond the tensors, the fragmentation range)."""
    if measures == "device":
        return memory.total, memory.total_low, memory.total_high
    low, high = memory.total_low - memory.runtime_reserved, memory.total_high - memory.runtime_reserved
    reserved = memory.total - memory.runtime_reserved
    if measures == "reserved":
        return reserved, low, high
    low_fragmentation, high_fragmentation = FRAGMENTATION_RANGE
    return reserved - memory.fragmentation, low / (1 + low_fragmentation), high / (1 + high_fragmentation)


class MemoryRowResult(Result):
    """One published run's measured peak against the planned memory of its layout."""

    id: str
    source: str
    stack: str
    measures: str = Field(description="What the figure measures: allocated, reserved or device.")
    measured_gib: float
    predicted_gib: float = Field(description="Planned GiB of what the figure measures, on the row's layout.")
    predicted_low_gib: float
    predicted_high_gib: float
    ratio: float = Field(description="predicted / measured.")
    within: bool = Field(description="The ratio lies within the band.")
    stage: int = Field(description="The pipeline stage the planned memory is of (the fullest).")
    saved_activations: str
    training: Training
    chosen: dict[str, Union[int, str, bool, None]] = Field(description="The values chosen for the fields the row leaves blank.")
    layout: Layout


class MemoryBacktest(Result):
    """Every row's planned against measured peak, and how many fall within the band."""

    rows: list[MemoryRowResult]
    band: tuple[float, float] = Field(description="predicted / measured within which a row counts as within.")
    within_share: float = Field(description="Share of rows within the band.")
    median_ratio: float
    worst_ratio: float = Field(description="The ratio furthest from 1 (by its logarithm).")


def memory_backtest(rows: list[tuple]) -> MemoryBacktest | None:
    """The memory back-test over (row, layout, memory breakdown, chosen values) of the rows that measure memory."""
    results = []
    for row, layout, memory, chosen in rows:
        if row.measured_peak_bytes is None:
            continue
        central, low, high = predicted_bytes(memory, row.peak_measures)
        ratio = central / row.measured_peak_bytes
        results.append(MemoryRowResult(
            id=row.id, source=row.source, stack=row.stack, measures=row.peak_measures, measured_gib=row.measured_peak_bytes / GIB,
            predicted_gib=central / GIB, predicted_low_gib=low / GIB, predicted_high_gib=high / GIB, ratio=ratio,
            within=BAND[0] <= ratio <= BAND[1], stage=memory.stage, saved_activations=memory.saved_activations,
            training=row.problem.training, chosen=chosen, layout=layout,
        ))
    if not results:
        return None
    ratios = np.array([r.ratio for r in results])
    return MemoryBacktest(rows=results, band=BAND, within_share=float(np.mean([r.within for r in results])),
                          median_ratio=float(np.median(ratios)), worst_ratio=float(ratios[np.argmax(np.abs(np.log(ratios)))]))

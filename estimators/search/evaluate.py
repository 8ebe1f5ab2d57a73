"""Everything about many layouts at once: validity, step time and its parts, memory per GPU."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from estimators.counts.problem import TrainingProblem
from estimators.counts.stages import PipelineRanks
from estimators.memory.per_gpu import MemoryArrays, memory_bytes
from estimators.specs.layout_arrays import LayoutArrays
from estimators.time.step import RunSettings, StepArrays, step_time

TP_BEYOND_DOMAIN = "tp larger than a scale-up domain"


def validity(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings) -> tuple[np.ndarray, np.ndarray]:
    """(valid mask, reason string per layout: '' when valid)."""
    m = lay.micro_batches(settings.global_batch)
    domain = settings.gpu.domain_size
    checks = [
        (np.abs(m - np.round(m)) > 1e-9, "global batch does not divide by dp x micro-batch"),
        (prob.num_layers < lay.pp * lay.vpp, "fewer layers than pipeline chunks"),
        ((prob.heads % lay.tp != 0) | (prob.kv_heads % lay.tp != 0), "heads do not divide by tp"),
        (lay.tp > domain, TP_BEYOND_DOMAIN),
        (~lay.cp_ring & ((prob.heads // np.maximum(lay.tp, 1)) % lay.cp != 0), "Ulysses needs heads/tp divisible by cp"),
        ((lay.vpp > 1) & ((lay.pp == 1) | (np.round(m) % lay.pp != 0)), "interleaving needs pp > 1 and micro-batches divisible by pp"),
        (prob.tokens < lay.cp * lay.tp, "fewer tokens than cp x tp"),
    ]
    # the first failing check of each layout (0: none), as one lookup into the texts
    first = np.zeros(len(lay), dtype=np.int8)
    for index, (failed, _) in reversed(list(enumerate(checks, start=1))):
        first[failed] = index
    texts = np.array([""] + [text for _, text in checks], dtype=object)
    return first == 0, texts[first]


@dataclass(frozen=True)
class LayoutEvaluation:
    """Every layout's validity (and why not), step time by part, and memory per GPU by part."""

    valid: np.ndarray
    reason: np.ndarray  # '' where valid
    fits: np.ndarray
    time: StepArrays
    memory: MemoryArrays

    def __len__(self) -> int:
        return len(self.valid)


def evaluate(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings, checked: tuple | None = None,
             memory: MemoryArrays | None = None) -> LayoutEvaluation:
    """Everything about each layout: validity (``checked``: already found by ``validity``), step time and its parts,
    memory (``memory``: already found by ``memory_bytes``)."""
    valid, reason = checked if checked is not None else validity(prob, lay, settings)
    ranks = PipelineRanks.of(prob, lay)
    if memory is None:
        memory = memory_bytes(prob, lay, settings.global_batch, settings.precision, settings.stack, ranks)
    return LayoutEvaluation(valid=valid, reason=reason, fits=memory.total <= settings.gpu.hbm_bytes.value,
                            time=step_time(prob, lay, settings, ranks), memory=memory)

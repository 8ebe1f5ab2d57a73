"""Layout search: enumerate every layout of a cluster, evaluate them vectorised, rank the ones that fit."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from estimators.counts.problem import TrainingProblem
from estimators.errors import PlanInputError
from estimators.memory.per_gpu import memory_bytes
from estimators.search.evaluate import LayoutEvaluation, evaluate, validity
from estimators.specs.hardware import MAX_GPUS
from estimators.specs.layout_arrays import ALL_LAYERS, RECOMPUTE_CODES, LayoutArrays
from estimators.time.step import RunSettings

ZERO_STAGES = (0, 1, 2, 3)
VIRTUAL_STAGES = (1, 2, 4)
MAX_MICRO_BATCH = 16
# (recompute, share of each stage's layers recomputed, offload): none; none with activations offloaded to the
# host; selective or full on every layer; full on a quarter, half or three quarters of each stage's layers
# (Megatron-Core recompute_num_layers; NeMo's Wan 2.1 14B recipe recomputes part of each stage).
RECOMPUTE_CHOICES = (("none", 1.0, False), ("none", 1.0, True), ("selective", 1.0, False), ("full", 1.0, False),
                     ("full", 0.25, False), ("full", 0.5, False), ("full", 0.75, False))
# A bound that keeps a search within seconds and a few hundred MB (a report runs twenty of them): 10.5
# million layouts took 34 s and 7.9 GB here, so 400,000 take about 1.3 s and 0.3 GB; the default H100x8192
# plan has 100,800. (The cluster size itself is bounded by its spec, specs/hardware.py MAX_GPUS.)
MAX_LAYOUTS = 400_000


def divisors(n: int) -> list[int]:
    """Positive divisors of n, ascending."""
    small = [d for d in range(1, int(n**0.5) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def enumerate_layouts(num_gpus: int, domain_size: int, global_batch: int, fixed: dict | None = None, num_layers: int = 1,
                      node_size: int | None = None) -> LayoutArrays:
    """Every (tp, cp, pp, dp, zero, micro-batch, recompute choice, vpp, cp kind, optimizer on the host within a node)
    whose degrees multiply to the GPU count, with tp inside one scale-up (NVLink) domain of ``domain_size`` GPUs and
    dp x micro-batch dividing the global batch; ``fixed`` pins knobs (names as in ``Layout``). Recompute choices
    (RECOMPUTE_CHOICES) include partial recompute of a share of each stage's ``num_layers`` / (pp x vpp) x vpp layers
    and activation offload. Sequence parallelism is not searched: with tensor parallelism it saves memory and
    element-wise work at the same communication volume (Korthikanti et al. 2022, sec. 4.2.2), so it is on unless
    ``fixed`` turns it off. ``node_size`` (default: the domain) bounds where host optimizer states are searched."""
    node_size = node_size or domain_size
    fixed = fixed or {}
    if num_gpus > MAX_GPUS:
        raise PlanInputError(f"{num_gpus:,} GPUs: the layout search handles at most {MAX_GPUS:,}")
    rows = []
    for tp in [d for d in divisors(num_gpus) if d <= domain_size]:
        for cp in divisors(num_gpus // tp):
            for pp in divisors(num_gpus // (tp * cp)):
                dp = num_gpus // (tp * cp * pp)
                if global_batch % dp:
                    continue
                for mb in [b for b in divisors(global_batch // dp) if b <= MAX_MICRO_BATCH]:
                    rows.append((tp, cp, pp, dp, mb))
    base = np.array(rows, dtype=np.int64).reshape(-1, 5)
    # optimizer states on the host: only searched within one node (fine-tuning on a few GPUs), where they cannot be
    # sharded far; beyond it ZeRO shards them at no time cost
    host_optimizer = (False, True) if num_gpus <= node_size else (False,)
    knobs = list(itertools.product(ZERO_STAGES, range(len(RECOMPUTE_CHOICES)), VIRTUAL_STAGES, (False, True), host_optimizer))
    if len(base) * len(knobs) > MAX_LAYOUTS:
        raise PlanInputError(
            f"{num_gpus:,} GPUs with a global batch of {global_batch:,} give {len(base) * len(knobs):,} layouts to search, "
            f"more than {MAX_LAYOUTS:,}: use a GPU count or global batch with fewer divisors"
        )
    grid = np.repeat(base, len(knobs), axis=0)
    extra = np.tile(np.array(knobs, dtype=np.int64), (len(base), 1))
    choice = extra[:, 1]
    mode = np.array([RECOMPUTE_CODES[c[0]] for c in RECOMPUTE_CHOICES])[choice]
    share = np.array([c[1] for c in RECOMPUTE_CHOICES])[choice]
    stage_layers = np.ceil(num_layers / (grid[:, 2] * extra[:, 2])) * extra[:, 2]
    partial = np.maximum(np.round(share * stage_layers), 1).astype(np.int64)
    lay = LayoutArrays(
        tp=grid[:, 0], cp=grid[:, 1], pp=grid[:, 2], dp=grid[:, 3], micro_batch=grid[:, 4],
        zero=extra[:, 0], recompute=mode, vpp=extra[:, 2], cp_ring=extra[:, 3].astype(bool),
        recompute_layers=np.where(share < 1.0, partial, ALL_LAYERS), offload=np.array([c[2] for c in RECOMPUTE_CHOICES])[choice],
        sp=np.full(len(grid), bool(fixed.get("sp", True))), optimizer_offload=extra[:, 4].astype(bool),
    )
    # a partial share that rounds to the whole stage is the full choice again
    keep_partial = (share == 1.0) | (partial < stage_layers)
    keep = ~((lay.cp == 1) & lay.cp_ring) & ~((lay.pp == 1) & (lay.vpp > 1)) & keep_partial  # drop knobs that change nothing
    for name, value in fixed.items():
        if name == "sp":
            continue  # set on every layout above: not a choice the search makes
        column = "cp_ring" if name == "cp_kind" else name
        target = (value == "ring") if name == "cp_kind" else (RECOMPUTE_CODES[value] if name == "recompute" else value)
        if name == "recompute_layers" and value is None:
            target = ALL_LAYERS
        keep &= getattr(lay, column) == target
    return lay.take(keep)


def config_keys(lay: LayoutArrays) -> np.ndarray:
    """One integer per layout for everything but its recompute choice (dp follows from the GPU count and tp, cp, pp):
    tp in 7 bits, cp and pp in 21 each, micro-batch 5, ZeRO 2, vpp 3, ring and host optimizer 1 each (61 bits)."""
    key = lay.tp.astype(np.int64)
    for column, bits in ((lay.cp, 21), (lay.pp, 21), (lay.micro_batch, 5), (lay.zero, 2), (lay.vpp, 3), (lay.cp_ring, 1),
                         (lay.optimizer_offload, 1)):
        key = (key << bits) | np.asarray(column, dtype=np.int64)
    return key


def needed(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings, high: np.ndarray | None = None) -> np.ndarray:
    """Layouts worth evaluating: partial recompute and activation offload are slower than saving everything, so they
    matter only where saving everything is at risk (its memory high end passes the GPU's); the rest is every layout.
    A configuration without a plain no-recompute layout (pinned knobs) keeps all of its choices. ``high``: every
    layout's memory high end, when already known."""
    extra = lay.offload | (lay.recompute_layers != ALL_LAYERS)
    plain = (lay.recompute == RECOMPUTE_CODES["none"]) & ~lay.offload
    if not extra.any() or not plain.any():
        return np.ones(len(lay), dtype=bool)
    keys = config_keys(lay)
    if high is None:
        high = memory_bytes(prob, lay.take(plain), settings.global_batch, settings.precision, settings.stack).total_high
    else:
        high = high[plain]
    safe = np.sort(keys[plain][high <= settings.gpu.hbm_bytes.value])
    at = np.minimum(np.searchsorted(safe, keys), max(len(safe) - 1, 0))
    return ~extra | (safe[at] != keys) if len(safe) else np.ones(len(lay), dtype=bool)


@dataclass(frozen=True)
class SearchResult:
    """All evaluated layouts with their evaluation, and the ranking of those that are valid and fit."""

    layouts: LayoutArrays
    evaluation: LayoutEvaluation
    ranked: np.ndarray  # indices into layouts, best first

    def __len__(self) -> int:
        return len(self.layouts)


def search(prob: TrainingProblem, settings: RunSettings, num_gpus: int, objective: str = "time", fixed: dict | None = None,
           valid_only: bool = False) -> SearchResult:
    """Evaluate every layout and rank the valid, fitting ones by step time.

    ``objective`` 'cost' ranks by GPU-seconds x price, which on one fixed cluster is step time times a
    constant: the same order, so both objectives share this ranking. ``valid_only`` keeps and times only the
    layouts that pass the validity checks and fit (same ranking, a fraction of the work); sweeps, the popular
    families that do not fit and the no-layout diagnosis need every candidate, so it is off by default.
    """
    lay = enumerate_layouts(num_gpus, settings.gpu.domain_size, settings.global_batch, fixed, prob.num_layers, settings.gpu.node_size)
    if valid_only:
        lay = lay.take(validity(prob, lay, settings)[0])
        memory = memory_bytes(prob, lay, settings.global_batch, settings.precision, settings.stack)
        keep = needed(prob, lay, settings, memory.total_high) & (memory.total <= settings.gpu.hbm_bytes.value)
        lay, memory = lay.take(keep), memory.take(keep)
        evaluation = evaluate(prob, lay, settings, (np.ones(len(lay), dtype=bool), np.full(len(lay), "", dtype=object)), memory)
    else:
        lay = lay.take(needed(prob, lay, settings))
        evaluation = evaluate(prob, lay, settings)
    ok = np.flatnonzero(evaluation.valid & evaluation.fits)
    key = evaluation.time.step_time_s[ok]
    # layouts whose memory high end fits first; ties (same time): prefer fewer bytes on the links (less
    # exposed to a slow network), then less memory
    network = evaluation.time.network_bytes_per_step[ok]
    risky = evaluation.memory.total_high[ok] > settings.gpu.hbm_bytes.value
    order = np.lexsort((evaluation.memory.total[ok], np.round(network, -6), np.round(key, 9), risky))
    return SearchResult(lay, evaluation, ok[order])

"""Bytes per GPU of many layouts at once (numpy, one element per layout), by part, and the typed
breakdown of one layout that a plan reports."""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from pydantic import Field

from estimators.counts.problem import TrainingProblem
from estimators.memory.states import (
    FP8_WEIGHT_COPIES_BYTES_PER_PARAM,
    FRAGMENTATION_FRACTION,
    RUNTIME_RESERVED_BYTES,
    optimizer_bytes_per_param,
)
from estimators.results import Result
from estimators.specs.layout_arrays import RECOMPUTE_CODES, LayoutArrays

FULL = RECOMPUTE_CODES["full"]


@dataclass(frozen=True)
class MemoryArrays:
    """Bytes per GPU by part for every layout (element i: layout i); the parts add up to ``total``."""

    weights: np.ndarray
    gradients: np.ndarray
    optimizer_states: np.ndarray
    activations: np.ndarray
    frozen_encoder_weights: np.ndarray
    frozen_encoder_activations: np.ndarray
    fp8_weight_copies: np.ndarray
    runtime_reserved: np.ndarray
    fragmentation: np.ndarray
    total: np.ndarray

    def breakdown(self, i: int, capacity_bytes: float) -> "MemoryBreakdown":
        """Layout i's bytes by part against the GPU's memory."""
        parts = {f.name: float(getattr(self, f.name)[i]) for f in fields(self)}
        return MemoryBreakdown(**parts, capacity=capacity_bytes, fits=parts["total"] <= capacity_bytes)


class MemoryBreakdown(Result):
    """Bytes per GPU of one layout by part (the parts add up to ``total``), against the GPU's capacity."""

    weights: float = Field(description="Trained weights held (ZeRO-3: the shard plus two gathered layers).")
    gradients: float
    optimizer_states: float = Field(description="AdamW moments and the fp32 master copy.")
    activations: float = Field(description="Saved for backward, all micro-batches in flight on the first pipeline stage.")
    frozen_encoder_weights: float = Field(description="Text encoders and VAE encoder run online (0 when precomputed).")
    frozen_encoder_activations: float
    fp8_weight_copies: float = Field(description="FP8 weight and its transpose under FP8 (0 under BF16).")
    runtime_reserved: float = Field(description="CUDA context and NCCL buffers.")
    fragmentation: float = Field(description="Caching-allocator fragmentation.")
    total: float
    capacity: float = Field(description="The GPU's memory.")
    fits: bool


def memory_bytes(prob: TrainingProblem, lay: LayoutArrays, global_batch: int, precision: str) -> MemoryArrays:
    """Bytes per GPU (the first pipeline stage, which holds the most micro-batches), by part.

    Model states: ZeRO shards over the dp x cp replicas (Rajbhandari et al. 2020, sec. 5). Activations:
    the first stage holds min(p, m) micro-batches under 1F1B (Narayanan et al. 2021, sec. 2.2.1), times
    1 + (p-1)/(p v) when interleaved (Korthikanti et al. 2022, sec. 4.2.3); sequence parallelism splits
    them by tp and context parallelism by cp. FP8 adds the FP8 weight and its transpose (Transformer
    Engine), unsharded; activations are counted in BF16 (TE saves some in FP8: an upper bound).
    """
    local = prob.trained_params / (lay.tp * lay.pp)
    shard = lay.dp * lay.cp
    m = np.maximum(np.round(lay.micro_batches(global_batch)), 1)
    in_flight = np.where(lay.pp > 1, np.minimum(lay.pp, m) * np.where(lay.vpp > 1, 1 + (lay.pp - 1) / (lay.pp * lay.vpp), 1.0), 1.0)
    split = lay.tp * lay.cp  # sequence parallelism splits activations by tp as well
    layers = lay.stage_layers(prob.num_layers)
    modes = ("none", "selective", "full")
    per_layer = np.zeros(len(lay))
    working = np.zeros(len(lay))
    for stream in prob.streams:
        saved = np.choose(lay.recompute, [stream.saved_bytes_per_token[k] for k in modes])
        per_layer += stream.tokens * saved
        working += stream.tokens * stream.saved_bytes_per_token["none"]
    activations = per_layer * layers * lay.micro_batch / split * in_flight
    # under full recompute one layer's full activations exist while it runs backward
    activations += np.where(lay.recompute == FULL, working * lay.micro_batch / split, 0.0)
    zero3_gather = np.where(lay.zero >= 3, 2 * prob.layer_params / lay.tp * prob.state_bytes_per_param, 0.0)
    parts = {
        "weights": local * prob.state_bytes_per_param / np.where(lay.zero >= 3, shard, 1) + zero3_gather,
        "gradients": local * prob.state_bytes_per_param / np.where(lay.zero >= 2, shard, 1),
        "optimizer_states": local * optimizer_bytes_per_param(prob.state_bytes_per_param) / np.where(lay.zero >= 1, shard, 1),
        "activations": activations,
        "frozen_encoder_weights": np.full(len(lay), prob.frozen_weight_bytes),
        "frozen_encoder_activations": prob.frozen_working_bytes * lay.micro_batch / split,
    }
    parts["fp8_weight_copies"] = local * (FP8_WEIGHT_COPIES_BYTES_PER_PARAM if precision == "fp8" else 0)
    subtotal = sum(parts.values())
    parts["runtime_reserved"] = np.full(len(lay), float(RUNTIME_RESERVED_BYTES))
    parts["fragmentation"] = FRAGMENTATION_FRACTION * subtotal
    return MemoryArrays(**parts, total=sum(parts.values()))

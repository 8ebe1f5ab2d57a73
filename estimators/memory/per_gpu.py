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
    FRAGMENTATION_RANGE,
    IMPLEMENTATION_UNCERTAINTY,
    OFFLOAD_RESIDENT_LAYERS,
    RUNTIME_RESERVED_BYTES,
)
from estimators.results import Result
from estimators.specs.layout_arrays import RECOMPUTE_CODES, LayoutArrays
from estimators.specs.stack import TrainingStack

FULL = RECOMPUTE_CODES["full"]
MODES = ("none", "selective", "full")


@dataclass(frozen=True)
class MemoryArrays:
    """Bytes per GPU by part for every layout (element i: layout i); the parts add up to ``total``;
    ``total_low`` and ``total_high`` are its range (memory/states.py says what is uncertain)."""

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
    total_low: np.ndarray
    total_high: np.ndarray
    implementation: str = "pytorch-reference"

    def breakdown(self, i: int, capacity_bytes: float) -> "MemoryBreakdown":
        """Layout i's bytes by part against the GPU's memory."""
        parts = {f.name: float(getattr(self, f.name)[i]) for f in fields(self) if f.name != "implementation"}
        return MemoryBreakdown(**parts, capacity=capacity_bytes, fits=parts["total"] <= capacity_bytes,
                               may_not_fit=parts["total"] <= capacity_bytes < parts["total_high"], saved_activations=self.implementation)


class MemoryBreakdown(Result):
    """Bytes per GPU of one layout by part (the parts add up to ``total``), against the GPU's capacity."""

    weights: float = Field(description="Trained weights held as the stack keeps them (ZeRO-3: the shard plus two gathered layers).")
    gradients: float = Field(description="Gradients as the stack accumulates them (fp32 main grads in Megatron-Core and FSDP2).")
    optimizer_states: float = Field(description="AdamW moments and any separate fp32 master copy.")
    activations: float = Field(description="Saved for backward, all micro-batches in flight on the first pipeline stage, with the "
                                           "parts outside the layers (embedders, RoPE tables, final layer, loss).")
    frozen_encoder_weights: float = Field(description="Text encoders and VAE encoder run online (0 when precomputed).")
    frozen_encoder_activations: float
    fp8_weight_copies: float = Field(description="FP8 weight and its transpose under FP8 (0 under BF16).")
    runtime_reserved: float = Field(description="CUDA context and NCCL buffers.")
    fragmentation: float = Field(description="Caching-allocator fragmentation.")
    total: float
    total_low: float = Field(description="Low end: saved activations less the implementation's uncertainty, least fragmentation.")
    total_high: float = Field(description="High end: saved activations plus the implementation's uncertainty, most fragmentation.")
    capacity: float = Field(description="The GPU's memory.")
    fits: bool = Field(description="total <= capacity.")
    may_not_fit: bool = Field(description="total fits but total_high does not.")
    saved_activations: str = Field(description="Whose saved tensors the activations count (the stack's implementation).")


def activation_bytes(prob: TrainingProblem, lay: LayoutArrays, global_batch: int) -> np.ndarray:
    """Saved activations of the busiest (first) pipeline stage, bytes per GPU.

    In flight: 1F1B's first stage holds min(p, m) micro-batches (Narayanan et al. 2021, sec. 2.2.1); the
    interleaved schedule multiplies the stage's activations by 1 + (p-1)/(p v) (Korthikanti et al. 2022,
    sec. 4.2.3; Megatron-LM theoretical_memory_usage.py interleaved_schedule_memory_penalty), so it holds
    more than 1F1B, less the more chunks. Sequence parallelism splits them by tp and context parallelism
    by cp. Partial recompute: recompute_layers of the stage's layers save as their mode does, the rest save
    everything; under full recompute one layer's full activations exist while it runs backward. Offload:
    the layers not recomputed keep OFFLOAD_RESIDENT_LAYERS layers of one micro-batch on the GPU. The parts
    outside the layers count once a micro-batch in flight (an upper bound: the final layer and loss sit on
    the last stage).
    """
    m = np.maximum(np.round(lay.micro_batches(global_batch)), 1)
    penalty = np.where(lay.vpp > 1, 1 + (lay.pp - 1) / (lay.pp * lay.vpp), 1.0)
    in_flight = np.where(lay.pp > 1, np.minimum(lay.pp, m) * penalty, 1.0)
    per_gpu = lay.micro_batch / (lay.tp * lay.cp)
    layers = lay.stage_layers(prob.num_layers)
    recomputed = lay.recomputed_layers(prob.num_layers)
    mode_bytes = np.zeros(len(lay))
    none_bytes = np.zeros(len(lay))
    for stream in prob.streams:
        mode_bytes += stream.tokens * np.choose(lay.recompute, [stream.saved_bytes_per_token[k] for k in MODES])
        none_bytes += stream.tokens * stream.saved_bytes_per_token["none"]
    kept_layers = np.where(lay.offload, np.minimum(layers - recomputed, OFFLOAD_RESIDENT_LAYERS), layers - recomputed)
    kept_in_flight = np.where(lay.offload, 1.0, in_flight)
    activations = (recomputed * mode_bytes * in_flight + kept_layers * none_bytes * kept_in_flight) * per_gpu
    activations += np.where((lay.recompute == FULL) & (recomputed > 0), none_bytes * per_gpu, 0.0)
    return activations + prob.outside_saved_bytes * per_gpu * in_flight


def memory_bytes(prob: TrainingProblem, lay: LayoutArrays, global_batch: int, precision: str, stack: TrainingStack) -> MemoryArrays:
    """Bytes per GPU (the first pipeline stage, which holds the most micro-batches), by part.

    Model states as the stack keeps them (data/stacks/stacks.yaml), sharded over the dp x cp replicas by
    the ZeRO stage (Rajbhandari et al. 2020, sec. 5): optimizer moments and master copy from stage 1
    (Megatron-Core's distributed optimizer: 6 + 12/dp bytes a parameter), gradients from 2, weights from 3
    (FSDP full shard, plus two gathered layers in the activation dtype). FP8 adds the FP8 weight and its
    transpose (Transformer Engine), unsharded; activations are counted in BF16 (TE saves some in FP8: an
    upper bound).
    """
    local = prob.trained_params / (lay.tp * lay.pp)
    shard = lay.dp * lay.cp
    zero3_gather = np.where(lay.zero >= 3, 2 * prob.layer_params / lay.tp * prob.state_bytes_per_param, 0.0)
    optimizer = float(stack.optimizer_bytes_per_param.value) + float(stack.master_bytes_per_param.value)
    activations = activation_bytes(prob, lay, global_batch)
    parts = {
        "weights": local * float(stack.weight_bytes_per_param.value) / np.where(lay.zero >= 3, shard, 1) + zero3_gather,
        "gradients": local * float(stack.grad_bytes_per_param.value) / np.where(lay.zero >= 2, shard, 1),
        "optimizer_states": local * optimizer / np.where(lay.zero >= 1, shard, 1),
        "activations": activations,
        "frozen_encoder_weights": np.full(len(lay), prob.frozen_weight_bytes),
        "frozen_encoder_activations": prob.frozen_working_bytes * lay.micro_batch / (lay.tp * lay.cp),
    }
    parts["fp8_weight_copies"] = local * (FP8_WEIGHT_COPIES_BYTES_PER_PARAM if precision == "fp8" else 0)
    subtotal = sum(parts.values())
    parts["runtime_reserved"] = np.full(len(lay), float(RUNTIME_RESERVED_BYTES))
    parts["fragmentation"] = FRAGMENTATION_FRACTION * subtotal
    total = sum(parts.values())
    spread = IMPLEMENTATION_UNCERTAINTY[prob.implementation] * activations
    low_frag, high_frag = FRAGMENTATION_RANGE
    low = subtotal - spread + RUNTIME_RESERVED_BYTES + low_frag * (subtotal - spread)
    high = subtotal + spread + RUNTIME_RESERVED_BYTES + high_frag * (subtotal + spread)
    return MemoryArrays(**parts, total=total, total_low=low, total_high=high, implementation=prob.implementation)

"""Bytes per GPU of many layouts at once (numpy, one element per layout), by part, and the typed
breakdown of one layout that a plan reports.

Every pipeline rank is counted with its own layers and the parts outside the layers it holds
(counts/stages.py); a layout's memory is that of its fullest rank.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from pydantic import Field

from estimators.counts.problem import TrainingProblem
from estimators.counts.stages import PipelineRanks, RankLoad
from estimators.memory.states import (
    FRAGMENTATION_FRACTION,
    FRAGMENTATION_RANGE,
    IMPLEMENTATION_UNCERTAINTY,
    OFFLOAD_RESIDENT_LAYERS,
    RUNTIME_RESERVED_BYTES,
    state_bytes,
)
from estimators.results import Result
from estimators.specs.layout_arrays import RECOMPUTE_CODES, LayoutArrays
from estimators.specs.stack import TrainingStack

FULL = RECOMPUTE_CODES["full"]
MODES = ("none", "selective", "full")
ZERO3_GATHERED_LAYERS = 2  # FSDP / ZeRO-3: the layer computing and the one prefetched are whole
PARTS = ("weights", "frozen_weights", "gradients", "optimizer_states", "activations", "loss_working", "frozen_encoder_weights",
         "frozen_encoder_activations", "fp8_weight_copies")


@dataclass(frozen=True)
class MemoryArrays:
    """Bytes per GPU by part for every layout (element i: layout i), on the pipeline rank that needs the most
    (``stage``); the parts add up to ``total``; ``total_low`` and ``total_high`` are its range (memory/states.py
    says what is uncertain). ``host_bytes``: optimizer states kept in host memory instead (not in the total)."""

    weights: np.ndarray
    frozen_weights: np.ndarray
    gradients: np.ndarray
    optimizer_states: np.ndarray
    activations: np.ndarray
    loss_working: np.ndarray
    frozen_encoder_weights: np.ndarray
    frozen_encoder_activations: np.ndarray
    fp8_weight_copies: np.ndarray
    runtime_reserved: np.ndarray
    fragmentation: np.ndarray
    total: np.ndarray
    total_low: np.ndarray
    total_high: np.ndarray
    stage: np.ndarray
    host_bytes: np.ndarray
    implementation: str = "pytorch-reference"

    def take(self, index) -> "MemoryArrays":
        """The layouts at ``index`` (a mask or integer array)."""
        return MemoryArrays(**{f.name: getattr(self, f.name) if f.name == "implementation" else getattr(self, f.name)[index]
                               for f in fields(self)})

    def breakdown(self, i: int, capacity_bytes: float) -> "MemoryBreakdown":
        """Layout i's bytes by part against the GPU's memory."""
        parts = {f.name: float(getattr(self, f.name)[i]) for f in fields(self) if f.name not in ("implementation", "stage")}
        return MemoryBreakdown(**parts, stage=int(self.stage[i]), capacity=capacity_bytes, fits=parts["total"] <= capacity_bytes,
                               may_not_fit=parts["total"] <= capacity_bytes < parts["total_high"], saved_activations=self.implementation)


class MemoryBreakdown(Result):
    """Bytes per GPU of one layout by part (the parts add up to ``total``), against the GPU's capacity."""

    weights: float = Field(description="Trained weights held as the stack keeps them (ZeRO-3: the shard plus two gathered layers).")
    frozen_weights: float = Field(default=0.0, description="Frozen weights LoRA trains adapters on (bf16 or NF4; sharded under ZeRO-3).")
    gradients: float = Field(description="Gradients as the stack accumulates them (fp32 main grads in Megatron-Core and FSDP2); where "
                                         "they are created in backward and freed each step, only what they add beyond the activations "
                                         "they replace (one micro-batch, no pipeline).")
    optimizer_states: float = Field(description="AdamW moments and any separate fp32 master copy (0 when offloaded to the host).")
    activations: float = Field(description="Saved for backward by the micro-batches in flight on this pipeline stage, with the "
                                           "parts outside the layers it holds (embedders, RoPE tables, final layer, loss).")
    loss_working: float = Field(default=0.0, description="Transient working memory of the loss on the last stage (a GPT's fp32 logits).")
    frozen_encoder_weights: float = Field(description="Text encoders and VAE encoder run online (0 when precomputed).")
    frozen_encoder_activations: float
    fp8_weight_copies: float = Field(description="FP8 weight and its transpose cached by the stack under FP8 (0 under BF16).")
    runtime_reserved: float = Field(description="CUDA context and NCCL buffers.")
    fragmentation: float = Field(description="Caching-allocator fragmentation.")
    total: float
    total_low: float = Field(description="Low end: saved activations less the implementation's uncertainty, least fragmentation.")
    total_high: float = Field(description="High end: saved activations plus the implementation's uncertainty, most fragmentation.")
    stage: int = Field(default=0, description="The pipeline stage (rank, 0 = first) these bytes are of: the one that needs the most.")
    host_bytes: float = Field(default=0.0, description="Optimizer states kept in host memory instead of on the GPU (not in total).")
    capacity: float = Field(description="The GPU's memory.")
    fits: bool = Field(description="total <= capacity.")
    may_not_fit: bool = Field(description="total fits but total_high does not.")
    saved_activations: str = Field(description="Whose saved tensors the activations count (the stack's implementation).")

    def parts(self) -> dict[str, float]:
        """The parts, by name, that add up to ``total`` (every output that lists memory by part reads this)."""
        return {name: getattr(self, name) for name in (*PARTS, "runtime_reserved", "fragmentation")}


def in_flight(lay: LayoutArrays, rank: int, micro_batches: np.ndarray) -> np.ndarray:
    """Micro-batches' worth of a rank's layers held at once, rank 0 the first stage.

    1F1B: rank r holds min(pp - r, m) micro-batches (Narayanan et al. 2021, sec. 2.2.1: the first stage pp).
    Interleaved (v chunks a rank): Megatron-Core's warm-up runs 2 (pp - r - 1) + (v - 1) pp chunk forwards
    before the first backward, so 2 (pp - r - 1) + (v - 1) pp + 1 chunks (each 1/v of the rank's layers) are in
    flight: for the first stage pp (1 + (pp - 1)/(pp v)) micro-batches, Korthikanti et al. 2022 sec. 4.2.3 and
    Megatron-LM theoretical_memory_usage.py's interleaved_schedule_memory_penalty; more than 1F1B, less the more
    chunks. Capped by the micro-batches of the step."""
    pp, v, m = lay.pp, lay.vpp, micro_batches
    one_f_one_b = np.minimum(pp - rank, m)
    chunks = np.minimum(2 * (pp - rank - 1) + (v - 1) * pp + 1, m * v)
    return np.where(pp == 1, 1.0, np.where(v > 1, chunks / v, one_f_one_b)).astype(float)


def _per_gpu(lay: LayoutArrays, total: np.ndarray, replicated: np.ndarray) -> np.ndarray:
    """Bytes a GPU keeps of a micro-batch's ``total``: tensor parallelism splits what lies inside its regions, and the
    rest only with sequence parallelism; context parallelism splits everything."""
    sp_split = np.where(lay.sp, lay.tp, 1)
    return lay.micro_batch * ((total - replicated) / lay.tp + replicated / sp_split) / lay.cp


def rank_activations(prob: TrainingProblem, lay: LayoutArrays, load: RankLoad, flight: np.ndarray, fp8_inputs: bool = False) -> np.ndarray:
    """Saved activations of one pipeline rank, bytes per GPU.

    Partial recompute: recompute_layers of the rank's layers save as their mode does, the rest save everything;
    under full recompute one layer's full activations exist while it runs backward. Offload: the layers not
    recomputed keep OFFLOAD_RESIDENT_LAYERS layers of one micro-batch on the GPU. The parts outside the layers
    count once a micro-batch in flight on this rank. ``fp8_inputs``: the matmul inputs are kept in FP8 (Transformer
    Engine under FP8, counts/saved.py gemm_inputs), a byte each instead of two.
    """
    layers = np.maximum(load.layers, 1)
    recomputed = lay.recomputed_of(load.layers)
    share = recomputed / layers
    saved = {k: load.saved[k] - (load.fp8_saved_less[k] if fp8_inputs else 0.0) for k in MODES}
    mode = _per_gpu(lay, np.choose(lay.recompute, [saved[k] for k in MODES]), np.choose(lay.recompute, [load.replicated[k] for k in MODES]))
    everything = _per_gpu(lay, saved["none"], load.replicated["none"])
    kept = load.layers - recomputed
    resident = np.where(lay.offload, np.minimum(kept, OFFLOAD_RESIDENT_LAYERS) / layers, kept / layers)
    kept_flight = np.where(lay.offload, 1.0, flight)
    activations = share * mode * flight + resident * everything * kept_flight
    activations += np.where((lay.recompute == FULL) & (recomputed > 0), everything / layers, 0.0)
    return activations + load.outside_saved * lay.micro_batch / (lay.tp * lay.cp) * flight


def rank_memory(prob: TrainingProblem, lay: LayoutArrays, load: RankLoad, flight: np.ndarray, precision: str,
                stack: TrainingStack) -> dict[str, np.ndarray]:
    """Bytes per GPU of one pipeline rank by part, before the runtime reserve and fragmentation.

    Model states as the stack and the recipe keep them (memory/states.py), sharded over the dp x cp replicas by
    the ZeRO stage (Rajbhandari et al. 2020, sec. 5): optimizer moments and master copy from stage 1
    (Megatron-Core's distributed optimizer: 6 + 12/dp bytes a parameter), gradients from 2, weights (trained and
    frozen) from 3 (FSDP full shard, plus two gathered layers in the activation dtype). FP8 adds the stack's
    cached FP8 weight copies (Transformer Engine keeps the FP8 weight and its transpose; FSDP2 with torchao
    float8 casts each gathered unit and keeps none).
    """
    states = state_bytes(stack, prob.training)
    trained = load.trained_params / lay.tp
    frozen = (load.params - load.trained_params) / lay.tp
    shard = lay.dp * lay.cp
    sharded = {stage: np.where(lay.zero >= stage, shard, 1) for stage in (1, 2, 3)}
    # ZeRO-3 gathers a layer in the dtype it computes in (LoRA's frozen base as stored: NF4 is dequantised per matmul);
    # a stack that keeps each pipeline stage gathered (stacks.yaml pp_keeps_stage_unsharded) holds the whole stage, and
    # accumulates its unsharded gradients in the reduce dtype
    gathered_bytes = states.frozen if prob.training.lora else prob.state_bytes_per_param
    whole_stage = (lay.zero >= 3) & (lay.pp > 1) & bool(stack.pp_keeps_stage_unsharded.value)
    gathered_params = np.where(whole_stage, load.params, ZERO3_GATHERED_LAYERS * load.largest_layer_params) / lay.tp
    gathered = np.where(lay.zero >= 3, gathered_params * gathered_bytes, 0.0)
    gradients = trained * states.gradient / sharded[2] + np.where(whole_stage, trained * states.gradient, 0.0)
    optimizer = trained * (states.moments + states.master) / sharded[1]
    fp8 = float(stack.fp8_weight_copies_bytes_per_param.value) if precision == "fp8" else 0.0
    weight = float(stack.fp8_weight_bytes_per_param.value) if (precision == "fp8" and prob.training.states == "mixed") else states.weight
    fp8_inputs = precision == "fp8" and prob.implementation == "megatron-te"
    return {
        "weights": trained * weight / sharded[3] + np.where(prob.training.lora, 0.0, gathered),
        "frozen_weights": frozen * states.frozen / sharded[3] + np.where(prob.training.lora, gathered, 0.0),
        "gradients": gradients,
        "optimizer_states": np.where(lay.optimizer_offload, 0.0, optimizer),
        "activations": rank_activations(prob, lay, load, flight, fp8_inputs),
        "loss_working": load.loss_working * lay.micro_batch / (lay.tp * lay.cp),
        "frozen_encoder_weights": np.full(len(lay), prob.frozen_weight_bytes),
        "frozen_encoder_activations": prob.frozen_working_bytes * lay.micro_batch / (lay.tp * lay.cp),
        "fp8_weight_copies": (trained + frozen) * fp8,
        "host_bytes": np.where(lay.optimizer_offload, optimizer, 0.0),
    }


def memory_bytes(prob: TrainingProblem, lay: LayoutArrays, global_batch: int, precision: str, stack: TrainingStack,
                 ranks: PipelineRanks | None = None) -> MemoryArrays:
    """Bytes per GPU of every layout: each pipeline rank counted with what it holds, the fullest one reported."""
    ranks = ranks or PipelineRanks.of(prob, lay)
    m = np.maximum(np.round(lay.micro_batches(global_batch)), 1)
    # gradients created in backward and freed by the optimizer (stacks.yaml gradients_persist false) replace the
    # activations they are computed from: with one micro-batch and no pipeline the peak holds max(activations, gradients)
    replace = (not bool(stack.gradients_persist.value)) & (m == 1) & (lay.pp == 1)
    best, best_total = None, np.full(len(lay), -np.inf)
    for load, rank in ranks.memory_candidates():
        parts = {**rank_memory(prob, lay, load, in_flight(lay, rank, m), precision, stack), "stage": rank}
        parts["gradients"] = np.where(replace, np.maximum(parts["gradients"] - parts["activations"] - parts["loss_working"], 0.0), parts["gradients"])
        subtotal = sum(parts[p] for p in PARTS)
        better = subtotal > best_total
        best = parts if best is None else {k: np.where(better, parts[k], v) for k, v in best.items()}
        best_total = np.where(better, subtotal, best_total)
    return _totals(prob, best, best_total)


def _totals(prob: TrainingProblem, parts: dict, subtotal: np.ndarray) -> MemoryArrays:
    """The runtime reserve, fragmentation and the range on top of the parts."""
    reserve = np.full(len(subtotal), float(RUNTIME_RESERVED_BYTES))
    fragmentation = FRAGMENTATION_FRACTION * subtotal
    spread = IMPLEMENTATION_UNCERTAINTY[prob.implementation] * parts["activations"]
    low_frag, high_frag = FRAGMENTATION_RANGE
    low = subtotal - spread + RUNTIME_RESERVED_BYTES + low_frag * (subtotal - spread)
    high = subtotal + spread + RUNTIME_RESERVED_BYTES + high_frag * (subtotal + spread)
    return MemoryArrays(**{k: parts[k] for k in PARTS}, runtime_reserved=reserve, fragmentation=fragmentation,
                        total=subtotal + reserve + fragmentation, total_low=low, total_high=high, stage=parts["stage"],
                        host_bytes=parts["host_bytes"], implementation=prob.implementation)

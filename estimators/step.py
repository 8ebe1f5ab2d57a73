"""Step time and memory per GPU of many layouts at once (numpy, one array element per layout).

Time of one optimizer step on layout (tp, pp, cp, dp, zero, micro-batch b, recompute, v):
  m = global_batch / (dp b) micro-batches; a stage runs layers/pp layers on tokens/(cp tp) per GPU.
  t_mb = compute (matmuls and attention at profiled efficiency, element-wise ops by HBM bytes)
         + tensor-parallel collectives and Ulysses all-to-alls (exposed)
         + ring-attention exchange beyond the attention it overlaps + pipeline sends.
  step = (m + (pp-1)/v) t_mb   (1F1B / interleaved bubble: Narayanan et al. 2021, sec. 2.2)
         + data-parallel traffic not hidden by backward (ZeRO-3: gathers every micro-batch)
         + the optimizer update (bytes over HBM bandwidth).
Passes: forward 1, backward 2 (input and weight gradients), full recompute +1 forward of the layers,
selective + the problem's selective FLOPs (PaLM, Appendix B; formulas.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from estimators.collectives import FULL, CollectiveCost, group_seconds, step_collectives
from estimators.layouts import LayoutArrays
from estimators.memory import (
    FRAGMENTATION_FRACTION,
    optimizer_bytes_per_param,
    RUNTIME_RESERVED_BYTES,
)
from estimators.problem import TrainingProblem
from estimators.profiles import DeviceProfile
from estimators.specs.hardware import GPUSpec

FWD_BWD_FACTOR = 3  # forward + backward (2x forward) FLOPs
BACKWARD_SHARE = 2 / 3  # backward's share of a micro-batch's compute
SELECTIVE = 1  # recompute code (layouts.RECOMPUTE_CODES); FULL comes with the collectives
# Element-wise traffic a saved byte causes: written in forward, read in backward, its gradient written.
ELEMENTWISE_TRAFFIC_PER_SAVED_BYTE = 3
# AdamW bytes a parameter: read fp32 master, m, v (12) + bf16 grad (2); write master, m, v (12) + bf16 weight (2).
ADAM_UPDATE_BYTES_PER_PARAM = 28


@dataclass(frozen=True)
class RunSettings:
    """What a step needs besides the problem and the layouts."""

    gpu: GPUSpec
    profile: DeviceProfile
    global_batch: int
    precision: str = "bf16"


def micro_batches(lay: LayoutArrays, global_batch: int) -> np.ndarray:
    """Micro-batches a step (float; not whole where the layout does not divide the batch)."""
    return global_batch / (lay.dp * lay.micro_batch)


def validity(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings) -> tuple[np.ndarray, np.ndarray]:
    """(valid mask, reason string per layout: '' when valid)."""
    m = micro_batches(lay, settings.global_batch)
    node = settings.gpu.node_size
    checks = [
        (np.abs(m - np.round(m)) > 1e-9, "global batch does not divide by dp x micro-batch"),
        (prob.num_layers < lay.pp * lay.vpp, "fewer layers than pipeline chunks"),
        ((prob.heads % lay.tp != 0) | (prob.kv_heads % lay.tp != 0), "heads do not divide by tp"),
        (lay.tp > node, "tp larger than a node"),
        (~lay.cp_ring & ((prob.heads // np.maximum(lay.tp, 1)) % lay.cp != 0), "Ulysses needs heads/tp divisible by cp"),
        ((lay.vpp > 1) & ((lay.pp == 1) | (np.round(m) % lay.pp != 0)), "interleaving needs pp > 1 and micro-batches divisible by pp"),
        (prob.tokens < lay.cp * lay.tp, "fewer tokens than cp x tp"),
    ]
    reason = np.full(len(lay), "", dtype=object)
    for failed, text in reversed(checks):
        reason = np.where(failed, text, reason)
    return reason == "", reason


def stage_layers(prob: TrainingProblem, lay: LayoutArrays) -> np.ndarray:
    """Layers on the busiest pipeline stage: uneven splits round up (stage balance sets the pace)."""
    return np.ceil(prob.num_layers / (lay.pp * lay.vpp)) * lay.vpp


def compute_time_s(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings) -> dict[str, np.ndarray]:
    """Seconds of one micro-batch's forward+backward(+recompute) on one GPU, by kind of work."""
    gpu, prof = settings.gpu, settings.profile
    peak = gpu.peak_flops(settings.precision)
    split = lay.tp * lay.cp  # tokens (cp) and weights/heads (tp) split the work of a stage
    layers = stage_layers(prob, lay)
    mb = lay.micro_batch
    full = lay.recompute == FULL
    layer_passes = FWD_BWD_FACTOR + full  # full recompute re-runs each layer's forward
    # selective recompute re-runs every element-wise op (not the matmuls): one more pass of their
    # traffic and of the per-layer dispatch overhead, as full recompute has
    elementwise_passes = FWD_BWD_FACTOR + (lay.recompute != 0)
    linear = np.zeros(len(lay))
    for stream in prob.streams:
        eff = prof.matmul_efficiency(stream.width / lay.tp)
        linear += stream.linear_flops_per_layer * layers * mb / split / (peak * eff)
    head_eff = prof.matmul_efficiency(prob.streams[0].width / lay.tp)
    other = FWD_BWD_FACTOR * prob.other_flops * mb / split / (peak * head_eff)
    attn_seq = np.where(lay.cp_ring, prob.attention_seq / lay.cp, prob.attention_seq)
    attn_fwd = prob.attention_flops_per_layer * layers * mb / split / (peak * prof.attention_efficiency(attn_seq))
    # cross-attention to the text: keys are the text tokens whatever the context parallelism
    cross_eff = prof.attention_efficiency(max(prob.cross_attention_kv_tokens, 1))
    attn_fwd = attn_fwd + prob.cross_attention_flops_per_layer * layers * mb / split / (peak * cross_eff)
    selective = np.where(lay.recompute == SELECTIVE, prob.selective_recompute_flops_per_layer, 0.0)
    recomputed = selective * layers * mb / split / (peak * prof.attention_efficiency(attn_seq))
    saved = sum(s.tokens * s.saved_bytes_per_token["none"] for s in prob.streams)
    traffic = (ELEMENTWISE_TRAFFIC_PER_SAVED_BYTE + (lay.recompute != 0)) * saved * layers * mb / split
    elementwise = traffic / (gpu.hbm_bandwidth_bytes_per_s.value * prof.memory_efficiency)
    frozen = prob.frozen_flops * mb / split / (peak * prof.matmul_efficiency(prob.frozen_gemm_dim))
    overhead = prof.layer_overhead_s * layers * elementwise_passes
    overhead = overhead + np.where(lay.recompute == SELECTIVE, prof.selective_recompute_overhead_s * layers, 0.0)
    return {
        "matmul": linear * layer_passes + other,
        "overhead": overhead,
        "attention": attn_fwd * layer_passes + recomputed,
        "elementwise": elementwise,
        "frozen_encoders": frozen,
        "attention_fwd": attn_fwd,
    }


def model_parallel_comm_s(costs: list[CollectiveCost], lay: LayoutArrays, attn_fwd_s, tp_overlap: float) -> dict[str, np.ndarray]:
    """Seconds of one micro-batch's tensor-, context- and pipeline-parallel traffic left exposed.

    Ring attention's exchange hides behind the attention it feeds: forward passes against the forward
    attention time, backward (twice the bytes) against twice that (Liu et al. 2023).
    """
    hidden = 1 - tp_overlap
    ring_fwd = group_seconds(costs, "cp", "cp ring K/V exchange")
    ring_bwd = group_seconds(costs, "cp", "cp ring K/V + dK/dV")
    passes_fwd = 1 + (lay.recompute == FULL)
    ring = passes_fwd * np.maximum(ring_fwd / passes_fwd - attn_fwd_s, 0) + np.maximum(ring_bwd - 2 * attn_fwd_s, 0)
    return {
        "tensor_parallel": hidden * group_seconds(costs, "tp"),
        "context_parallel": hidden * group_seconds(costs, "cp", "cp Ulysses") + ring,
        "pipeline_p2p": group_seconds(costs, "pp"),
    }


def data_parallel_s(costs: list[CollectiveCost], lay: LayoutArrays, profile: DeviceProfile, compute_mb_s, m) -> np.ndarray:
    """Data-parallel seconds a step not hidden behind compute.

    ZeRO 0-2: the step's gradient exchange hides behind dp_overlap of the last micro-batch's backward.
    ZeRO-3: each micro-batch's gathers and reduce-scatter hide behind dp_overlap of its compute.
    """
    per_step = group_seconds(costs, "dp", "dp gradient")
    per_mb = group_seconds(costs, "dp", "dp ZeRO-3")
    zero012 = np.maximum(per_step - profile.dp_overlap * BACKWARD_SHARE * compute_mb_s, 0.0)
    zero3 = m * np.maximum(per_mb - profile.dp_overlap * compute_mb_s, 0.0)
    return np.where(lay.zero >= 3, zero3, zero012)


def optimizer_s(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings) -> np.ndarray:
    """AdamW update of the local shard: bytes over HBM bandwidth."""
    shard = np.where(lay.zero >= 1, lay.dp * lay.cp, 1)
    params = prob.trained_params / (lay.tp * lay.pp * shard)
    return params * ADAM_UPDATE_BYTES_PER_PARAM / (settings.gpu.hbm_bandwidth_bytes_per_s.value * settings.profile.memory_efficiency)


def memory_bytes(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings) -> dict[str, np.ndarray]:
    """Bytes per GPU (the first pipeline stage, which holds the most micro-batches), by part.

    Model states: ZeRO shards over the dp x cp replicas (Rajbhandari et al. 2020, sec. 5). Activations:
    the first stage holds min(p, m) micro-batches under 1F1B (Narayanan et al. 2021, sec. 2.2.1), times
    1 + (p-1)/(p v) when interleaved (Korthikanti et al. 2022, sec. 4.2.3); sequence parallelism splits
    them by tp and context parallelism by cp.
    """
    local = prob.trained_params / (lay.tp * lay.pp)
    shard = lay.dp * lay.cp
    m = np.maximum(np.round(micro_batches(lay, settings.global_batch)), 1)
    in_flight = np.where(lay.pp > 1, np.minimum(lay.pp, m) * np.where(lay.vpp > 1, 1 + (lay.pp - 1) / (lay.pp * lay.vpp), 1.0), 1.0)
    split = lay.tp * lay.cp  # sequence parallelism splits activations by tp as well
    layers = stage_layers(prob, lay)
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
    subtotal = sum(parts.values())
    parts["runtime_reserved"] = np.full(len(lay), float(RUNTIME_RESERVED_BYTES))
    parts["fragmentation"] = FRAGMENTATION_FRACTION * subtotal
    parts["total"] = sum(parts.values())
    return parts


def evaluate(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings) -> dict[str, np.ndarray]:
    """Everything about each layout: validity, memory, step time and its parts."""
    valid, reason = validity(prob, lay, settings)
    m = micro_batches(lay, settings.global_batch)
    compute = compute_time_s(prob, lay, settings)
    compute_mb = compute["matmul"] + compute["attention"] + compute["elementwise"] + compute["frozen_encoders"] + compute["overhead"]
    costs = step_collectives(prob, lay, stage_layers(prob, lay), settings.gpu, settings.profile.links)
    comm = model_parallel_comm_s(costs, lay, compute["attention_fwd"], settings.profile.tp_overlap)
    t_mb = compute_mb + comm["tensor_parallel"] + comm["context_parallel"] + comm["pipeline_p2p"]
    bubble_mb = (lay.pp - 1) / lay.vpp
    dp = data_parallel_s(costs, lay, settings.profile, compute_mb, m)
    opt = optimizer_s(prob, lay, settings)
    step = (m + bubble_mb) * t_mb + dp + opt
    memory = memory_bytes(prob, lay, settings)
    fits = memory["total"] <= settings.gpu.hbm_bytes.value
    return {
        "valid": valid,
        "reason": reason,
        "fits": fits,
        "micro_batches": m,
        "step_time_s": step,
        "compute_s": m * compute_mb,
        "matmul_s": m * compute["matmul"],
        "attention_s": m * compute["attention"],
        "elementwise_s": m * compute["elementwise"],
        "overhead_s": m * compute["overhead"],
        "frozen_encoders_s": m * compute["frozen_encoders"],
        "tensor_parallel_s": m * comm["tensor_parallel"],
        "context_parallel_s": m * comm["context_parallel"],
        "pipeline_p2p_s": m * comm["pipeline_p2p"],
        "bubble_s": bubble_mb * t_mb,
        "bubble_fraction": bubble_mb / (m + bubble_mb),
        "data_parallel_exposed_s": dp,
        "optimizer_s": opt,
        "memory": memory,
        "collectives": costs,
        "network_bytes_per_step": sum(c.bytes_per_gpu * (m if c.per == "micro-batch" else 1) for c in costs),
    }

"""Step time and memory per GPU of many layouts at once (numpy, one array element per layout).

Time of one optimizer step on layout (tp, pp, cp, dp, zero, micro-batch b, recompute, v):
  m = global_batch / (dp b) micro-batches; a stage runs layers/pp layers on tokens/(cp tp) per GPU.
  t_mb = compute (GEMMs and attention at the published kernel efficiencies of estimators/time/kernels.py
         times the profile's fitted compute_derate, element-wise ops by HBM bytes)
         + tensor-parallel collectives and Ulysses all-to-alls (less what the stack overlaps)
         + ring-attention exchange beyond the attention it overlaps + pipeline sends.
  step = (m + (pp-1)/v) t_mb   (1F1B / interleaved bubble: Narayanan et al. 2021, sec. 2.2)
         + data-parallel traffic the stack does not hide (estimators/catalog/stacks.py)
         + the optimizer update (bytes over HBM bandwidth).
Passes: forward 1, backward 2 (input and weight gradients), full recompute +1 forward of the layers,
selective + the problem's selective FLOPs (PaLM, Appendix B; formulas.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from estimators.catalog.stacks import default_stack
from estimators.counts.problem import TrainingProblem
from estimators.memory.states import FP8_WEIGHT_COPIES_BYTES_PER_PARAM
from estimators.specs.hardware import GPUSpec
from estimators.specs.layout_arrays import LayoutArrays
from estimators.specs.profile import DeviceProfile
from estimators.specs.stack import TrainingStack
from estimators.time.collectives import FULL, CollectiveCost, group_seconds
from estimators.time.compute_rates import ComputeRates, compute_rates
from estimators.time.kernels import UNFUSED, distinct_rows

FWD_BWD_FACTOR = 3  # forward + backward (2x forward) FLOPs
BACKWARD_FACTOR = 2  # backward FLOPs per forward FLOP (input and weight gradients)
# Flash kernels' backward TFLOP/s count 2.5x the forward FLOPs (5 matmuls against 2, recomputing the
# scores): Shah et al. 2024 and Dao 2023, sec. 4.1. Time of a backward = this x forward FLOPs / rate.
FLASH_BACKWARD_FLOP_FACTOR = 2.5
CAUSAL_WORK_FRACTION = 0.5  # a causal flash kernel computes half the score blocks
SELECTIVE = 1  # recompute code (layouts.RECOMPUTE_CODES); FULL comes with the collectives
# Element-wise traffic a saved byte causes: written in forward, read in backward, its gradient written.
ELEMENTWISE_TRAFFIC_PER_SAVED_BYTE = 3
# AdamW bytes a parameter: read fp32 master, m, v (12) + bf16 grad (2); write master, m, v (12) + bf16 weight (2).
ADAM_UPDATE_BYTES_PER_PARAM = 28
# FP8 (Transformer Engine recipes): every GEMM input is cast, read in BF16 (2 bytes) and written in FP8
# (1 byte); a transformer layer's GEMM inputs are 7 widths a token (q/k/v, out-projection and fc1 read
# the width, fc2 reads the 4x MLP hidden); inputs cast in forward, output gradients in backward.
FP8_CAST_BYTES_PER_ELEMENT = 3
FP8_CAST_WIDTHS_PER_LAYER = 7
FP8_CAST_PASSES = 2


@dataclass(frozen=True)
class RunSettings:
    """What a step needs besides the problem and the layouts."""

    gpu: GPUSpec
    profile: DeviceProfile
    global_batch: int
    precision: str = "bf16"
    kernel: str | None = None  # attention kernel; None: the GPU's default (kernels.default_kernel)
    stack: str = field(default_factory=default_stack)

    @property
    def rates(self) -> ComputeRates:
        return compute_rates(self.gpu, self.profile, self.kernel, self.precision)


def stream_gemm_rate(rates: ComputeRates, stream, rows, tp) -> np.ndarray:
    """FLOP/s of a stream's block GEMMs: the four of a transformer block, weighted by their FLOPs.

    q/k/v (rows, 3w/tp, w), out-projection (rows, w, w/tp), fc1 (rows, f/tp, w), fc2 (rows, w, f/tp)
    (Megatron's column/row split, Shoeybi et al. 2019); the MLP width f is what the stream's FLOPs a
    token leave after the 4 w^2 of attention projections: f = (F/2 - 4 w^2) / (2 w).
    """
    w = stream.width
    f = max((stream.linear_flops_per_layer / max(stream.tokens, 1) / 2 - 4 * w * w) / (2 * w), w)
    # layouts share few (rows, tp) pairs: rate each pair once
    rows, tp = np.broadcast_arrays(np.asarray(rows, dtype=float), np.asarray(tp, dtype=float))
    pairs, index = distinct_rows(np.stack([rows.ravel(), tp.ravel()], axis=-1))
    rows_u, tp_u = pairs[:, 0], pairs[:, 1]
    shapes = [((3 * w / tp_u, w), 3 * w * w), ((w, w / tp_u), w * w), ((f / tp_u, w), w * f), ((w, f / tp_u), w * f)]
    seconds = sum(weight / rates.gemm(rows_u, n, k) for (n, k), weight in shapes)
    return (sum(weight for _, weight in shapes) / seconds)[index].reshape(rows.shape)


def attention_time_s(prob: TrainingProblem, lay: LayoutArrays, rates: ComputeRates, layers) -> tuple[np.ndarray, np.ndarray]:
    """(forward, backward) seconds of one micro-batch's attention on one GPU, from the kernel tables.

    A causal flash kernel does half the score blocks; the unfused kernel computes them all and masks.
    Cross-attention runs at the kernel's efficiency for a sequence as long as its keys (the text).
    """
    split = lay.tp * lay.cp
    seq = np.where(lay.cp_ring, prob.attention_seq / lay.cp, prob.attention_seq)
    heads_local = prob.heads / lay.tp * lay.micro_batch
    flash = rates.kernel is not None and rates.kernel.name != UNFUSED
    work = CAUSAL_WORK_FRACTION if (prob.causal_attention and flash) else 1.0
    flops = prob.attention_flops_per_layer * work * layers * lay.micro_batch / split
    fwd = flops / rates.attention(seq, prob.head_dim, heads_local, "forward", prob.causal_attention)
    bwd_factor = FLASH_BACKWARD_FLOP_FACTOR if flash else BACKWARD_FACTOR
    bwd = bwd_factor * flops / rates.attention(seq, prob.head_dim, heads_local, "backward", prob.causal_attention)
    if prob.cross_attention_flops_per_layer:
        # cross-attention to the text: the keys are the text tokens whatever the context parallelism
        kv = max(prob.cross_attention_kv_tokens, 1)
        cross = prob.cross_attention_flops_per_layer * layers * lay.micro_batch / split
        fwd = fwd + cross / rates.attention(kv, prob.head_dim, heads_local, "forward", False)
        bwd = bwd + bwd_factor * cross / rates.attention(kv, prob.head_dim, heads_local, "backward", False)
    return fwd, bwd


def compute_time_s(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings) -> dict[str, np.ndarray]:
    """Seconds of one micro-batch's forward+backward(+recompute) on one GPU, by kind of work."""
    gpu, prof, rates = settings.gpu, settings.profile, settings.rates
    split = lay.tp * lay.cp  # tokens (cp) and weights/heads (tp) split the work of a stage
    layers = lay.stage_layers(prob.num_layers)
    mb = lay.micro_batch
    full = lay.recompute == FULL
    layer_passes = FWD_BWD_FACTOR + full  # full recompute re-runs each layer's forward
    # selective recompute re-runs every element-wise op (not the matmuls): one more pass of their
    # traffic and of the per-layer dispatch overhead, as full recompute has
    elementwise_passes = FWD_BWD_FACTOR + (lay.recompute != 0)
    linear = np.zeros(len(lay))
    for stream in prob.streams:
        rows = stream.tokens * mb / lay.cp  # rows a GPU's GEMMs see (sequence parallelism gathers over tp)
        linear += stream.linear_flops_per_layer * layers * mb / split / stream_gemm_rate(rates, stream, rows, lay.tp)
    first = prob.streams[0]
    first_rows = first.tokens * mb / lay.cp
    other = FWD_BWD_FACTOR * prob.other_flops * mb / split / rates.high_precision_gemm(first_rows, first.width / lay.tp, first.width)
    attn_fwd, attn_bwd = attention_time_s(prob, lay, rates, layers)
    selective = np.where(lay.recompute == SELECTIVE, prob.selective_recompute_flops_per_layer / max(prob.attention_flops_per_layer, 1.0), 0.0)
    saved = sum(s.tokens * s.saved_bytes_per_token["none"] for s in prob.streams)
    traffic = (ELEMENTWISE_TRAFFIC_PER_SAVED_BYTE + (lay.recompute != 0)) * saved * layers * mb / split
    if settings.precision == "fp8":
        cast = sum(s.tokens * s.width for s in prob.streams) * FP8_CAST_WIDTHS_PER_LAYER * FP8_CAST_BYTES_PER_ELEMENT
        traffic = traffic + FP8_CAST_PASSES * (1 + full) * cast * layers * mb / split
    bandwidth = gpu.hbm_bandwidth_bytes_per_s.value * prof.memory_efficiency
    frozen_rows = prob.frozen_gemm_dim * mb  # the frozen encoders' GEMMs: representative rows = width
    frozen = prob.frozen_flops * mb / split / rates.high_precision_gemm(frozen_rows, prob.frozen_gemm_dim, prob.frozen_gemm_dim)
    overhead = prof.layer_overhead_s * layers * elementwise_passes
    overhead = overhead + np.where(lay.recompute == SELECTIVE, prof.selective_recompute_overhead_s * layers, 0.0)
    return {
        "matmul": linear * layer_passes + other,
        "overhead": overhead,
        "attention": attn_fwd * (1 + full + selective) + attn_bwd,
        "elementwise": traffic / bandwidth,
        "frozen_encoders": frozen,
        "attention_fwd": attn_fwd,
        "attention_bwd": attn_bwd,
        "matmul_fwd": linear + other / FWD_BWD_FACTOR,
    }


def model_parallel_comm_s(costs: list[CollectiveCost], lay: LayoutArrays, compute: dict, stack: TrainingStack) -> dict[str, np.ndarray]:
    """Seconds of one micro-batch's tensor-, context- and pipeline-parallel traffic left exposed.

    TP with comm overlap: the collective is cut into tp chunks pipelined with the GEMMs, so one chunk stays
    exposed plus whatever the GEMMs cannot cover (Wang et al. 2022). Ring attention with overlap: each K/V
    block's exchange hides behind the previous block's attention, forward against forward attention and
    backward (twice the bytes) against backward attention (Liu et al. 2023). Ulysses all-to-alls and
    pipeline sends are on the critical path.
    """
    tp = group_seconds(costs, "tp")
    if stack.tp_comm_overlap.value:
        tp = tp / lay.tp + np.maximum(tp * (1 - 1 / lay.tp) - compute["matmul"], 0.0)
    ring_fwd = group_seconds(costs, "cp", "cp ring K/V exchange")
    ring_bwd = group_seconds(costs, "cp", "cp ring K/V + dK/dV")
    if stack.cp_comm_overlap.value:
        passes_fwd = 1 + (lay.recompute == FULL)
        ring = passes_fwd * np.maximum(ring_fwd / passes_fwd - compute["attention_fwd"], 0) + np.maximum(ring_bwd - compute["attention_bwd"], 0)
    else:
        ring = ring_fwd + ring_bwd
    return {
        "tensor_parallel": tp,
        "context_parallel": group_seconds(costs, "cp", "cp Ulysses") + ring,
        "pipeline_p2p": group_seconds(costs, "pp"),
    }


def data_parallel_s(costs: list[CollectiveCost], lay: LayoutArrays, prob: TrainingProblem, stack: TrainingStack, compute: dict, m) -> np.ndarray:
    """Data-parallel seconds a step not hidden behind compute, as the stack overlaps them.

    ZeRO 0: one all-reduce in backward. ZeRO 1-2: its reduce-scatter half in backward, its all-gather
    half after the optimizer (behind the next forward with param_gather_overlap). Bucketed overlap hides
    all but the last bucket behind the last micro-batch's backward. ZeRO-3: every micro-batch gathers
    and reduce-scatters; with prefetch only the first layer's gather waits, the rest hides behind compute.
    """
    per_step = group_seconds(costs, "dp", "dp gradient")
    reduce = np.where(lay.zero >= 1, per_step / 2, per_step)
    gather = per_step - reduce
    layers = lay.stage_layers(prob.num_layers)
    params_local = prob.trained_params / (lay.tp * lay.pp)
    bucket = stack.grad_bucket_params.value
    tail = np.minimum(1.0, bucket / params_local) if bucket else 1 / layers
    compute_mb = compute["matmul"] + compute["attention"] + compute["elementwise"]
    backward_mb = compute_mb - compute["matmul_fwd"] - compute["attention_fwd"]
    forward_mb = compute["matmul_fwd"] + compute["attention_fwd"]
    if stack.grad_reduce_overlap.value:
        reduce = reduce * tail + np.maximum(reduce * (1 - tail) - backward_mb, 0.0)
    if stack.param_gather_overlap.value:
        gather = np.maximum(gather - forward_mb, 0.0)
    per_mb = group_seconds(costs, "dp", "dp ZeRO-3")
    if stack.param_gather_overlap.value:
        per_mb = per_mb / layers + np.maximum(per_mb * (1 - 1 / layers) - compute_mb, 0.0)
    return np.where(lay.zero >= 3, m * per_mb, reduce + gather)


def optimizer_s(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings) -> np.ndarray:
    """AdamW update of the local shard, and under FP8 the step's weight casts: bytes over HBM bandwidth."""
    shard = np.where(lay.zero >= 1, lay.dp * lay.cp, 1)
    params = prob.trained_params / (lay.tp * lay.pp * shard)
    traffic = params * ADAM_UPDATE_BYTES_PER_PARAM
    if settings.precision == "fp8":
        traffic = traffic + prob.trained_params / (lay.tp * lay.pp) * FP8_CAST_BYTES_PER_ELEMENT * FP8_WEIGHT_COPIES_BYTES_PER_PARAM
    return traffic / (settings.gpu.hbm_bandwidth_bytes_per_s.value * settings.profile.memory_efficiency)

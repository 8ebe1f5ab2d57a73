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

from dataclasses import dataclass, replace

import numpy as np

from estimators.catalog.profiles import load_profile
from estimators.catalog.stacks import default_stack, load_stack
from estimators.counts.problem import TrainingProblem
from estimators.counts.stages import PipelineRanks, RankLoad
from estimators.memory.states import FP8_WEIGHT_COPIES_BYTES_PER_PARAM, state_bytes
from estimators.specs.hardware import GPUSpec
from estimators.specs.layout_arrays import LayoutArrays
from estimators.specs.profile import DeviceProfile
from estimators.specs.stack import TrainingStack
from estimators.time.collectives import CollectiveCost, group_seconds, step_collectives
from estimators.time.comm import Fabric
from estimators.time.compute_rates import ComputeRates, ReadsComputeRates, compute_rates
from estimators.time.kernels import UNFUSED, distinct_rows
from estimators.time.results import COMPUTE_PARTS, CollectiveCall, StepBreakdown

FWD_BWD_FACTOR = 3  # forward + backward (2x forward) FLOPs
BACKWARD_FACTOR = 2  # backward FLOPs per forward FLOP (input and weight gradients)
# Flash kernels' backward TFLOP/s count 2.5x the forward FLOPs (5 matmuls against 2, recomputing the
# scores): Shah et al. 2024 and Dao 2023, sec. 4.1. Time of a backward = this x forward FLOPs / rate.
FLASH_BACKWARD_FLOP_FACTOR = 2.5
CAUSAL_WORK_FRACTION = 0.5  # a causal flash kernel computes half the score blocks
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


@dataclass(frozen=True, kw_only=True)
class RunSettings(ReadsComputeRates):
    """What a step needs besides the problem and the layouts, resolved once: the GPU with its device
    profile and attention kernel (inside ``rates``), the training stack, the global batch."""

    rates: ComputeRates
    stack: TrainingStack
    global_batch: int

    @classmethod
    def resolve(cls, gpu: GPUSpec, *, global_batch: int, precision: str = "bf16", kernel: str | None = None,
                stack: str | None = None, profile: DeviceProfile | None = None) -> "RunSettings":
        """Settings from names: ``kernel`` None is the GPU's default, ``stack`` None the default stack,
        ``profile`` None the GPU's bundled device profile."""
        profile = profile or load_profile(gpu.name)
        return cls(rates=compute_rates(gpu, profile, kernel, precision), stack=load_stack(stack or default_stack()),
                   global_batch=global_batch)

    def with_global_batch(self, global_batch: int) -> "RunSettings":
        return replace(self, global_batch=global_batch)

    @property
    def fabric(self) -> Fabric:
        """The GPU's collective figures (published bus bandwidths, or the profile's measured links)."""
        return Fabric.of(self.gpu, self.profile.links)


@dataclass(frozen=True)
class ComputeSeconds:
    """Seconds of one micro-batch's work on one GPU, by kind (numpy arrays, one element per layout)."""

    matmul: np.ndarray  # forward + backward (+ recompute) of every GEMM
    overhead: np.ndarray  # per-layer dispatch
    attention: np.ndarray  # forward (+ recomputed forward) + backward
    elementwise: np.ndarray  # HBM traffic of the element-wise ops
    frozen_encoders: np.ndarray  # frozen encoders run online
    attention_fwd: np.ndarray
    attention_bwd: np.ndarray
    matmul_fwd: np.ndarray

    @property
    def total(self) -> np.ndarray:
        """All compute of a micro-batch."""
        return self.matmul + self.attention + self.elementwise + self.frozen_encoders + self.overhead

    @property
    def trained(self) -> np.ndarray:
        """The trained model's GEMMs, attention and element-wise work (what hides communication)."""
        return self.matmul + self.attention + self.elementwise


@dataclass(frozen=True)
class ModelParallelSeconds:
    """Exposed seconds of one micro-batch's tensor-, context- and pipeline-parallel traffic."""

    tensor_parallel: np.ndarray
    context_parallel: np.ndarray
    pipeline_p2p: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.tensor_parallel + self.context_parallel + self.pipeline_p2p


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


def attention_time_s(prob: TrainingProblem, lay: LayoutArrays, rates: ComputeRates, load: RankLoad) -> tuple[np.ndarray, np.ndarray]:
    """(forward, backward) seconds of one micro-batch's attention on one GPU of the rank ``load``, from the kernel tables.

    A causal flash kernel does half the score blocks; the unfused kernel computes them all and masks.
    Cross-attention runs at the kernel's efficiency for a sequence as long as its keys (the text).
    """
    split = lay.tp * lay.cp
    seq = np.where(lay.cp_ring, prob.attention_seq / lay.cp, prob.attention_seq)
    heads_local = prob.heads / lay.tp * lay.micro_batch
    flash = rates.kernel is not None and rates.kernel.name != UNFUSED
    work = CAUSAL_WORK_FRACTION if (prob.causal_attention and flash) else 1.0
    flops = load.attention_flops * work * lay.micro_batch / split
    fwd = flops / rates.attention(seq, prob.head_dim, heads_local, "forward", prob.causal_attention)
    bwd_factor = FLASH_BACKWARD_FLOP_FACTOR if flash else BACKWARD_FACTOR
    bwd = bwd_factor * flops / rates.attention(seq, prob.head_dim, heads_local, "backward", prob.causal_attention)
    if prob.cross_attention_flops_per_layer:
        # cross-attention to the text: the keys are the text tokens whatever the context parallelism
        kv = max(prob.cross_attention_kv_tokens, 1)
        cross = load.cross_attention_flops * lay.micro_batch / split
        fwd = fwd + cross / rates.attention(kv, prob.head_dim, heads_local, "forward", False)
        bwd = bwd + bwd_factor * cross / rates.attention(kv, prob.head_dim, heads_local, "backward", False)
    return fwd, bwd


def weight_gradient_passes(prob: TrainingProblem) -> int:
    """Passes of a matmul's weight gradient: one in full training; none under LoRA, whose frozen weights need only
    the input gradient (the adapters' own matmuls, rank r against widths of thousands, are left out)."""
    return 0 if prob.training.lora else 1


def elementwise_bytes(lay: LayoutArrays, total: np.ndarray, replicated: np.ndarray) -> np.ndarray:
    """Bytes a GPU handles of a micro-batch's element-wise tensors: without sequence parallelism every
    tensor-parallel rank repeats the work outside the tensor-parallel regions."""
    return lay.micro_batch * ((total - replicated) / lay.tp + replicated / np.where(lay.sp, lay.tp, 1)) / lay.cp


def compute_time_s(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings, load: RankLoad) -> ComputeSeconds:
    """Seconds of one micro-batch's forward+backward(+recompute) on one GPU of the rank ``load``, by kind of work."""
    gpu, prof, rates = settings.gpu, settings.profile, settings.rates
    split = lay.tp * lay.cp  # tokens (cp) and weights/heads (tp) split the work of a stage
    layers = load.layers
    mb = lay.micro_batch
    # partial recompute (recompute_layers of a stage's layers) re-runs that share of the layers
    full = lay.recompute_share(layers, "full")
    recomputed = lay.recompute_share(layers)
    passes = 2 + weight_gradient_passes(prob)  # forward, input gradient, weight gradient
    layer_passes = passes + full  # full recompute re-runs each layer's forward
    # selective recompute re-runs every element-wise op (not the matmuls): one more pass of their
    # traffic and of the per-layer dispatch overhead, as full recompute has
    elementwise_passes = FWD_BWD_FACTOR + recomputed
    linear = np.zeros(len(lay))
    for index, stream in enumerate(prob.streams):
        rows = stream.tokens * mb / lay.cp  # rows a GPU's GEMMs see (sequence parallelism gathers over tp)
        linear += load.linear_flops[index] * mb / split / stream_gemm_rate(rates, stream, rows, lay.tp)
    first = prob.streams[0]
    first_rows = first.tokens * mb / lay.cp
    other = passes * load.outside_flops * mb / split / rates.high_precision_gemm(first_rows, first.width / lay.tp, first.width)
    attn_fwd, attn_bwd = attention_time_s(prob, lay, rates, load)
    selective = lay.recompute_share(layers, "selective") * prob.selective_recompute_flops_per_layer / max(prob.attention_flops_per_layer, 1.0)
    traffic = (ELEMENTWISE_TRAFFIC_PER_SAVED_BYTE + recomputed) * elementwise_bytes(lay, load.saved["none"], load.replicated["none"])
    if settings.precision == "fp8":
        cast = sum(s.tokens * s.width for s in prob.streams) * FP8_CAST_WIDTHS_PER_LAYER * FP8_CAST_BYTES_PER_ELEMENT
        traffic = traffic + FP8_CAST_PASSES * (1 + full) * cast * layers * mb / split
    bandwidth = gpu.hbm_bandwidth_bytes_per_s.value * prof.memory_efficiency
    frozen_rows = prob.frozen_gemm_dim * mb  # the frozen encoders' GEMMs: representative rows = width
    frozen = prob.frozen_flops * mb / split / rates.high_precision_gemm(frozen_rows, prob.frozen_gemm_dim, prob.frozen_gemm_dim)
    overhead = prof.layer_overhead_s * layers * elementwise_passes
    overhead = overhead + lay.recompute_share(layers, "selective") * prof.selective_recompute_overhead_s * layers
    return ComputeSeconds(
        matmul=linear * layer_passes + other, overhead=overhead, attention=attn_fwd * (1 + full + selective) + attn_bwd,
        elementwise=traffic / bandwidth, frozen_encoders=frozen, attention_fwd=attn_fwd, attention_bwd=attn_bwd,
        matmul_fwd=linear + other / passes,
    )


def model_parallel_comm_s(costs: list[CollectiveCost], lay: LayoutArrays, compute: ComputeSeconds, stack: TrainingStack,
                          layers: np.ndarray) -> ModelParallelSeconds:
    """Seconds of one micro-batch's tensor-, context- and pipeline-parallel traffic left exposed.

    TP with comm overlap: the collective is cut into tp chunks pipelined with the GEMMs, so one chunk stays
    exposed plus whatever the GEMMs cannot cover (Wang et al. 2022). Ring attention with overlap: each K/V
    block's exchange hides behind the previous block's attention, forward against forward attention and
    backward (twice the bytes) against backward attention (Liu et al. 2023). Ulysses all-to-alls and
    pipeline sends are on the critical path.
    """
    tp = group_seconds(costs, "tp")
    if stack.tp_comm_overlap.value:
        tp = tp / lay.tp + np.maximum(tp * (1 - 1 / lay.tp) - compute.matmul, 0.0)
    ring_fwd = group_seconds(costs, "cp", "cp ring K/V exchange")
    ring_bwd = group_seconds(costs, "cp", "cp ring K/V + dK/dV")
    if stack.cp_comm_overlap.value:
        passes_fwd = 1 + lay.recompute_share(layers, "full")
        ring = passes_fwd * np.maximum(ring_fwd / passes_fwd - compute.attention_fwd, 0) + np.maximum(ring_bwd - compute.attention_bwd, 0)
    else:
        ring = ring_fwd + ring_bwd
    return ModelParallelSeconds(tensor_parallel=tp, context_parallel=group_seconds(costs, "cp", "cp Ulysses") + ring,
                                pipeline_p2p=group_seconds(costs, "pp"))


def data_parallel_s(costs: list[CollectiveCost], lay: LayoutArrays, load: RankLoad, stack: TrainingStack, compute: ComputeSeconds, m) -> np.ndarray:
    """Data-parallel seconds a step not hidden behind compute, as the stack overlaps them.

    ZeRO 0: one all-reduce in backward. ZeRO 1-2: its reduce-scatter half in backward, its all-gather
    half after the optimizer (behind the next forward with param_gather_overlap). Bucketed overlap hides
    all but the last bucket behind the last micro-batch's backward. ZeRO-3: every micro-batch gathers
    and reduce-scatters; with prefetch only the first layer's gather waits, the rest hides behind compute.
    """
    per_step = group_seconds(costs, "dp", "dp gradient")
    reduce = np.where(lay.zero >= 1, per_step / 2, per_step)
    gather = per_step - reduce
    layers = np.maximum(load.layers, 1)
    params_local = np.maximum(load.trained_params / lay.tp, 1.0)
    bucket = stack.grad_bucket_params.value
    tail = np.minimum(1.0, bucket / params_local) if bucket else 1 / layers
    compute_mb = compute.trained
    backward_mb = compute_mb - compute.matmul_fwd - compute.attention_fwd
    forward_mb = compute.matmul_fwd + compute.attention_fwd
    if stack.grad_reduce_overlap.value:
        reduce = reduce * tail + np.maximum(reduce * (1 - tail) - backward_mb, 0.0)
    if stack.param_gather_overlap.value:
        gather = np.maximum(gather - forward_mb, 0.0)
    per_mb = group_seconds(costs, "dp", "dp ZeRO-3")
    if stack.param_gather_overlap.value:
        per_mb = per_mb / layers + np.maximum(per_mb * (1 - 1 / layers) - compute_mb, 0.0)
    return np.where(lay.zero >= 3, m * per_mb, reduce + gather)


def optimizer_s(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings, load: RankLoad) -> np.ndarray:
    """AdamW update of the local shard, and under FP8 the step's weight casts: bytes over HBM bandwidth. With the
    optimizer offloaded the update runs on the host: its gradients go out and its weights come back over the host
    link (ZeRO-Offload, Ren et al. 2021); the CPU's own AdamW time is not modelled (a lower bound)."""
    shard = np.where(lay.zero >= 1, lay.dp * lay.cp, 1)
    params = load.trained_params / lay.tp / shard
    traffic = params * ADAM_UPDATE_BYTES_PER_PARAM
    if settings.precision == "fp8":
        traffic = traffic + load.params / lay.tp * FP8_CAST_BYTES_PER_ELEMENT * FP8_WEIGHT_COPIES_BYTES_PER_PARAM
    on_gpu = traffic / (settings.gpu.hbm_bandwidth_bytes_per_s.value * settings.profile.memory_efficiency)
    link = settings.gpu.host_link_bytes_per_s_per_direction
    states = state_bytes(settings.stack, prob.training)
    host = np.inf if link is None or link.value is None else params * (states.gradient + states.weight) / link.value
    return np.where(lay.optimizer_offload, host, on_gpu)


def offloaded_bytes(lay: LayoutArrays, load: RankLoad) -> np.ndarray:
    """Bytes one micro-batch of a rank sends to host memory: what its layers not recomputed save."""
    kept = (load.layers - lay.recomputed_of(load.layers)) / np.maximum(load.layers, 1)
    return np.where(lay.offload, kept * elementwise_bytes(lay, load.saved["none"], load.replicated["none"]), 0.0)


def activation_offload_s(lay: LayoutArrays, settings: RunSettings, compute: ComputeSeconds, load: RankLoad) -> np.ndarray:
    """Seconds a micro-batch waits on activation offload: the copies out (forward) and back (backward) run over the
    host link behind that pass's compute (PyTorch's CPU-offload saved-tensor hooks and Megatron-Core's
    activation offloading overlap them layer by layer); what the compute cannot cover is exposed."""
    link = settings.gpu.host_link_bytes_per_s_per_direction
    if link is None or link.value is None:
        return np.where(lay.offload, np.inf, 0.0)
    one_way = offloaded_bytes(lay, load) / link.value
    forward = compute.matmul_fwd + compute.attention_fwd
    backward = compute.trained - forward
    return np.maximum(one_way - forward, 0.0) + np.maximum(one_way - backward, 0.0)


@dataclass(frozen=True)
class StepArrays:
    """Step time of every layout and its parts (seconds a step; element i: layout i)."""

    step_time_s: np.ndarray
    micro_batches: np.ndarray
    matmul_s: np.ndarray
    attention_s: np.ndarray
    elementwise_s: np.ndarray
    overhead_s: np.ndarray
    frozen_encoders_s: np.ndarray
    tensor_parallel_s: np.ndarray
    context_parallel_s: np.ndarray
    pipeline_p2p_s: np.ndarray
    bubble_s: np.ndarray
    data_parallel_exposed_s: np.ndarray
    optimizer_s: np.ndarray
    attention_backward_s: np.ndarray
    bubble_fraction: np.ndarray
    collectives: tuple[CollectiveCost, ...]
    activation_offload_s: np.ndarray
    scale_up_name: str = "NVLink"

    @property
    def compute_s(self) -> np.ndarray:
        """The GPU computing: GEMMs, attention, element-wise ops, frozen encoders and dispatch."""
        return sum(getattr(self, part) for part in COMPUTE_PARTS)

    @property
    def network_bytes_per_step(self) -> np.ndarray:
        """Bytes one GPU sends a step over every group."""
        return sum(c.bytes_per_gpu * (self.micro_batches if c.per == "micro-batch" else 1) for c in self.collectives)

    def breakdown(self, i: int) -> StepBreakdown:
        """Layout i's step by part."""
        return StepBreakdown(**{name: float(getattr(self, name)[i]) for name in StepBreakdown.model_fields})

    def collective_calls(self, i: int) -> tuple[CollectiveCall, ...]:
        """Layout i's collectives that it issues (at least one call)."""
        return tuple(
            CollectiveCall(name=c.name, kind=c.kind, group=c.group, per=c.per, calls=float(c.calls[i]), ranks=int(c.ranks[i]),
                           tier="NIC" if c.crosses_nodes[i] else self.scale_up_name, algorithm=c.algorithm_name(i),
                           local_ranks=int(c.local_ranks[i]), buffer_bytes=float(c.buffer_bytes[i]),
                           bytes_per_gpu=float(c.bytes_per_gpu[i]), seconds=float(c.seconds[i]), overlap=c.overlap)
            for c in self.collectives if c.calls[i] > 0
        )


def step_time(prob: TrainingProblem, lay: LayoutArrays, settings: RunSettings, ranks: PipelineRanks | None = None) -> StepArrays:
    """Time of one optimizer step on every layout, by part: the pipeline runs at the pace of its rank with the most
    work (its own layers, and the embedders or the final layer it holds)."""
    ranks = ranks or PipelineRanks.of(prob, lay)
    load, _ = ranks.pace()
    m = lay.micro_batches(settings.global_batch)
    compute = compute_time_s(prob, lay, settings, load)
    costs = step_collectives(prob, lay, load, settings.fabric)
    comm = model_parallel_comm_s(costs, lay, compute, settings.stack, load.layers)
    offload = activation_offload_s(lay, settings, compute, load)
    t_mb = compute.total + comm.total + offload
    bubble_mb = (lay.pp - 1) / lay.vpp
    dp = data_parallel_s(costs, lay, load, settings.stack, compute, m)
    opt = optimizer_s(prob, lay, settings, load)
    return StepArrays(
        step_time_s=(m + bubble_mb) * t_mb + dp + opt, micro_batches=m,
        matmul_s=m * compute.matmul, attention_s=m * compute.attention, elementwise_s=m * compute.elementwise,
        overhead_s=m * compute.overhead, frozen_encoders_s=m * compute.frozen_encoders,
        tensor_parallel_s=m * comm.tensor_parallel, context_parallel_s=m * comm.context_parallel, pipeline_p2p_s=m * comm.pipeline_p2p,
        bubble_s=bubble_mb * t_mb, data_parallel_exposed_s=dp, optimizer_s=opt, attention_backward_s=m * compute.attention_bwd,
        bubble_fraction=bubble_mb / (m + bubble_mb), collectives=tuple(costs), activation_offload_s=m * offload,
        scale_up_name=settings.fabric.scale_up_name,
    )

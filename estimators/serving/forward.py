"""One no-grad DiT forward on one GPU of a replica: seconds by part, from the same problem, kernel tables and
collectives as a training step, the forward pass only.

Per GPU of a sequence group of s = ulysses x ring GPUs, for ``samples`` clips in the call:
  GEMMs: each stream's block matmuls at the cuBLAS table's efficiency for their shapes (time/step.py's
         stream_gemm_rate, no tensor parallelism); the visual stream's rows are split s ways, the caption's
         are not (xDiT keeps it whole on every GPU).
  attention: the self/joint attention FLOPs / s at the kernel's forward efficiency for the sequence each
         GPU's kernel sees (Ulysses: the whole sequence, heads/u heads; ring: blocks of seq/r);
         cross-attention at the efficiency of the caption's length.
  element-wise: the bytes a training forward writes for backward (what every op streams), once.
  Ulysses: four all-to-alls a layer on the GPU's links, exposed. Ring: r-1 key/value exchanges a layer,
         exposed only beyond the attention they overlap, and r-1 merges of a block's output into the
         running output and its log-sum-exp (ring-flash-attention's update_out_and_lse: the fp32 output
         read twice and written once a merge). The output is all-gathered once (xDiT).
  weights: sharded over the replica (FSDP), one layer's gather exposed and the rest behind compute;
         streamed from host memory (sequential offload), every byte once a forward, exposed.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

from estimators.counts.problem import TrainingProblem
from estimators.serving.machine import Machine
from estimators.serving.parallel import Split
from estimators.time.comm import bytes_per_rank
from estimators.time.step import stream_gemm_rate

# Of the three element-wise accesses a saved byte costs a training step (time/step.py: written in forward,
# read in backward, its gradient written), a forward makes the first.
FORWARD_ELEMENTWISE_ACCESSES_PER_SAVED_BYTE = 1
ULYSSES_ALL_TO_ALLS_PER_LAYER = 4  # q, k, v in and the output back (Jacobs et al. 2023)
RING_KV_TENSORS = 2  # a key and a value block each exchange
RING_MERGE_ACCESSES = 3  # the running output and the block's output read, the running output written
RING_MERGE_BYTES = 4  # the merge runs in fp32


@dataclass(frozen=True)
class Placement:
    """Where the DiT's weights live: on every GPU, sharded over the replica, or streamed from host memory."""

    mode: str = "resident"  # resident | sharded | streamed
    shards: int = 1


@dataclass(frozen=True)
class ForwardSeconds:
    """One forward on one GPU, seconds by part."""

    matmul: float
    attention: float
    elementwise: float
    overhead: float
    ulysses: float
    ring_exposed: float
    output_gather: float
    weight_gather: float
    weight_stream: float

    @property
    def total(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self))

    @property
    def communication(self) -> float:
        return self.ulysses + self.ring_exposed + self.output_gather + self.weight_gather


@dataclass(frozen=True)
class GemmShape:
    """What a stream's GEMM rate depends on (time/step.py's stream_gemm_rate reads these three)."""

    width: int
    linear_flops_per_layer: float
    tokens: int


@lru_cache(maxsize=4096)
def gemm_rate(rates, shape: GemmShape, rows: float) -> float:
    """FLOP/s of a stream's block GEMMs on ``rows`` rows without tensor parallelism (memoised: a replica
    search asks the same shapes for every placement and batch)."""
    return float(stream_gemm_rate(rates, shape, rows, 1.0))


@lru_cache(maxsize=4096)
def high_precision_rate(rates, rows: float, n: int, k: int) -> float:
    return float(rates.high_precision_gemm(rows, n, k))


def _stream_split(index: int, split: Split) -> int:
    """The visual stream (first) is spread over the sequence group; the caption is kept whole."""
    return split.sequence if index == 0 else 1


def _gemm_seconds(prob: TrainingProblem, machine: Machine, split: Split, samples: int) -> float:
    seconds = 0.0
    for i, stream in enumerate(prob.streams):
        share = _stream_split(i, split)
        rows = stream.tokens * samples / share
        rate = gemm_rate(machine.rates, GemmShape(stream.width, stream.linear_flops_per_layer, stream.tokens), rows)
        seconds += stream.linear_flops_per_layer * prob.num_layers * samples / share / rate
    first = prob.streams[0]
    rows = first.tokens * samples / split.sequence
    other_rate = high_precision_rate(machine.rates, rows, first.width, first.width)
    return seconds + prob.other_flops * samples / split.sequence / other_rate


def _attention_seconds(prob: TrainingProblem, machine: Machine, split: Split, samples: int) -> float:
    seq = prob.attention_seq / split.ring
    heads = prob.heads / split.ulysses * samples
    flops = prob.attention_flops_per_layer * prob.num_layers * samples / split.sequence
    seconds = flops / float(machine.rates.attention(seq, prob.head_dim, heads, "forward", False))
    if prob.cross_attention_flops_per_layer:
        kv = max(prob.cross_attention_kv_tokens, 1)
        cross = prob.cross_attention_flops_per_layer * prob.num_layers * samples / split.sequence
        seconds += cross / float(machine.rates.attention(kv, prob.head_dim, heads, "forward", False))
    return seconds


def _elementwise_seconds(prob: TrainingProblem, machine: Machine, split: Split, samples: int) -> float:
    saved = sum(s.tokens / _stream_split(i, split) * s.saved_bytes_per_token["none"] for i, s in enumerate(prob.streams))
    return FORWARD_ELEMENTWISE_ACCESSES_PER_SAVED_BYTE * saved * prob.num_layers * samples / machine.hbm_bytes_per_s


def _collective(kind: str, buffer_bytes: float, ranks: int, machine: Machine) -> float:
    return machine.collective_s(kind, buffer_bytes, ranks)


@dataclass(frozen=True)
class Exchange:
    """One kind of collective a forward issues on one GPU: calls, the buffer of each, their time."""

    name: str
    kind: str
    ranks: int
    calls: float
    buffer_bytes: float
    seconds: float  # all calls, before any overlap
    treatment: str

    @property
    def bytes_per_gpu(self) -> float:
        return self.calls * float(bytes_per_rank(self.kind, self.buffer_bytes, self.ranks))


def _exchange(name: str, kind: str, ranks: int, calls: float, buffer: float, machine: Machine, treatment: str) -> Exchange:
    return Exchange(name, kind, ranks, calls, buffer, calls * _collective(kind, buffer, ranks, machine), treatment)


def forward_exchanges(prob: TrainingProblem, machine: Machine, split: Split, samples: int, latent_elements: float,
                      placement: Placement = Placement(), weight_bytes: float = 0.0) -> list[Exchange]:
    """Every collective of one forward on one GPU (none on one GPU)."""
    layers, width = prob.num_layers, prob.heads * prob.head_dim  # q, k, v and the output: each heads x head_dim wide
    out = []
    if split.ulysses > 1:
        buffer = prob.attention_seq / split.sequence * samples * width * prob.activation_bytes
        out.append(_exchange("Ulysses all-to-all (q, k, v, output)", "all_to_all", split.ulysses, ULYSSES_ALL_TO_ALLS_PER_LAYER * layers,
                             buffer, machine, "exposed"))
    if split.ring > 1:
        block = RING_KV_TENSORS * prob.attention_seq / split.ring * samples * width / split.ulysses * prob.activation_bytes
        out.append(_exchange("ring key/value exchange", "send_recv", split.ring, (split.ring - 1) * layers, block, machine,
                             "overlapped with the attention it feeds"))
    if split.sequence > 1:
        out.append(_exchange("output all-gather", "all_gather", split.sequence, 1, latent_elements * samples * prob.activation_bytes,
                             machine, "exposed"))
    if placement.mode == "sharded" and placement.shards > 1:
        out.append(_exchange("FSDP weight all-gather (layer by layer)", "all_gather", placement.shards, 1, weight_bytes, machine,
                             "prefetched: one layer exposed"))
    return out


def _seconds_of(exchanges: list[Exchange], kind: str) -> float:
    return sum(e.seconds for e in exchanges if e.kind == kind and not e.name.startswith("FSDP"))


def _ring_exposed_seconds(prob: TrainingProblem, machine: Machine, split: Split, samples: int, attention_s: float, ring_s: float) -> float:
    if split.ring == 1:
        return 0.0
    output = prob.attention_seq / split.ring * samples * prob.heads * prob.head_dim / split.ulysses
    merges = (split.ring - 1) * RING_MERGE_ACCESSES * RING_MERGE_BYTES * output / machine.hbm_bytes_per_s
    return prob.num_layers * (max((ring_s - attention_s) / prob.num_layers, 0.0) + merges)


def _weight_seconds(prob: TrainingProblem, machine: Machine, placement: Placement, weight_bytes: float, compute_s: float,
                    exchanges: list[Exchange]) -> tuple[float, float]:
    """(exposed all-gather of sharded weights, host-memory streaming of offloaded weights)."""
    gather = sum(e.seconds for e in exchanges if e.name.startswith("FSDP"))
    if gather:
        return gather / prob.num_layers + max(gather * (1 - 1 / prob.num_layers) - compute_s, 0.0), 0.0
    if placement.mode == "streamed":
        return 0.0, weight_bytes / machine.device.host_link.achieved_bytes_per_s
    return 0.0, 0.0


def forward_seconds(prob: TrainingProblem, machine: Machine, split: Split, samples: int, latent_elements: float,
                    placement: Placement = Placement(), weight_bytes: float = 0.0) -> ForwardSeconds:
    """One forward of ``samples`` clips on one GPU of a replica split as ``split``."""
    matmul = _gemm_seconds(prob, machine, split, samples)
    attention = _attention_seconds(prob, machine, split, samples)
    elementwise = _elementwise_seconds(prob, machine, split, samples)
    exchanges = forward_exchanges(prob, machine, split, samples, latent_elements, placement, weight_bytes)
    gather, stream = _weight_seconds(prob, machine, placement, weight_bytes, matmul + attention + elementwise, exchanges)
    return ForwardSeconds(
        matmul=matmul, attention=attention, elementwise=elementwise, overhead=machine.profile.layer_overhead_s * prob.num_layers,
        ulysses=_seconds_of(exchanges, "all_to_all"),
        ring_exposed=_ring_exposed_seconds(prob, machine, split, samples, attention, _seconds_of(exchanges, "send_recv")),
        output_gather=_seconds_of(exchanges, "all_gather"),
        weight_gather=gather, weight_stream=stream,
    )

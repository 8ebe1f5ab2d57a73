"""Every collective a training step issues, per layout (vectorised): what, how often, bytes, tier, time.

The step model (step.py) sums these; the plan lists them for the chosen layout. Counts per micro-batch
on one GPU of the busiest pipeline stage, or per step for the data-parallel gradient exchange.
Sources: Megatron tensor parallelism, two collectives a layer per pass (Shoeybi et al. 2019); with
sequence parallelism an all-gather + reduce-scatter of the same volume (Korthikanti et al. 2022);
Ulysses, four all-to-alls a layer per pass (Jacobs et al. 2023); ring attention, cp-1 K/V block
exchanges a layer (Liu et al. 2023); ZeRO traffic (Rajbhandari et al. 2020, sec. 7).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from estimators.counts.problem import TrainingProblem
from estimators.counts.stages import RankLoad
from estimators.specs.layout_arrays import LayoutArrays
from estimators.time.comm import bytes_per_rank, collective_time_s, group_crosses_nodes

FULL = 2  # layouts.RECOMPUTE_CODES["full"]
ULYSSES_ALL_TO_ALLS_PER_PASS = 4  # q, k, v in and the output back
RING_KV_TENSORS = 2  # K and V blocks; backward passes dK, dV as well (twice the bytes)
PP_SENDS_PER_CHUNK = 2  # activations forward, their gradients backward
ZERO3_GATHERS = 2  # weights gathered for forward and again for backward


@dataclass(frozen=True)
class CollectiveCost:
    """One kind of collective of a step, for every layout."""

    name: str
    kind: str
    group: str  # tp, cp, pp or dp
    per: str  # "micro-batch" or "step"
    overlap: str  # how the step model treats its time
    calls: np.ndarray
    buffer_bytes: np.ndarray
    ranks: np.ndarray
    crosses_nodes: np.ndarray
    seconds_per_call: np.ndarray

    @property
    def bytes_per_gpu(self) -> np.ndarray:
        """Bytes one GPU sends for all calls (per micro-batch or per step)."""
        return self.calls * bytes_per_rank(self.kind, self.buffer_bytes, self.ranks)

    @property
    def seconds(self) -> np.ndarray:
        """Time of all calls, before any overlap."""
        return self.calls * self.seconds_per_call


def _cost(name, kind, group, per, overlap, calls, buffer, ranks, crosses, gpu, links) -> CollectiveCost:
    calls = np.where(np.asarray(ranks) > 1, calls, 0)
    seconds = collective_time_s(kind, buffer, ranks, crosses, gpu, links)
    return CollectiveCost(name, kind, group, per, overlap, np.asarray(calls, dtype=float), np.asarray(buffer, dtype=float), np.asarray(ranks), crosses, seconds)


def step_collectives(prob: TrainingProblem, lay: LayoutArrays, load: RankLoad, gpu, links) -> list[CollectiveCost]:
    """All collectives of one step on each layout, on the pipeline rank ``load`` (the one that sets the pace)."""
    node, mb = gpu.node_size, lay.micro_batch
    layers = load.layers
    passes = 2 + lay.recompute_share(layers, "full")  # forward, backward, recomputed forward (its share of layers)
    costs = []
    tp_cross = group_crosses_nodes(lay.tp, 1, node)
    for index, stream in enumerate(prob.streams):
        buffer = stream.tokens / lay.cp * mb * stream.width * prob.activation_bytes
        costs.append(_cost(f"tp all-reduce ({stream.name})", "all_reduce", "tp", "micro-batch", "exposed less what the stack overlaps",
                           load.tp_collectives[index] * passes, buffer, lay.tp, tp_cross, gpu, links))
    cp_cross = group_crosses_nodes(lay.cp, lay.tp, node)
    # the tokens of the sequence-parallel attention (cross-attention needs no exchange: every rank holds
    # the text keys/values and attends from its own queries)
    local_tokens = prob.attention_seq / lay.cp * mb
    q_width, kv_width = prob.heads * prob.head_dim / lay.tp, prob.kv_heads * prob.head_dim / lay.tp
    a2a_buffer = local_tokens * (2 * q_width + 2 * kv_width) / ULYSSES_ALL_TO_ALLS_PER_PASS * prob.activation_bytes
    ulysses_ranks = np.where(lay.cp_ring, 1, lay.cp)
    costs.append(_cost("cp Ulysses all-to-all (q, k, v, out)", "all_to_all", "cp", "micro-batch", "exposed less what the stack overlaps",
                       ULYSSES_ALL_TO_ALLS_PER_PASS * layers * passes, a2a_buffer, ulysses_ranks, cp_cross, gpu, links))
    ring_ranks = np.where(lay.cp_ring, lay.cp, 1)
    kv_block = RING_KV_TENSORS * local_tokens * kv_width * prob.activation_bytes
    costs.append(_cost("cp ring K/V exchange (forward)", "send_recv", "cp", "micro-batch", "overlapped with attention",
                       (lay.cp - 1) * layers * (passes - 1), kv_block, ring_ranks, cp_cross, gpu, links))
    costs.append(_cost("cp ring K/V + dK/dV exchange (backward)", "send_recv", "cp", "micro-batch", "overlapped with attention",
                       (lay.cp - 1) * layers, 2 * kv_block, ring_ranks, cp_cross, gpu, links))
    pp_cross = group_crosses_nodes(lay.pp, lay.tp * lay.cp, node)
    boundary = sum(s.tokens * s.width for s in prob.streams) / (lay.cp * lay.tp) * mb * prob.activation_bytes
    costs.append(_cost("pp activation/gradient send", "send_recv", "pp", "micro-batch", "exposed",
                       PP_SENDS_PER_CHUNK * lay.vpp, boundary, lay.pp, pp_cross, gpu, links))
    costs.extend(data_parallel_collectives(prob, lay, load, gpu, links))
    return costs


def data_parallel_collectives(prob: TrainingProblem, lay: LayoutArrays, load: RankLoad, gpu, links) -> list[CollectiveCost]:
    """Gradient exchange of a rank's trained parameters over the dp x cp replicas.

    ZeRO 0-2: one all-reduce volume of all gradients a step (reduce-scatter + all-gather under ZeRO-1/2).
    ZeRO-3 as FSDP does it with one unit a layer plus a root unit: every micro-batch gathers each layer
    twice (forward, and again for backward after resharding) but the root's parameters (embedders,
    head) once, since the root stays gathered through backward; gradients are reduce-scattered once.
    Under LoRA only the adapters' gradients travel; the frozen weights are still gathered under ZeRO-3.
    """
    node = gpu.node_size
    ranks = lay.dp * lay.cp
    cross = group_crosses_nodes(lay.dp, lay.tp * lay.cp * lay.pp, node) | group_crosses_nodes(lay.cp, lay.tp, node)
    grad_bytes = load.trained_params / lay.tp * prob.state_bytes_per_param
    largest = np.maximum(load.largest_layer_params, 1.0)
    layer_bytes = largest / lay.tp * prob.state_bytes_per_param
    root_bytes = load.outside_params / lay.tp * prob.state_bytes_per_param
    layers = (load.params - load.outside_params) / largest  # full-layer equivalents on the rank
    zero3 = lay.zero >= 3
    return [
        _cost("dp gradient all-reduce", "all_reduce", "dp", "step", "overlapped with the last backward",
              np.where(zero3, 0, 1), grad_bytes, ranks, cross, gpu, links),
        _cost("dp ZeRO-3 layer all-gather (forward and backward)", "all_gather", "dp", "micro-batch", "prefetched during compute",
              np.where(zero3, ZERO3_GATHERS * layers, 0), layer_bytes, ranks, cross, gpu, links),
        _cost("dp ZeRO-3 root all-gather (once)", "all_gather", "dp", "micro-batch", "prefetched during compute",
              np.where(zero3 & (load.outside_params > 0), 1, 0), root_bytes, ranks, cross, gpu, links),
        _cost("dp ZeRO-3 gradient reduce-scatter", "reduce_scatter", "dp", "micro-batch", "overlapped with backward",
              np.where(zero3, 1, 0), grad_bytes, ranks, cross, gpu, links),
    ]


def group_seconds(costs: list[CollectiveCost], group: str, name_prefix: str = "") -> np.ndarray:
    """Summed time of the costs of one group (optionally those whose name starts with a prefix)."""
    return sum(c.seconds for c in costs if c.group == group and c.name.startswith(name_prefix))

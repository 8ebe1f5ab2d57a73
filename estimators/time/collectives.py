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
from estimators.time.comm import ALGORITHMS, Fabric, bytes_per_rank, collective_time, ranks_per_domain

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
    local_ranks: np.ndarray  # ranks of the group inside one scale-up domain
    seconds_per_call: np.ndarray
    algorithm: np.ndarray  # index into comm.ALGORITHMS: what the library's tuner picks

    @property
    def crosses_nodes(self) -> np.ndarray:
        """The group spans more than one scale-up domain (its traffic crosses NICs)."""
        return (self.ranks > 1) & (self.ranks > self.local_ranks)

    def algorithm_name(self, i: int) -> str:
        return ALGORITHMS[int(self.algorithm[i])]

    @property
    def bytes_per_gpu(self) -> np.ndarray:
        """Bytes one GPU sends for all calls (per micro-batch or per step)."""
        return self.calls * bytes_per_rank(self.kind, self.buffer_bytes, self.ranks)

    @property
    def seconds(self) -> np.ndarray:
        """Time of all calls, before any overlap."""
        return self.calls * self.seconds_per_call


def _cost(name, kind, group, per, overlap, calls, buffer, ranks, local, fabric: Fabric) -> CollectiveCost:
    ranks = np.asarray(ranks)
    calls = np.where(ranks > 1, calls, 0)
    local = np.broadcast_to(np.minimum(local, np.maximum(ranks, 1)), ranks.shape)
    timed = collective_time(kind, buffer, ranks, local, fabric)
    return CollectiveCost(name, kind, group, per, overlap, np.asarray(calls, dtype=float), np.asarray(buffer, dtype=float), ranks,
                          np.asarray(local), timed.seconds, timed.algorithm)


def step_collectives(prob: TrainingProblem, lay: LayoutArrays, load: RankLoad, fabric: Fabric) -> list[CollectiveCost]:
    """All collectives of one step on each layout, on the pipeline rank ``load`` (the one that sets the pace)."""
    domain, mb = fabric.domain, lay.micro_batch
    layers = load.layers
    passes = 2 + lay.recompute_share(layers, "full")  # forward, backward, recomputed forward (its share of layers)
    costs = []
    tp_local = ranks_per_domain(lay.tp, 1, domain)
    for index, stream in enumerate(prob.streams):
        buffer = stream.tokens / lay.cp * mb * stream.width * prob.activation_bytes
        costs.append(_cost(f"tp all-reduce ({stream.name})", "all_reduce", "tp", "micro-batch", "exposed less what the stack overlaps",
                           load.tp_collectives[index] * passes, buffer, lay.tp, tp_local, fabric))
    cp_local = ranks_per_domain(lay.cp, lay.tp, domain)
    # the tokens of the sequence-parallel attention (cross-attention needs no exchange: every rank holds
    # the text keys/values and attends from its own queries)
    local_tokens = prob.attention_seq / lay.cp * mb
    q_width, kv_width = prob.heads * prob.head_dim / lay.tp, prob.kv_heads * prob.head_dim / lay.tp
    a2a_buffer = local_tokens * (2 * q_width + 2 * kv_width) / ULYSSES_ALL_TO_ALLS_PER_PASS * prob.activation_bytes
    ulysses_ranks = np.where(lay.cp_ring, 1, lay.cp)
    costs.append(_cost("cp Ulysses all-to-all (q, k, v, out)", "all_to_all", "cp", "micro-batch", "exposed less what the stack overlaps",
                       ULYSSES_ALL_TO_ALLS_PER_PASS * layers * passes, a2a_buffer, ulysses_ranks, cp_local, fabric))
    ring_ranks = np.where(lay.cp_ring, lay.cp, 1)
    kv_block = RING_KV_TENSORS * local_tokens * kv_width * prob.activation_bytes
    costs.append(_cost("cp ring K/V exchange (forward)", "send_recv", "cp", "micro-batch", "overlapped with attention",
                       (lay.cp - 1) * layers * (passes - 1), kv_block, ring_ranks, _p2p_local(cp_local, ring_ranks), fabric))
    costs.append(_cost("cp ring K/V + dK/dV exchange (backward)", "send_recv", "cp", "micro-batch", "overlapped with attention",
                       (lay.cp - 1) * layers, 2 * kv_block, ring_ranks, _p2p_local(cp_local, ring_ranks), fabric))
    pp_local = ranks_per_domain(lay.pp, lay.tp * lay.cp, domain)
    boundary = sum(s.tokens * s.width for s in prob.streams) / (lay.cp * lay.tp) * mb * prob.activation_bytes
    costs.append(_cost("pp activation/gradient send", "send_recv", "pp", "micro-batch", "exposed",
                       PP_SENDS_PER_CHUNK * lay.vpp, boundary, lay.pp, _p2p_local(pp_local, lay.pp), fabric))
    costs.extend(data_parallel_collectives(prob, lay, load, fabric))
    return costs


def _p2p_local(local, ranks):
    """A ring of point-to-point sends (ring attention, pipeline stages) crosses a NIC when any neighbour pair
    sits in different domains: all ranks in one domain, or one 'domain' of a single rank (its sends cross)."""
    return np.where(local >= ranks, ranks, 1)


def data_parallel_collectives(prob: TrainingProblem, lay: LayoutArrays, load: RankLoad, fabric: Fabric) -> list[CollectiveCost]:
    """Gradient exchange of a rank's trained parameters over the dp x cp replicas.

    ZeRO 0-2: one all-reduce volume of all gradients a step (reduce-scatter + all-gather under ZeRO-1/2).
    ZeRO-3 as FSDP does it with one unit a layer plus a root unit: every micro-batch gathers each layer
    twice (forward, and again for backward after resharding) but the root's parameters (embedders,
    head) once, since the root stays gathered through backward; gradients are reduce-scattered once.
    Under LoRA only the adapters' gradients travel; the frozen weights are still gathered under ZeRO-3.
    """
    ranks = lay.dp * lay.cp
    # the dp x cp replicas of a weight shard: cp ranks stride tp, dp ranks stride tp cp pp
    local = ranks_per_domain(lay.cp, lay.tp, fabric.domain) * ranks_per_domain(lay.dp, lay.tp * lay.cp * lay.pp, fabric.domain)
    grad_bytes = load.trained_params / lay.tp * prob.state_bytes_per_param
    largest = np.maximum(load.largest_layer_params, 1.0)
    layer_bytes = largest / lay.tp * prob.state_bytes_per_param
    root_bytes = load.outside_params / lay.tp * prob.state_bytes_per_param
    layers = (load.params - load.outside_params) / largest  # full-layer equivalents on the rank
    zero3 = lay.zero >= 3
    return [
        _cost("dp gradient all-reduce", "all_reduce", "dp", "step", "overlapped with the last backward",
              np.where(zero3, 0, 1), grad_bytes, ranks, local, fabric),
        _cost("dp ZeRO-3 layer all-gather (forward and backward)", "all_gather", "dp", "micro-batch", "prefetched during compute",
              np.where(zero3, ZERO3_GATHERS * layers, 0), layer_bytes, ranks, local, fabric),
        _cost("dp ZeRO-3 root all-gather (once)", "all_gather", "dp", "micro-batch", "prefetched during compute",
              np.where(zero3 & (load.outside_params > 0), 1, 0), root_bytes, ranks, local, fabric),
        _cost("dp ZeRO-3 gradient reduce-scatter", "reduce_scatter", "dp", "micro-batch", "overlapped with backward",
              np.where(zero3, 1, 0), grad_bytes, ranks, local, fabric),
    ]


def group_seconds(costs: list[CollectiveCost], group: str, name_prefix: str = "") -> np.ndarray:
    """Summed time of the costs of one group (optionally those whose name starts with a prefix)."""
    return sum(c.seconds for c in costs if c.group == group and c.name.startswith(name_prefix))

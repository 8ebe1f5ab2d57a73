"""Collective communication: bytes each rank sends and the time, tier by tier (numpy-vectorised).

Ring algorithms (NCCL performance notes, "bus bandwidth"): for a buffer of S bytes over n ranks each
rank sends all-reduce 2(n-1)/n S; all-gather and reduce-scatter (n-1)/n S (S the full buffer);
all-to-all (n-1)/n S. Time = latency x steps + bytes / (link bandwidth x efficiency), the slowest tier
crossed setting the bandwidth (formulas.md; hardware.md traps). Every function takes scalars or
numpy arrays (one element per layout).
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from estimators.specs.hardware import GPUSpec
from estimators.specs.profile import LinkProfile

Collective = Literal["all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv"]

# Bytes each rank sends per byte of buffer, as a multiple of (n-1)/n.
_RING_FACTOR = {"all_reduce": 2.0, "all_gather": 1.0, "reduce_scatter": 1.0, "all_to_all": 1.0}
# Latency-bound steps of a ring, per (n-1): 2 for all-reduce, 1 otherwise.
_RING_STEPS = {"all_reduce": 2, "all_gather": 1, "reduce_scatter": 1, "all_to_all": 1}


def bytes_per_rank(kind: Collective, buffer_bytes, ranks):
    """Bytes one rank sends for a collective over ``ranks`` ranks on a buffer of ``buffer_bytes``.

    send_recv is one point-to-point transfer of the whole buffer (pipeline stages, ring attention).
    """
    buffer_bytes = np.asarray(buffer_bytes, dtype=float)
    if kind == "send_recv":
        return buffer_bytes
    ranks = np.asarray(ranks, dtype=float)
    return _RING_FACTOR[kind] * np.maximum(ranks - 1, 0) / np.maximum(ranks, 1) * buffer_bytes


def group_crosses_nodes(ranks, stride, node_size: int):
    """A group of ``ranks`` GPUs spaced ``stride`` apart in rank order spans more than one node.

    Ranks are laid out tp innermost (stride 1), then cp, pp, dp.
    """
    ranks = np.asarray(ranks)
    return (ranks > 1) & (ranks * np.asarray(stride) > node_size)


def collective_time_s(kind: Collective, buffer_bytes, ranks, crosses_nodes, gpu: GPUSpec, links: LinkProfile):
    """Seconds for one collective: ring latency plus bytes over the slowest tier it crosses.

    Across nodes each GPU drives its own NIC, so a ring runs at one NIC's bandwidth per rank;
    inside a node at the one-way NVLink bandwidth. A single-rank group costs nothing.
    """
    ranks = np.asarray(ranks, dtype=float)
    sent = bytes_per_rank(kind, buffer_bytes, ranks)
    bandwidth = np.where(
        crosses_nodes,
        gpu.nic_bytes_per_s.value * links.nic_efficiency,
        gpu.nvlink_bytes_per_s_per_direction.value * links.nvlink_efficiency,
    )
    latency = np.where(crosses_nodes, links.nic_latency_s, links.nvlink_latency_s)
    if kind == "send_recv":
        return np.where(ranks > 1, latency + sent / bandwidth, 0.0)
    steps = _RING_STEPS[kind] * np.maximum(ranks - 1, 0)
    return np.where(ranks > 1, latency * steps + sent / bandwidth, 0.0)

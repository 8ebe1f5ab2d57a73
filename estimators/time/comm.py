"""Collective communication as NCCL / RCCL run it: bytes each rank sends, the algorithm, the time (numpy-vectorised).

Bytes (NCCL performance notes, "bus bandwidth"): for a buffer of S bytes over n ranks each rank sends
all-reduce 2(n-1)/n S; all-gather and reduce-scatter (n-1)/n S (S the full buffer); all-to-all (n-1)/n S.

Time: NCCL's own tuning model (data/collectives/algorithms.yaml, from NVIDIA/nccl src/graph/tuning.cc):
every algorithm the library has for the call (ring, tree, NVLS, NVLS tree) is timed as latency + bytes /
algorithm bandwidth and the fastest runs, as NCCL's tuner picks it. Bandwidths are each GPU kind's
published bus bandwidths (data/hardware): the ring inside a scale-up domain (NVLink, Infinity Fabric,
PCIe), the in-switch reduction (NVLink SHARP) where the switch has it, and one GPU's NIC. A group that
spans several domains sends through the NICs of its GPUs in each domain: on a rail-optimised fabric
(one NIC a GPU, each on its own rail) a ring with p of its ranks in a domain carries a node's traffic
over p NICs, so its bus bandwidth is min(scale-up ring, p x NIC) (NCCL performance notes; S. Jeaugey,
NVIDIA/nccl-tests #160: on 3+ nodes the ring busbw "reflects the total NIC bandwidth"). Point-to-point
sends and all-to-all cross domains through each GPU's own NIC.

Devices without published collective figures (the CPU reference model) time a ring at the profile's
measured link efficiencies and latencies. Every function takes scalars or numpy arrays (one element per
layout).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Optional

import numpy as np
import yaml

from estimators.catalog.files import DATA_DIR
from estimators.errors import PlanInputError
from estimators.specs.hardware import GPUSpec
from estimators.specs.profile import LinkProfile

Collective = Literal["all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv"]
ALGORITHMS = ("ring", "tree", "nvls", "nvls_tree", "p2p")
MICROSECOND = 1e-6

# Bytes each rank sends per byte of buffer, as a multiple of (n-1)/n.
_RING_FACTOR = {"all_reduce": 2.0, "all_gather": 1.0, "reduce_scatter": 1.0, "all_to_all": 1.0}
# Latency-bound steps of a ring, per (n-1): 2 for all-reduce, 1 otherwise.
_RING_STEPS = {"all_reduce": 2, "all_gather": 1, "reduce_scatter": 1, "all_to_all": 1}


@lru_cache(maxsize=None)
def library_model() -> dict:
    """NCCL's tuning constants (data/collectives/algorithms.yaml)."""
    return yaml.safe_load((DATA_DIR / "collectives" / "algorithms.yaml").read_text())


def bytes_per_rank(kind: Collective, buffer_bytes, ranks):
    """Bytes one rank sends for a collective over ``ranks`` ranks on a buffer of ``buffer_bytes``.

    send_recv is one point-to-point transfer of the whole buffer (pipeline stages, ring attention).
    """
    buffer_bytes = np.asarray(buffer_bytes, dtype=float)
    if kind == "send_recv":
        return buffer_bytes
    ranks = np.asarray(ranks, dtype=float)
    return _RING_FACTOR[kind] * np.maximum(ranks - 1, 0) / np.maximum(ranks, 1) * buffer_bytes


def ranks_per_domain(ranks, stride, domain: int):
    """Ranks of a group of ``ranks`` GPUs spaced ``stride`` apart in rank order that share one scale-up domain.

    Ranks are laid out tp innermost (stride 1), then cp, pp, dp; a domain holds ``domain`` consecutive ranks.
    """
    ranks, stride = np.asarray(ranks), np.asarray(stride)
    return np.where(stride >= domain, 1, np.clip(domain // np.maximum(stride, 1), 1, np.maximum(ranks, 1)))


def group_crosses_nodes(ranks, stride, domain: int):
    """A group of ``ranks`` GPUs spaced ``stride`` apart spans more than one scale-up domain."""
    ranks = np.asarray(ranks)
    return (ranks > 1) & (ranks * np.asarray(stride) > domain)


@dataclass(frozen=True)
class Fabric:
    """What times a collective on one GPU kind: bus bandwidths by tier, the library and its latencies."""

    domain: int  # GPUs in one scale-up domain
    scale_up_busbw: float  # ring bus bandwidth inside a domain, bytes/s
    nic_busbw: float  # bus bandwidth one GPU's NIC carries, bytes/s
    nvls_busbw: Optional[float]  # all-reduce bus bandwidth with in-switch reduction; None: none
    library: str  # NCCL, RCCL or 'profile' (ring at measured latencies)
    scale_up_name: str = "NVLink"
    intra_latency_s: float = 0.0  # per ring step, profile devices only
    inter_latency_s: float = 0.0

    @classmethod
    def of(cls, gpu: GPUSpec, links: LinkProfile | None) -> "Fabric":
        """Published figures where the GPU kind has them, else the profile's measured link efficiencies."""
        if gpu.scale_up_busbw_bytes_per_s is not None and gpu.nic_busbw_bytes_per_s is not None:
            nvls = gpu.nvls_busbw_bytes_per_s
            return cls(domain=gpu.domain_size, scale_up_busbw=gpu.scale_up_busbw_bytes_per_s.value,
                       nic_busbw=gpu.nic_busbw_bytes_per_s.value, nvls_busbw=None if nvls is None else nvls.value,
                       library=gpu.collective_library or "NCCL", scale_up_name=gpu.scale_up_fabric)
        if links is None:
            raise PlanInputError(f"{gpu.name}: no published collective bus bandwidths in its data and no measured link figures in its profile")
        return cls(domain=gpu.domain_size, scale_up_busbw=gpu.nvlink_bytes_per_s_per_direction.value * links.nvlink_efficiency,
                   nic_busbw=gpu.nic_bytes_per_s.value * links.nic_efficiency, nvls_busbw=None, library="profile",
                   scale_up_name=gpu.scale_up_fabric,
                   intra_latency_s=links.nvlink_latency_s, inter_latency_s=links.nic_latency_s)

    @property
    def algorithms(self) -> tuple[str, ...]:
        if self.library == "profile":
            return ("ring",)
        names = tuple(library_model()["libraries"][self.library]["algorithms"])
        return tuple(a for a in names if self.nvls_busbw is not None or not a.startswith("nvls"))

    def latency_s(self, table: str, algorithm: str) -> float:
        """NCCL's hardware latency of one step of ``algorithm`` on the 'nvlink' or 'net' tier."""
        if self.library == "profile":
            return self.intra_latency_s if table == "nvlink" else self.inter_latency_s
        return library_model()["hw_latency_us"][table][algorithm] * MICROSECOND

    def base_latency_s(self, algorithm: str) -> float:
        return 0.0 if self.library == "profile" else library_model()["base_latency_us"][algorithm] * MICROSECOND


@dataclass(frozen=True)
class CollectiveTime:
    """Seconds of one call and the algorithm that gives them (index into ALGORITHMS), per layout."""

    seconds: np.ndarray
    algorithm: np.ndarray


def _ring_s(kind, buffer_bytes, ranks, local, domains, fabric: Fabric) -> np.ndarray:
    inter = np.where(domains > 1, _RING_STEPS[kind] * (domains - 1), 0)
    steps = _RING_STEPS[kind] * np.maximum(ranks - 1, 0)
    model = library_model()
    intra_latency = fabric.latency_s("nvlink", "ring")
    if fabric.library != "profile":
        intra_latency = np.where(domains > 1, max(intra_latency, model["net_overhead_us"] * MICROSECOND), intra_latency)
    latency = fabric.base_latency_s("ring") + (steps - inter) * intra_latency + inter * fabric.latency_s("net", "ring")
    busbw = np.where(domains > 1, np.minimum(fabric.scale_up_busbw, local * fabric.nic_busbw), fabric.scale_up_busbw)
    return latency + bytes_per_rank(kind, buffer_bytes, ranks) / busbw


def _tree_s(buffer_bytes, local, domains, fabric: Fabric) -> np.ndarray:
    model = library_model()
    busbw = model["tree_allreduce_busbw_factor"] * np.minimum(fabric.scale_up_busbw, local * fabric.nic_busbw)
    latency = fabric.base_latency_s("tree") + 2 * ((local - 1) * fabric.latency_s("nvlink", "tree")
                                                   + np.log2(np.maximum(domains, 1)) * fabric.latency_s("net", "tree"))
    return np.where(domains > 1, latency + buffer_bytes / (model["tree_algbw_ratio"] * busbw), np.inf)


def nvls_busbw(fabric: Fabric, ranks) -> np.ndarray:
    """In-switch all-reduce bus bandwidth of a group of ``ranks`` GPUs of one domain: the ring's up to
    nvls_gain.from_ranks, the published peak from nvls_gain.full_at_ranks, linear between."""
    gain = library_model()["nvls_gain"]
    share = np.clip((np.asarray(ranks, dtype=float) - gain["from_ranks"]) / (gain["full_at_ranks"] - gain["from_ranks"]), 0.0, 1.0)
    return fabric.scale_up_busbw + (max(fabric.nvls_busbw, fabric.scale_up_busbw) - fabric.scale_up_busbw) * share


def _nvls_s(buffer_bytes, ranks, local, domains, fabric: Fabric) -> np.ndarray:
    algbw = nvls_busbw(fabric, ranks) * ranks / (2 * np.maximum(ranks - 1, 1))
    return np.where(domains == 1, fabric.latency_s("nvlink", "nvls") + buffer_bytes / algbw, np.inf)


def _nvls_tree_s(buffer_bytes, ranks, local, domains, fabric: Fabric) -> np.ndarray:
    busbw = np.minimum(nvls_busbw(fabric, local), local * fabric.nic_busbw)
    algbw = busbw * ranks / (2 * np.maximum(ranks - 1, 1))
    latency = fabric.latency_s("nvlink", "nvls_tree") + 2 * np.log2(np.maximum(domains, 1)) * fabric.latency_s("net", "nvls_tree")
    return np.where((domains > 1) & (local > 1), latency + buffer_bytes / algbw, np.inf)


def _point_to_point_s(kind, buffer_bytes, ranks, local, domains, fabric: Fabric) -> np.ndarray:
    """send_recv and all-to-all: each GPU's cross-domain bytes leave through its own NIC."""
    crosses = domains > 1
    latency = np.where(crosses, fabric.latency_s("net", "ring"), fabric.latency_s("nvlink", "ring"))
    if kind == "send_recv":
        return latency + buffer_bytes / np.where(crosses, fabric.nic_busbw, fabric.scale_up_busbw)
    inside = buffer_bytes * np.maximum(local - 1, 0) / np.maximum(ranks, 1)
    outside = buffer_bytes * np.maximum(ranks - local, 0) / np.maximum(ranks, 1)
    steps = np.maximum(ranks - 1, 0)
    return latency * steps + np.maximum(inside / fabric.scale_up_busbw, outside / fabric.nic_busbw)


def collective_time(kind: Collective, buffer_bytes, ranks, local, fabric: Fabric) -> CollectiveTime:
    """Seconds of one collective over ``ranks`` ranks, ``local`` of them in each scale-up domain, with the
    algorithm the library's tuner would pick. A single-rank group costs nothing."""
    ranks = np.asarray(ranks, dtype=float)
    local = np.minimum(np.asarray(local, dtype=float), np.maximum(ranks, 1))
    buffer_bytes = np.asarray(buffer_bytes, dtype=float)
    domains = np.ceil(ranks / local)
    shape = np.broadcast_shapes(ranks.shape, local.shape, buffer_bytes.shape)
    if kind in ("send_recv", "all_to_all"):
        seconds = _point_to_point_s(kind, buffer_bytes, ranks, local, domains, fabric)
        algorithm = np.full(shape, ALGORITHMS.index("p2p"))
    else:
        candidates = {"ring": _ring_s(kind, buffer_bytes, ranks, local, domains, fabric)}
        if kind == "all_reduce":
            timers = {"tree": lambda: _tree_s(buffer_bytes, local, domains, fabric),
                      "nvls": lambda: _nvls_s(buffer_bytes, ranks, local, domains, fabric),
                      "nvls_tree": lambda: _nvls_tree_s(buffer_bytes, ranks, local, domains, fabric)}
            candidates.update({name: timers[name]() for name in fabric.algorithms if name in timers})
        seconds = np.broadcast_to(candidates.pop("ring"), shape)
        algorithm = np.full(shape, ALGORITHMS.index("ring"))
        for name, candidate in candidates.items():  # the fastest wins; ties keep the earlier (the ring)
            faster = candidate < seconds
            seconds, algorithm = np.where(faster, candidate, seconds), np.where(faster, ALGORITHMS.index(name), algorithm)
    seconds = np.broadcast_to(seconds, shape)
    return CollectiveTime(seconds=np.where(ranks > 1, seconds, 0.0), algorithm=np.broadcast_to(algorithm, shape))


def collective_time_s(kind: Collective, buffer_bytes, ranks, local, fabric: Fabric) -> np.ndarray:
    """Seconds of one collective (collective_time without the algorithm)."""
    return collective_time(kind, buffer_bytes, ranks, local, fabric).seconds


def bus_bandwidth(kind: Collective, buffer_bytes, ranks, seconds):
    """The nccl-tests bus bandwidth a call of ``seconds`` reaches: bytes a rank sends / time (its convention)."""
    return bytes_per_rank(kind, buffer_bytes, ranks) / np.asarray(seconds, dtype=float)

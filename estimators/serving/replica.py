"""Replicas of one GPU kind: for every size up to a node, every split xDiT can run and every weight placement
that fits, timed; the fastest kept, and why each other split loses."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from estimators.catalog.prices import PriceQuote
from estimators.serving.forward import Placement
from estimators.serving.latency import ServeProblem, clip_latency, dominant_part, serve_memory
from estimators.serving.machine import Machine
from estimators.serving.memory import PLACEMENTS
from estimators.serving.parallel import Split, splits
from estimators.serving.results import ClipLatency, KindReplicas, ReplicaOption, ServeMemory, SplitRow
from estimators.time.uncertainty import step_factors
from estimators.units import GIB, SECONDS_PER_HOUR

MAX_REPLICA_GPUS = 8  # xDiT runs a replica inside one NVLink domain


@dataclass(frozen=True)
class Timed:
    """A split and placement with its latency and memory."""

    split: Split
    placement: Placement
    latency: ClipLatency
    memory: ServeMemory


def placements(machine: Machine, gpus: int) -> list[Placement]:
    """Placements a replica can use: swapping and streaming need a host link, sharding several GPUs."""
    out = []
    for mode in PLACEMENTS:
        if mode in ("model", "streamed") and machine.device.host_link is None:
            continue
        if mode == "sharded" and gpus == 1:
            continue
        out.append(Placement(mode=mode, shards=gpus))
    return out


def best_placement(sp: ServeProblem, machine: Machine, split: Split, batch: int) -> tuple[Optional[Timed], ServeMemory]:
    """The fastest placement that fits (None when none does) and the smallest footprint tried."""
    fitting, smallest = [], None
    for placement in placements(machine, split.gpus):
        memory = serve_memory(sp, machine, split, placement, batch)
        if smallest is None or memory.total < smallest.total:
            smallest = memory
        if memory.fits:
            fitting.append(Timed(split, placement, clip_latency(sp, machine, split, placement, batch), memory))
    best = min(fitting, key=lambda t: t.latency.total_s) if fitting else None
    return best, smallest


def _loses_because(timed: Timed, best: Timed) -> str:
    """Why a split is slower than the chosen one, in words."""
    slower = timed.latency.total_s / best.latency.total_s - 1
    if abs(slower) < 5e-4:
        return "as fast as the choice"
    a, b = timed.latency, best.latency
    causes = {
        "exposed communication": a.steps * a.dit_calls_per_step * a.forward.ulysses_s + a.steps * a.cfg_exchange_s_per_step
        + a.steps * a.dit_calls_per_step * (a.forward.ring_exposed_s + a.forward.output_gather_s + a.forward.weight_gather_s)
        - (b.steps * b.dit_calls_per_step * b.forward.ulysses_s + b.steps * b.cfg_exchange_s_per_step
           + b.steps * b.dit_calls_per_step * (b.forward.ring_exposed_s + b.forward.output_gather_s + b.forward.weight_gather_s)),
        "kernels at a lower efficiency": a.steps * a.dit_calls_per_step * (a.forward.matmul_s + a.forward.attention_s + a.forward.elementwise_s)
        - b.steps * b.dit_calls_per_step * (b.forward.matmul_s + b.forward.attention_s + b.forward.elementwise_s),
        f"weights {timed.placement.mode}": a.offload_transfers_s + a.steps * a.dit_calls_per_step * a.forward.weight_stream_s
        - b.offload_transfers_s - b.steps * b.dit_calls_per_step * b.forward.weight_stream_s,
    }
    cause = max(causes, key=causes.get)
    return f"{slower:+.1%} slower: {cause}"


def size_option(sp: ServeProblem, machine: Machine, gpus: int, batch: int) -> tuple[Optional[Timed], list[SplitRow], str]:
    """The best split of ``gpus`` GPUs at ``batch``, every split's row, and why none fits ('' when one does)."""
    valid, invalid = splits(gpus, sp.guidance, sp.problem.heads, sp.geometry.visual_tokens)
    timed, footprints = [], []
    for split in valid:
        best, smallest = best_placement(sp, machine, split, batch)
        footprints.append(smallest)
        if best is not None:
            timed.append(best)
    best = min(timed, key=lambda t: t.latency.total_s) if timed else None
    rows = [SplitRow(label=t.split.label, cfg=t.split.cfg, ulysses=t.split.ulysses, ring=t.split.ring, service_s=t.latency.total_s,
                     verdict="the choice" if t is best else _loses_because(t, best)) for t in sorted(timed, key=lambda t: t.latency.total_s)]
    fitted = {t.split for t in timed}
    rows += [SplitRow(label=s.label, cfg=s.cfg, ulysses=s.ulysses, ring=s.ring, service_s=None, verdict="does not fit in memory")
             for s in valid if s not in fitted]
    rows += [SplitRow(label=s.label, cfg=s.cfg, ulysses=s.ulysses, ring=s.ring, service_s=None, verdict=reason) for s, reason in invalid]
    why = ""
    if best is None and footprints:
        need = min(f.total for f in footprints)
        why = f"{gpus} x {machine.gpu.name}: needs {need / GIB:.1f} GiB a GPU at the smallest placement, has {machine.gpu.hbm_bytes.value / GIB:.0f} GiB"
    elif best is None:
        why = f"{gpus} x {machine.gpu.name}: no split runs ({invalid[0][1] if invalid else 'none'})"
    return best, rows, why


def replica_option(sp: ServeProblem, machine: Machine, timed: Timed, rows: list[SplitRow], one_gpu_s: Optional[float]) -> ReplicaOption:
    """A timed replica as a typed result (service range from the cross-validated step-time errors)."""
    service = timed.latency.total_s
    speedup = one_gpu_s / service if one_gpu_s else None
    return ReplicaOption(
        gpu=machine.gpu.name, gpus=timed.split.gpus, batch=timed.latency.batch, split=timed.split.label, cfg=timed.split.cfg,
        ulysses=timed.split.ulysses, ring=timed.split.ring, placement=timed.placement.mode, service_s=service,
        service_s_range=step_factors(extrapolating=True, gpu_name=machine.gpu.name).span(service),
        clips_per_hour=timed.latency.batch * SECONDS_PER_HOUR / service, speedup_vs_one_gpu=speedup,
        scaling_efficiency=speedup / timed.split.gpus if speedup else None, dominant=dominant_part(timed.latency),
        latency=timed.latency, memory=timed.memory, splits=rows,
    )


def replica_sizes(machine: Machine, max_gpus: int, fixed: Optional[int]) -> list[int]:
    """Replica sizes searched: up to 8 GPUs inside one scale-up domain (a GB200 rack's 72-GPU NVLink domain holds
    8-GPU replicas across its 4-GPU trays; 1 on a device alone, such as a CPU)."""
    largest = min(max_gpus, max(machine.gpu.domain_size, 1), MAX_REPLICA_GPUS)
    if fixed is not None:
        return [fixed]
    return list(range(1, largest + 1))


def kind_replicas(sp: ServeProblem, machine: Machine, sizes: list[int], batches: tuple[int, ...]) -> tuple[KindReplicas, dict]:
    """Every size at every batch on one GPU kind: the typed summary and the options by (size, batch)."""
    options: dict[tuple[int, int], ReplicaOption] = {}
    cannot: list[str] = []
    one_gpu_s: dict[int, Optional[float]] = {}
    for batch in batches:
        for gpus in sizes:
            best, rows, why = size_option(sp, machine, gpus, batch)
            if best is None:
                if batch == batches[0]:
                    cannot.append(why)
                continue
            if gpus == 1:
                one_gpu_s[batch] = best.latency.total_s
            options[(gpus, batch)] = replica_option(sp, machine, best, rows, one_gpu_s.get(batch))
    by_size = [o for (g, b), o in sorted(options.items()) if b == batches[0]]
    by_batch = []
    for batch in batches:
        at_batch = [o for (g, b), o in options.items() if b == batch]
        if at_batch:
            by_batch.append(max(at_batch, key=lambda o: (o.clips_per_hour / o.gpus, -o.service_s)))
    kernel = machine.rates.kernel.name if machine.rates.kernel else None
    summary = KindReplicas(gpu=machine.gpu.name, kernel=kernel, price=PriceQuote.of(machine.gpu), by_size=by_size, by_batch=by_batch,
                           cannot_serve=cannot)
    return summary, options

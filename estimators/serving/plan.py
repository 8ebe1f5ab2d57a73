"""A whole serving plan: one clip on replicas of every size of every GPU kind asked; with a demand, the
cheapest fleet meeting it."""
from __future__ import annotations

from typing import Optional

from estimators.catalog.serving import reliability
from estimators.errors import PlanInputError
from estimators.serving.demand import fleet_option
from estimators.serving.fleet import answer_text, best_per_size, fleet_ranges, judge, meets
from estimators.serving.latency import ServeProblem, serve_problem
from estimators.serving.machine import Machine, gpu_machine, serving_kernel_for
from estimators.serving.queueing import MAX_UTILIZATION
from estimators.serving.replica import kind_replicas, replica_sizes
from estimators.serving.request import ServeRequest
from estimators.serving.results import DemandInfo, FleetOption, KindReplicas, Sampler, ServeClip, ServePlan
from estimators.serving.text import text_cost
from estimators.specs.hardware import GPUSpec
from estimators.specs.serving import guidance_branches
from estimators.time.uncertainty import step_factors

QUEUE_MODEL = (f"exact M/D/c (Crommelin 1932, Franx 2001): Poisson arrivals, fixed service time, replicas x batch slots; "
               f"sized for the busiest hour at utilisation at most {MAX_UTILIZATION:.0%}")


def serving_kernel(request: ServeRequest, gpu: GPUSpec) -> Optional[str]:
    """The attention kernel serving_kernel_for picks for the request on this GPU."""
    return serving_kernel_for(gpu.name, request.precision, request.kernel, request.default_kernel)


def machine_for(request: ServeRequest, gpu: GPUSpec) -> Machine:
    """The GPU with the attention kernel serving_kernel chooses."""
    return gpu_machine(gpu, request.precision, serving_kernel(request, gpu))


def _clip(sp: ServeProblem) -> ServeClip:
    g, c = sp.geometry, sp.clip
    return ServeClip(frames=c.frames, height=c.height, width=c.width, fps=c.fps, seconds=c.seconds, text_tokens=c.text_tokens,
                     visual_tokens=g.visual_tokens, latent_frames=g.latent_frames, latent_height=g.latent_height, latent_width=g.latent_width)


def _flops_per_clip(sp: ServeProblem, machine: Machine) -> float:
    text = text_cost(sp.system, sp.clip.text_tokens, sp.guidance, machine).flops
    return sp.steps * guidance_branches(sp.guidance) * sp.dit_forward_flops + text + sp.decode.flops


def _kind_answer(kind: KindReplicas) -> str:
    if not kind.by_size:
        return f"No replica of up to 8 {kind.gpu} fits: {kind.cannot_serve[0]}."
    first, last = kind.by_size[0], kind.by_size[-1]
    one = f"{kind.gpu}: {first.service_s:,.1f} s on {first.gpus} GPU{'s' if first.gpus > 1 else ''} ({first.split}, {first.placement} weights)"
    if last is first:
        return one + "."
    scaling = f", {last.scaling_efficiency:.0%} scaling" if last.scaling_efficiency else ""
    return one + f", {last.service_s:,.1f} s on {last.gpus} ({last.split}{scaling})."


def _assumptions(request: ServeRequest, machines: dict[str, Machine], sp: ServeProblem) -> list[str]:
    lines = [f"sampler and clip: {request.defaults_source}"]
    for name, m in machines.items():
        kernel = m.rates.kernel.name if m.rates.kernel else "the profile's measured curves"
        if m.rates.kernel and not request.kernel and kernel != request.default_kernel:
            kernel += f" (the official {request.default_kernel} has no published benchmark on {name}: the GPU's default, as training takes it)"
        lines.append(f"{name}: attention {kernel}; VAE 3D convolutions at {m.device.conv_efficiency:.1%} of the dense peak "
                     f"({m.device.conv_source}); device profile {m.profile.gpu} ({m.profile.date}): kernel benchmarks x "
                     f"{m.profile.compute_derate:.2f}, element-wise at {m.profile.memory_efficiency:.0%} of HBM bandwidth")
        if m.device.host_link is not None:
            lines.append(f"{name}: host link {m.device.host_link.bytes_per_s_per_direction / 1e9:.0f} GB/s each way at "
                         f"{m.device.host_link.efficiency:.0%} ({m.device.host_link.source}); {m.device.host_cores_per_gpu:g} host cores a GPU ({m.device.host_source})")
    m = next(iter(machines.values()))
    lines += [
        f"container: H.264 at {m.encoding.pixel_frames_per_s_per_core:.2e} pixel-frames/s a host core ({m.encoding.source})",
        "parallel: xDiT's USP (Ulysses inside ring) and CFG parallel; the caption kept whole on every GPU; the VAE decoded on one GPU; "
        "PipeFusion and tensor parallelism not modelled",
        *(f"ranges on {name}: {step_factors(extrapolating=True, gpu_name=name).basis}" for name in machines),
        "no caching or step-skipping (TeaCache, FasterCache): every step runs every forward",
    ]
    if request.demand is not None:
        rel = reliability()
        lines += [f"queue: {QUEUE_MODEL}",
                  f"availability: replicas fail independently at {rel.failures_per_gpu_hour:.3g} a GPU-hour and are back after "
                  f"{rel.repair_s / 60:.0f} min ({rel.source})",
                  "energy: board power while busy (energy_per_clip_kwh) and for every provisioned GPU-hour (provisioned_energy_per_clip_kwh); no PUE"]
    return lines


def _warnings(kinds: list[KindReplicas], choice: Optional[FleetOption]) -> list[str]:
    out = [f"{k.gpu}: {line}" for k in kinds for line in k.cannot_serve if not k.by_size]
    if choice is not None and choice.placement == "streamed":
        out.append("the choice streams the DiT's weights from host memory every forward: the host link decides its latency")
    return out


def serve_plan(request: ServeRequest, machines: Optional[dict[str, Machine]] = None) -> ServePlan:
    """The plan; ``machines`` replaces the bundled GPU kinds' machines (a measured CPU)."""
    machines = machines or {g.name: machine_for(request, g) for g in request.gpu_kinds}
    first = next(iter(machines.values()))
    sp = serve_problem(request.system, request.clip, request.steps, request.guidance, request.vae_precision, request.vae_tiling,
                       first.activation_bytes)
    kinds, options = [], {}
    for name, machine in machines.items():
        summary, by_key = kind_replicas(sp, machine, replica_sizes(machine, request.max_replica_gpus, request.fixed_replica_gpus), request.batches)
        kinds.append(summary)
        options[name] = by_key
    if not any(k.by_size for k in kinds):
        raise PlanInputError("no replica of any GPU kind asked fits this clip: " + "; ".join(line for k in kinds for line in k.cannot_serve[:1]))
    choice = nearest = ranges = demand_info = None
    candidates: list[FleetOption] = []
    demand = request.demand
    if demand is not None:
        rel = reliability()
        fleets = [fleet_option(o, machines[name].gpu, demand, rel, sp.clip.seconds) for name, by_key in options.items() for o in by_key.values()]
        per_size = best_per_size(fleets)
        meeting = [o for o in per_size if meets(o)]
        choice = min(meeting, key=lambda o: (o.cost_per_clip_usd, o.target_percentile_s)) if meeting else None
        nearest = None if choice else min(per_size, key=lambda o: o.service_s)
        candidates = judge(per_size, choice)
        choice = next((c for c in candidates if c.why_not == "the choice"), None)
        if choice is not None:
            option = options[choice.gpu][(choice.gpus_per_replica, choice.batch)]
            ranges = fleet_ranges(choice, option, machines[choice.gpu].gpu, demand, rel, sp.clip.seconds)
        demand_info = DemandInfo(clips_per_hour=demand.clips_per_hour, peak_factor=demand.peak_factor,
                                 peak_clips_per_hour=demand.clips_per_hour * demand.peak_factor, percentile=demand.percentile,
                                 latency_target_s=demand.latency_target_s, availability=demand.availability, queue_model=QUEUE_MODEL)
        answer = answer_text(demand, choice, nearest)
    else:
        answer = " ".join(_kind_answer(k) for k in kinds)
    return ServePlan(
        model=request.system.name, clip=_clip(sp),
        sampler=Sampler(steps=sp.steps, guidance=sp.guidance, guidance_branches=guidance_branches(sp.guidance),
                        vae_precision=sp.vae_precision, vae_tiles=sp.decode.tiles, defaults_source=request.defaults_source),
        precision=request.precision, dit_forward_flops=sp.dit_forward_flops, flops_per_clip=_flops_per_clip(sp, first),
        kinds=kinds, demand=demand_info, answer=answer, choice=choice, nearest=nearest, candidates=candidates, ranges=ranges,
        assumptions=_assumptions(request, machines, sp), warnings=_warnings(kinds, choice),
    )

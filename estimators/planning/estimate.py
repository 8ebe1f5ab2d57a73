"""A whole plan for a video system on a cluster: counts, memory, layout, time, cost, energy.

Returns plain data (dicts of numbers and strings) that the CLI prints as JSON or tables.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from estimators.catalog.prices import price_line
from estimators.catalog.profiles import load_profile
from estimators.catalog.stacks import default_stack
from estimators.counts.dit import dit_forward_flops, dit_params, encoder_text_tokens, layers_forward_flops
from estimators.counts.geometry import clip_geometry
from estimators.counts.problem import video_problem
from estimators.counts.text_encoders import text_encoder_flops, text_encoder_gemm_width, text_encoder_params, text_encoder_tokens
from estimators.counts.vaes import vae_decoder_flops, vae_decoder_params, vae_encoder_flops, vae_encoder_params
from estimators.errors import PlanInputError
from estimators.memory.states import FRAGMENTATION_FRACTION, RUNTIME_RESERVED_BYTES
from estimators.search.evaluate import evaluate
from estimators.search.layout_search import search
from estimators.search.no_layout import describe, no_layout_message
from estimators.specs.hardware import Cluster
from estimators.specs.layout import Layout
from estimators.specs.layout_arrays import LayoutArrays
from estimators.specs.models import VideoSystemSpec
from estimators.specs.workload import TrainingStage, Workload
from estimators.time.step import FWD_BWD_FACTOR, RunSettings
from estimators.time.time_model import MFU_PRECISION, diagnose, time_model_assumptions

SECONDS_PER_DAY = 86_400
SECONDS_PER_HOUR = 3_600
WATTS_PER_KILOWATT = 1_000


@dataclass(frozen=True)
class PlanRequest:
    """Everything a plan depends on."""

    system: VideoSystemSpec
    workload: Workload
    cluster: Cluster
    precision: str = "bf16"
    layout: Optional[Layout] = None  # None: search
    fixed: Optional[dict] = None  # knobs pinned for the search
    objective: str = "time"
    gpu_kinds: tuple = ()  # GPUSpecs named without counts (--gpus H100,H200): the fleet search's kinds
    kernel: Optional[str] = None  # attention kernel; None: the GPU's default (estimators/time/kernels.py)
    stack: Optional[str] = None  # training stack; None: the default (estimators/catalog/stacks.py)
    valid_layouts_only: bool = False  # search times only valid layouts (the fleet's per-size plans)


def parameter_counts(system: VideoSystemSpec) -> dict:
    """Exact parameters of each component, with the DiT's parts and the text encoders one by one."""
    dit = dit_params(system.dit)
    encoders = [sum(text_encoder_params(encoder).values()) for encoder in system.text_encoders]
    counts = {
        "dit": sum(dit.values()),
        "text_encoder": sum(encoders),
        "vae_encoder": sum(vae_encoder_params(system.vae).values()),
        "vae_decoder": sum(vae_decoder_params(system.vae).values()),
        "dit_breakdown": dit,
        "text_encoder_breakdown": encoders,
    }
    return counts


def published_comparison(system: VideoSystemSpec, counts: dict) -> dict:
    """Each count the model file publishes (published_params) against ours: difference and its share."""
    return {
        key: {"published": published, "counted": counts[key], "difference": counts[key] - published,
              "relative": (counts[key] - published) / published if published else None}
        for key, published in system.published_params.items()
        if key in counts
    }


def sample_flops(system: VideoSystemSpec, stage: TrainingStage, workload: Workload, recompute: str) -> dict:
    """FLOPs of one training sample: model (DiT fwd+bwd, frozen encoders online) and hardware (+recompute)."""
    geo = clip_geometry(system.vae, system.dit, stage.frames, stage.height, stage.width)
    dit = dit_forward_flops(system.dit, geo.visual_tokens, stage.text_tokens)
    dit_fwd = sum(dit.values())
    caption = encoder_text_tokens(system.dit, stage.text_tokens)
    t5 = sum(sum(text_encoder_flops(e, text_encoder_tokens(e, caption)).values()) for e in system.text_encoders)
    vae_enc = sum(vae_encoder_flops(system.vae, geo.frames, geo.height, geo.width).values())
    vae_dec = sum(vae_decoder_flops(system.vae, geo.latent_frames, geo.latent_height, geo.latent_width).values())
    online = (0 if workload.precompute_text else t5) + (0 if workload.precompute_latents else vae_enc)
    recomputed = layers_forward_flops(dit) if recompute == "full" else 0
    trained = FWD_BWD_FACTOR * dit_fwd
    model = trained + online
    return {
        "dit_forward": dit_fwd,
        "dit_forward_breakdown": dit,
        "text_encoder_forward": t5,
        "vae_encoder_forward": vae_enc,
        "vae_decoder_forward": vae_dec,
        "frozen_online_forward": online,
        "train_step_model": trained,
        "train_step_total": model,
        "train_step_hardware": model + recomputed,
        "geometry": geo,
    }


def _resolve_layout(request: PlanRequest, prob, settings):
    """The given layout (checked) or the search's best; returns (layouts, metrics, index, search)."""
    if request.layout is not None:
        if request.layout.num_gpus != request.cluster.num_gpus:
            raise PlanInputError(
                f"layout tp*pp*cp*dp = {request.layout.num_gpus} but the cluster has {request.cluster.num_gpus} GPUs"
            )
        lay = LayoutArrays.from_layouts([request.layout])
        metrics = evaluate(prob, lay, settings)
        if not metrics["valid"][0]:
            raise PlanInputError(f"layout is not valid for {prob.name}: {describe(metrics['reason'][0], prob, settings, lay, 0)}")
        needed, available = metrics["memory"]["total"][0], settings.gpu.hbm_bytes.value
        if needed > available:
            raise PlanInputError(f"layout does not fit: needs {needed / 2**30:.1f} GiB per GPU, {settings.gpu.name} has {available / 2**30:.1f} GiB")
        return lay, metrics, 0, None
    result = search(prob, settings, request.cluster.num_gpus, request.objective, request.fixed, request.valid_layouts_only)
    if len(result.ranked) == 0:
        raise PlanInputError(no_layout_message(result, prob, settings, request.cluster.num_gpus, request.fixed))
    return result.layouts, result.metrics, int(result.ranked[0]), result


def _pick(metrics: dict, i: int) -> dict:
    """Scalar metrics of layout i, with its collectives as plain rows."""
    out = {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in metrics.items() if k not in ("memory", "collectives")}
    out["memory"] = {k: float(v[i]) for k, v in metrics["memory"].items()}
    out["collectives"] = [
        {
            "name": c.name, "kind": c.kind, "group": c.group, "per": c.per, "calls": float(c.calls[i]),
            "ranks": int(c.ranks[i]), "tier": "NIC" if c.crosses_nodes[i] else "NVLink",
            "buffer_bytes": float(c.buffer_bytes[i]), "bytes_per_gpu": float(c.bytes_per_gpu[i]),
            "seconds": float(c.seconds[i]), "overlap": c.overlap,
        }
        for c in metrics["collectives"]
        if c.calls[i] > 0
    ]
    return out


def stage_plan(request: PlanRequest, stage: TrainingStage) -> dict:
    """Layout, memory and time of one training stage."""
    gpu = request.cluster.gpu
    settings = RunSettings(gpu=gpu, profile=load_profile(gpu.name), global_batch=stage.global_batch, precision=request.precision,
                           kernel=request.kernel, stack=request.stack or default_stack())
    prob = video_problem(request.system, stage, request.workload)
    lay, metrics, best, result = _resolve_layout(request, prob, settings)
    layout = lay.layout(best)
    chosen = _pick(metrics, best)
    flops = sample_flops(request.system, stage, request.workload, layout.recompute)
    n = request.cluster.num_gpus
    step = chosen["step_time_s"]
    peak = gpu.peak_flops(MFU_PRECISION)
    # MFU counts the trained model's FLOPs only (PaLM, Chowdhery et al. 2022, App. B); frozen encoders
    # run online are work the GPUs do but not model FLOPs, so they are shown apart.
    model_flops_step = flops["train_step_model"] * stage.global_batch
    encoder_flops_step = flops["frozen_online_forward"] * stage.global_batch
    train_s = stage.num_steps * step
    preprocess_s = preprocessing_s(request, stage, flops, settings)
    return {
        "stage": stage,
        "problem": prob,
        "layout": layout,
        "metrics": chosen,
        "flops": flops,
        "search": result,
        "step_time_s": step,
        "mfu": model_flops_step / (step * peak * n),
        "hfu": flops["train_step_hardware"] * stage.global_batch / (step * peak * n),
        "tflops_per_gpu": model_flops_step / step / n / 1e12,
        "frozen_encoder_tflops_per_gpu": encoder_flops_step / step / n / 1e12,
        "samples_per_s": stage.global_batch / step,
        "train_s": train_s,
        "preprocess_s": preprocess_s,
        **run_totals(request.cluster, train_s + preprocess_s),
    }


def run_totals(cluster: Cluster, seconds: float) -> dict:
    """GPU-hours, cost (at the price and its low/high) and energy of ``seconds`` on the whole cluster."""
    gpu_hours = seconds * cluster.num_gpus / SECONDS_PER_HOUR
    price = cluster.gpu.price_usd_per_gpu_hour
    return {
        "gpu_hours": gpu_hours,
        "cost_usd": gpu_hours * price.value,
        "cost_usd_range": [gpu_hours * (price.low or price.value), gpu_hours * (price.high or price.value)],
        "energy_kwh": gpu_hours * cluster.gpu.board_power_w.value / WATTS_PER_KILOWATT,
    }


def preprocessing_s(request: PlanRequest, stage: TrainingStage, flops: dict, settings: RunSettings) -> float:
    """One-off offline encoding of the stage's distinct clips on the whole cluster (0 when online).

    The frozen encoders run forward only, in BF16 (their own precision), at the GEMM efficiency of the
    T5 width.
    """
    wl = request.workload
    per_clip = (flops["text_encoder_forward"] if wl.precompute_text else 0) + (
        flops["vae_encoder_forward"] if wl.precompute_latents else 0
    )
    clips = stage.num_clips if stage.num_clips is not None else stage.num_samples
    d = text_encoder_gemm_width(request.system.text_encoders[0])
    rate = request.cluster.num_gpus * float(settings.rates.high_precision_gemm(d, d, d))
    return wl.preprocess_passes * clips * per_clip / rate


def assumptions(request: PlanRequest) -> list[str]:
    """What the plan takes as given, in words (printed and in the JSON)."""
    prof = load_profile(request.cluster.gpu.name)
    return [
        f"device profile {prof.gpu}: {prof.provenance} ({prof.date})",
        *time_model_assumptions(request.cluster.gpu.name, request.kernel, request.stack, request.precision),
        f"compute: published kernel benchmarks x {prof.compute_derate:.2f} (fitted); element-wise ops at {prof.memory_efficiency:.0%} of HBM bandwidth (fitted)",
        f"links: NVLink at {prof.nvlink_efficiency:.0%}, NIC at {prof.nic_efficiency:.0%} of datasheet bandwidth",
        "mixed-precision AdamW: 16 bytes/parameter (bf16 weights + grads, fp32 master, m, v), ZeRO shards over dp x cp",
        f"memory overhead: {RUNTIME_RESERVED_BYTES / 2**30:.0f} GiB CUDA/NCCL reserve + {FRAGMENTATION_FRACTION:.0%} allocator fragmentation",
        "flash attention (no S^2 scores stored); attention is bidirectional and counted in full S^2",
        "text encoder: " + ("precomputed offline (one-off pass)" if request.workload.precompute_text else "run online every step"),
        "VAE latents: " + ("precomputed offline (one-off pass)" if request.workload.precompute_latents else "encoded online every step"),
        "energy: GPU board power at its rating for the whole run (no PUE, CPUs or network)",
        f"price: {price_line(request.cluster.gpu)}; source: {request.cluster.gpu.price_usd_per_gpu_hour.source}",
        "per-sample figures at the top level describe the last stage; totals add all stages",
    ]


def plan(request: PlanRequest) -> dict:
    """The full plan as plain data."""
    stages = [stage_plan(request, stage) for stage in request.workload.stages]
    train_s = sum(s["train_s"] for s in stages)
    pre_s = sum(s["preprocess_s"] for s in stages)
    last = stages[-1]
    result = {
        "request": request,
        "stages": stages,
        "last": last,
        "params": parameter_counts(request.system),
        "params_vs_published": published_comparison(request.system, parameter_counts(request.system)),
        "train_time_days": train_s / SECONDS_PER_DAY,
        "preprocessing_days": pre_s / SECONDS_PER_DAY,
        **run_totals(request.cluster, train_s + pre_s),
        "assumptions": assumptions(request),
    }
    result.update(diagnose(result))
    return result

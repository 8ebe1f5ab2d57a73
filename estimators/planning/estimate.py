"""A whole plan for a video system on a cluster: counts, memory, layout, time, cost, energy."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from estimators.catalog.prices import PriceQuote
from estimators.counts.dit import dit_forward_flops, dit_params, encoder_text_tokens, layers_forward_flops
from estimators.counts.geometry import ClipGeometry, clip_geometry
from estimators.counts.problem import TrainingProblem, video_problem
from estimators.counts.text_encoders import text_encoder_flops, text_encoder_gemm_width, text_encoder_params, text_encoder_tokens
from estimators.counts.vaes import vae_decoder_flops, vae_decoder_params, vae_encoder_flops, vae_encoder_params
from estimators.errors import PlanInputError
from estimators.memory.states import (
    FRAGMENTATION_FRACTION,
    FRAGMENTATION_RANGE,
    IMPLEMENTATION_UNCERTAINTY,
    RUNTIME_RESERVED_BYTES,
    state_bytes,
)
from estimators.planning.failures import CHECKPOINT_BYTES_PER_PARAM, FailureModel, outlook
from estimators.planning.request import PlanRequest
from estimators.planning.results import (
    Clip,
    ClusterInfo,
    ExpertShare,
    ExpertsPlan,
    LatentShape,
    ModelInfo,
    Params,
    Plan,
    PublishedComparison,
    SampleFlops,
    StagePlan,
    Tokens,
    WorkloadInfo,
)
from estimators.search.alternatives import explain
from estimators.search.evaluate import evaluate
from estimators.search.layout_search import SearchResult, search
from estimators.search.no_layout import describe, no_layout_message
from estimators.specs.hardware import Cluster
from estimators.specs.layout_arrays import LayoutArrays
from estimators.specs.models import VideoSystemSpec
from estimators.specs.training import Training
from estimators.specs.workload import TrainingStage, Workload
from estimators.time.step import FWD_BWD_FACTOR, RunSettings
from estimators.time.time_model import MFU_PRECISION, dominant, stage_warnings, time_model, time_model_assumptions
from estimators.time.uncertainty import plan_uncertainty
from estimators.units import GIB, SECONDS_PER_DAY, SECONDS_PER_HOUR, WATTS_PER_KILOWATT

LONG_PLAN_DAYS = 365  # a plan longer than a year is said to be one
MONTH_DAYS = 30


def parameter_counts(system: VideoSystemSpec) -> Params:
    """Exact parameters of each component, with the DiT's parts and the text encoders one by one (a model split
    into experts holds the DiT's architecture once per expert)."""
    dit = dit_params(system.dit)
    each = sum(dit.values())
    encoders = [sum(text_encoder_params(encoder).values()) for encoder in system.text_encoders]
    return Params(dit=system.expert_count * each, text_encoder=sum(encoders), vae_encoder=sum(vae_encoder_params(system.vae).values()),
                  vae_decoder=sum(vae_decoder_params(system.vae).values()), dit_breakdown=dit, text_encoder_breakdown=encoders,
                  dit_per_expert=each, dit_resident=system.resident_experts * each)


def experts_plan(system: VideoSystemSpec, stages: tuple[StagePlan, ...], params: Params) -> ExpertsPlan | None:
    """Each expert's share of the samples, steps and training days (None for a model without experts)."""
    split = system.experts
    if split is None:
        return None
    samples = sum(s.stage.num_samples for s in stages)
    steps = sum(s.steps for s in stages)
    days = sum(s.train_time_days for s in stages)
    shares = tuple(ExpertShare(name=e.name, noise_levels=e.noise_levels, share=e.share, samples=round(e.share * samples),
                               steps=e.share * steps, train_time_days=e.share * days) for e in split.experts)
    return ExpertsPlan(count=split.count, residency=split.residency, resident=split.resident, params_each=params.dit_per_expert,
                       experts=shares, source=split.source)


def published_comparison(system: VideoSystemSpec, counts: Params) -> dict[str, PublishedComparison]:
    """Each count the model file publishes (published_params) against ours: difference and its share."""
    counted = counts.model_dump()
    return {
        key: PublishedComparison(published=published, counted=counted[key], difference=counted[key] - published,
                                 relative=(counted[key] - published) / published if published else None)
        for key, published in system.published_params.items()
        if key in counted
    }


def sample_flops(system: VideoSystemSpec, stage: TrainingStage, workload: Workload, geo: ClipGeometry, recompute: str) -> SampleFlops:
    """FLOPs of one training sample: model (DiT fwd+bwd, frozen encoders online) and hardware (+recompute)."""
    dit = dit_forward_flops(system.dit, geo.visual_tokens, stage.text_tokens)
    dit_fwd = sum(dit.values())
    caption = encoder_text_tokens(system.dit, stage.text_tokens)
    text = sum(sum(text_encoder_flops(e, text_encoder_tokens(e, caption)).values()) for e in system.text_encoders)
    vae_enc = sum(vae_encoder_flops(system.vae, geo.frames, geo.height, geo.width).values())
    vae_dec = sum(vae_decoder_flops(system.vae, geo.latent_frames, geo.latent_height, geo.latent_width).values())
    online = (0 if workload.precompute_text else text) + (0 if workload.precompute_latents else vae_enc)
    recomputed = layers_forward_flops(dit) if recompute == "full" else 0
    trained = FWD_BWD_FACTOR * dit_fwd
    if workload.training.lora:
        # frozen weights need no weight gradients: every matmul's backward is its input gradient alone (the adapters'
        # rank-r matmuls left out); attention keeps its two backward products
        trained -= dit_fwd - dit["attention"] - dit["cross_attention"]
    return SampleFlops(dit_forward=dit_fwd, dit_forward_breakdown=dit, text_encoder_forward=text, vae_encoder_forward=vae_enc,
                       vae_decoder_forward=vae_dec, frozen_online_forward=online, train_step_model=trained,
                       train_step_total=trained + online, train_step_hardware=trained + online + recomputed)


def _fixed_layout(request: PlanRequest, prob: TrainingProblem, settings: RunSettings) -> tuple[LayoutArrays, int]:
    """The given layout as a one-element array, after checking it multiplies out, is valid and fits."""
    if request.layout.num_gpus != request.cluster.num_gpus:
        raise PlanInputError(f"layout tp*pp*cp*dp = {request.layout.num_gpus} but the cluster has {request.cluster.num_gpus} GPUs")
    lay = LayoutArrays.from_layouts([request.layout])
    evaluation = evaluate(prob, lay, settings)
    if not evaluation.valid[0]:
        raise PlanInputError(f"layout is not valid for {prob.name}: {describe(evaluation.reason[0], prob, settings, lay, 0)}")
    # a layout that does not fit is still planned: its breakdown says by how much (Plan.fits, memory_warnings)
    return SearchResult(lay, evaluation, ranked=np.zeros(1, dtype=int)), 0


def _resolve_layout(request: PlanRequest, prob: TrainingProblem, settings: RunSettings) -> tuple[SearchResult, int, bool]:
    """(evaluated layouts, index of the chosen one, whether it was searched): the given layout or the search's best."""
    if request.layout is not None:
        return (*_fixed_layout(request, prob, settings), False)
    result = search(prob, settings, request.cluster.num_gpus, request.objective, request.pinned, request.valid_layouts_only)
    if len(result.ranked) == 0:
        raise PlanInputError(no_layout_message(result, prob, settings, request.cluster.num_gpus, request.pinned))
    return result, int(result.ranked[0]), True


def memory_warnings(stage: StagePlan) -> list[str]:
    """A line when a stage's memory does not fit, or its high end passes the GPU's memory."""
    m = stage.memory_per_gpu_bytes
    if not m.fits:
        return [f"stage {stage.name}: DOES NOT FIT: {m.total / GIB:.1f} GiB a GPU ({m.total_low / GIB:.1f} - {m.total_high / GIB:.1f}) "
                f"against {m.capacity / GIB:.1f} GiB"]
    if m.may_not_fit:
        return [f"stage {stage.name}: may not fit: {m.total / GIB:.1f} GiB a GPU, high end {m.total_high / GIB:.1f} GiB against "
                f"{m.capacity / GIB:.0f} GiB (saved activations as {m.saved_activations} keeps them; fragmentation)"]
    return []


def stage_plan(request: PlanRequest, settings: RunSettings, stage: TrainingStage) -> StagePlan:
    """Layout, memory and time of one training stage."""
    settings = settings.with_global_batch(stage.global_batch)
    prob = video_problem(request.system, stage, request.workload, implementation=str(settings.stack.saved_activations.value))
    result, best, searched = _resolve_layout(request, prob, settings)
    evaluation, layout = result.evaluation, result.layouts.layout(best)
    geo = clip_geometry(request.system.vae, request.system.dit, stage.frames, stage.height, stage.width)
    flops = sample_flops(request.system, stage, request.workload, geo, layout.recompute)
    n, gpu = request.cluster.num_gpus, request.cluster.gpu
    step = float(evaluation.time.step_time_s[best])
    breakdown = evaluation.time.breakdown(best)
    peak = gpu.peak_flops(MFU_PRECISION)
    # MFU counts the trained model's FLOPs only (PaLM, Chowdhery et al. 2022, App. B); frozen encoders
    # run online are work the GPUs do but not model FLOPs, so they are shown apart.
    model_flops_step = flops.train_step_model * stage.global_batch
    train_s = stage.num_steps * step
    preprocess_s = preprocessing_s(request, stage, flops, settings)
    totals = RunTotals.of(request.cluster, train_s + preprocess_s)
    return StagePlan(
        name=stage.name,
        clip=Clip(height=stage.height, width=stage.width, frames=stage.frames, fps=stage.fps, seconds=stage.frames / stage.fps),
        latent_shape=LatentShape(frames=geo.latent_frames, height=geo.latent_height, width=geo.latent_width),
        tokens_per_sample=Tokens(visual=geo.visual_tokens, text=stage.text_tokens, context=request.system.dit.context_tokens),
        flops_per_sample=flops,
        memory_per_gpu_bytes=evaluation.memory.breakdown(best, gpu.hbm_bytes.value),
        layout=layout, steps=stage.num_steps, global_batch=stage.global_batch,
        micro_batches=float(evaluation.time.micro_batches[best]), step_time_s=step, step_breakdown_s=breakdown,
        bubble_fraction=float(evaluation.time.bubble_fraction[best]), collectives=evaluation.time.collective_calls(best),
        mfu=model_flops_step / (step * peak * n), hfu=flops.train_step_hardware * stage.global_batch / (step * peak * n),
        tflops_per_gpu=model_flops_step / step / n / 1e12,
        frozen_encoder_tflops_per_gpu=flops.frozen_online_forward * stage.global_batch / step / n / 1e12,
        samples_per_s=stage.global_batch / step,
        train_time_days=train_s / SECONDS_PER_DAY, preprocessing_days=preprocess_s / SECONDS_PER_DAY,
        gpu_hours=totals.gpu_hours, cost_usd=totals.cost_usd, cost_usd_range=totals.cost_usd_range, energy_kwh=totals.energy_kwh,
        search=explain(result, gpu.hbm_bytes.value, request.ranked_layouts) if searched else None,
        dominant=dominant(breakdown, step),
        time_model=time_model(settings, breakdown, step, float(evaluation.time.attention_backward_s[best])),
        stage=stage, geometry=geo, search_result=result if searched else None,
    )


@dataclass(frozen=True)
class RunTotals:
    """GPU-hours, cost (at the price and its low/high) and energy of some seconds on a whole cluster."""

    gpu_hours: float
    cost_usd: float
    cost_usd_range: tuple[float, float]
    energy_kwh: float

    @classmethod
    def of(cls, cluster: Cluster, seconds: float) -> "RunTotals":
        gpu_hours = seconds * cluster.num_gpus / SECONDS_PER_HOUR
        price = cluster.gpu.price_usd_per_gpu_hour
        return cls(gpu_hours=gpu_hours, cost_usd=gpu_hours * price.value,
                   cost_usd_range=(gpu_hours * (price.low or price.value), gpu_hours * (price.high or price.value)),
                   energy_kwh=gpu_hours * cluster.gpu.board_power_w.value / WATTS_PER_KILOWATT)


def preprocessing_s(request: PlanRequest, stage: TrainingStage, flops: SampleFlops, settings: RunSettings) -> float:
    """One-off offline encoding of the stage's distinct clips on the whole cluster (0 when online).

    The frozen encoders run forward only, in BF16 (their own precision), at the GEMM efficiency of the
    T5 width.
    """
    wl = request.workload
    per_clip = (flops.text_encoder_forward if wl.precompute_text else 0) + (flops.vae_encoder_forward if wl.precompute_latents else 0)
    clips = stage.num_clips if stage.num_clips is not None else stage.num_samples
    d = text_encoder_gemm_width(request.system.text_encoders[0])
    rate = request.cluster.num_gpus * float(settings.rates.high_precision_gemm(d, d, d))
    return wl.preprocess_passes * clips * per_clip / rate


def memory_range_assumption(settings: RunSettings) -> str:
    """What the memory range spans, for the stack's implementation."""
    stack = settings.stack
    implementation = str(stack.saved_activations.value)
    low, high = FRAGMENTATION_RANGE
    return (f"memory: stack {stack.name} saves activations as {implementation} does (+/-{IMPLEMENTATION_UNCERTAINTY[implementation]:.0%} "
            f"in the range) and, with mixed states, keeps {stack.model_state_bytes_per_param:g} bytes of model states a parameter before sharding; "
            f"range: fragmentation {low:.0%}-{high:.0%}")


def model_states_assumption(settings: RunSettings, training: Training) -> str:
    """What is trained and the bytes a parameter of each model state, as the stack and the recipe keep them."""
    b = state_bytes(settings.stack, training)
    what = (f"LoRA rank {training.lora_rank} on {training.lora_targets} (base weights frozen in {training.frozen_weights})"
            if training.lora else "full training")
    return (f"{what}: {training.optimizer}, {training.states} states: weight {b.weight:g} + master {b.master:g} + gradient {b.gradient:g} "
            f"+ moments {b.moments:.3g} bytes a trained parameter; ZeRO shards them over dp x cp")


def assumptions(request: PlanRequest, settings: RunSettings) -> list[str]:
    """What the plan takes as given, in words (printed and in the JSON)."""
    prof = settings.profile
    price = PriceQuote.of(request.cluster.gpu)
    return [
        f"device profile {prof.gpu}: {prof.provenance} ({prof.date})",
        *time_model_assumptions(settings),
        f"compute: published kernel benchmarks x {prof.compute_derate:.2f} (fitted); element-wise ops at {prof.memory_efficiency:.0%} of HBM bandwidth (fitted)",
        collectives_assumption(settings),
        model_states_assumption(settings, request.workload.training),
        f"memory overhead: {RUNTIME_RESERVED_BYTES / GIB:.0f} GiB CUDA/NCCL reserve + {FRAGMENTATION_FRACTION:.0%} allocator fragmentation",
        memory_range_assumption(settings),
        "flash attention (no S^2 scores stored); attention is bidirectional and counted in full S^2",
        "text encoder: " + ("precomputed offline (one-off pass)" if request.workload.precompute_text else "run online every step"),
        "VAE latents: " + ("precomputed offline (one-off pass)" if request.workload.precompute_latents else "encoded online every step"),
        "energy: GPU board power at its rating for the whole run (no PUE, CPUs or network)",
        f"price: {price.line()}; source: {price.source}",
        "per-sample figures at the top level describe the last stage; totals add all stages",
    ]


def collectives_assumption(settings: RunSettings) -> str:
    """How collectives are timed on this GPU kind, in one line."""
    fabric = settings.fabric
    nvls = f", in-switch all-reduce {fabric.nvls_busbw / 1e9:.0f} GB/s" if fabric.nvls_busbw else ""
    return (f"collectives: {fabric.library} algorithms ({', '.join(fabric.algorithms)}) chosen per call by the library's tuning model, "
            f"at published bus bandwidths: {fabric.scale_up_name} ring {fabric.scale_up_busbw / 1e9:.0f} GB/s{nvls} inside a "
            f"{fabric.domain}-GPU domain, {fabric.nic_busbw / 1e9:.0f} GB/s a GPU's NIC across domains (rail-optimised)")


def failure_model(num_gpus: int, trained_params: int) -> FailureModel:
    """The default failure and checkpoint assumptions for a run of this size (estimators/planning/failures.py)."""
    return FailureModel(num_gpus=num_gpus, checkpoint_bytes=trained_params * CHECKPOINT_BYTES_PER_PARAM)


def duration_warnings(cluster: Cluster, elapsed_days: float) -> list[str]:
    """A plan that runs longer than LONG_PLAN_DAYS: said, with the cluster size that would take a month at this
    one's rate (linear scaling: an optimistic floor, the search finds the real size)."""
    if elapsed_days <= LONG_PLAN_DAYS:
        return []
    needed = math.ceil(cluster.num_gpus * elapsed_days / MONTH_DAYS / cluster.gpu.node_size) * cluster.gpu.node_size
    return [f"this plan runs {elapsed_days:,.0f} days ({elapsed_days / LONG_PLAN_DAYS:.1f} years) on {cluster.num_gpus:,} "
            f"{cluster.gpu.name}: even scaling perfectly, finishing in {MONTH_DAYS} days would take about {needed:,} GPUs; "
            f"plan estimate --gpus {cluster.gpu.name} --deadline-days {MONTH_DAYS} searches sizes and kinds"]


def run_settings(request: PlanRequest) -> RunSettings:
    """The GPU's profile, the attention kernel and the stack, resolved once for the whole plan."""
    return RunSettings.resolve(request.cluster.gpu, global_batch=request.workload.stages[-1].global_batch,
                               precision=request.precision, kernel=request.kernel, stack=request.stack)


def plan(request: PlanRequest) -> Plan:
    """The full plan."""
    settings = run_settings(request)
    stages = tuple(stage_plan(request, settings, stage) for stage in request.workload.stages)
    train_s = sum(s.train_s for s in stages)
    pre_s = sum(s.preprocess_s for s in stages)
    system = request.system
    totals = RunTotals.of(request.cluster, train_s + pre_s)
    params = parameter_counts(system)
    failures = outlook(failure_model(request.cluster.num_gpus, params.dit_resident), train_s)
    return Plan(
        model=ModelInfo(name=system.name, exact=system.exact, source=system.source, notes=system.notes),
        cluster=ClusterInfo(gpu=request.cluster.gpu.name, num_gpus=request.cluster.num_gpus, precision=request.precision),
        params=params, params_vs_published=published_comparison(system, params), experts=experts_plan(system, stages, params),
        train_time_days=train_s / SECONDS_PER_DAY, preprocessing_days=pre_s / SECONDS_PER_DAY,
        gpu_hours=totals.gpu_hours, cost_usd=totals.cost_usd, cost_usd_range=totals.cost_usd_range, energy_kwh=totals.energy_kwh,
        price=PriceQuote.of(request.cluster.gpu), stages=stages,
        workload=WorkloadInfo(precompute_text=request.workload.precompute_text, precompute_latents=request.workload.precompute_latents,
                              training=request.workload.training),
        assumptions=assumptions(request, settings),
        warnings=[w for s in stages for w in memory_warnings(s) + stage_warnings(s.name, s.mfu, s.step_breakdown_s, s.step_time_s)]
        + duration_warnings(request.cluster, (train_s + pre_s) / SECONDS_PER_DAY),
        uncertainty=plan_uncertainty(request.cluster, stages[-1].step_time_s, train_s, pre_s), failures=failures,
        request=request,
    )

"""The plan as one JSON-ready document; the CLI, reports and notebooks all read this shape.

Keys named in the issues (params.*, tokens_per_sample.*, flops_per_sample.*, memory_per_gpu_bytes.*,
layout.*, step_time_s, mfu, tflops_per_gpu, train_time_days, gpu_hours, cost_usd, energy_kwh) are a
contract; more may be added, none renamed.
"""
from __future__ import annotations

from estimators.catalog.prices import price_document
from estimators.documents.schema import EstimateDocument, emitted

STEP_PARTS = (
    "matmul_s", "attention_s", "elementwise_s", "overhead_s", "frozen_encoders_s", "tensor_parallel_s",
    "context_parallel_s", "pipeline_p2p_s", "bubble_s", "data_parallel_exposed_s", "optimizer_s",
)


def stage_document(stage_plan: dict, capacity_bytes: float) -> dict:
    """Per-stage figures."""
    st, metrics, flops = stage_plan["stage"], stage_plan["metrics"], stage_plan["flops"]
    geo = flops["geometry"]
    memory = dict(metrics["memory"])
    return {
        "name": st.name,
        "clip": {"height": st.height, "width": st.width, "frames": st.frames, "fps": st.fps, "seconds": st.frames / st.fps},
        "latent_shape": {"frames": geo.latent_frames, "height": geo.latent_height, "width": geo.latent_width},
        "tokens_per_sample": {"visual": geo.visual_tokens, "text": st.text_tokens},
        "flops_per_sample": {k: v for k, v in flops.items() if k != "geometry"},
        "memory_per_gpu_bytes": {**memory, "capacity": capacity_bytes, "fits": memory["total"] <= capacity_bytes},
        "layout": stage_plan["layout"].model_dump(),
        "steps": st.num_steps,
        "global_batch": st.global_batch,
        "micro_batches": metrics["micro_batches"],
        "step_time_s": stage_plan["step_time_s"],
        "step_breakdown_s": {k: metrics[k] for k in STEP_PARTS},
        "bubble_fraction": metrics["bubble_fraction"],
        "collectives": metrics["collectives"],
        "mfu": stage_plan["mfu"],
        "hfu": stage_plan["hfu"],
        "tflops_per_gpu": stage_plan["tflops_per_gpu"],
        "frozen_encoder_tflops_per_gpu": stage_plan["frozen_encoder_tflops_per_gpu"],
        "samples_per_s": stage_plan["samples_per_s"],
        "train_time_days": stage_plan["train_s"] / 86_400,
        "preprocessing_days": stage_plan["preprocess_s"] / 86_400,
        "gpu_hours": stage_plan["gpu_hours"],
        "cost_usd": stage_plan["cost_usd"],
        "cost_usd_range": stage_plan["cost_usd_range"],
        "energy_kwh": stage_plan["energy_kwh"],
    }


def plan_document(result: dict) -> dict:
    """The whole plan: the last stage's per-sample figures at the top level, totals over all stages."""
    request = result["request"]
    gpu = request.cluster.gpu
    capacity = gpu.hbm_bytes.value
    stages = [stage_document(s, capacity) for s in result["stages"]]
    last = stages[-1]
    system = request.system
    return emitted(EstimateDocument, {
        "model": {"name": system.name, "exact": system.exact, "source": system.source, "notes": system.notes},
        "cluster": {"gpu": gpu.name, "num_gpus": request.cluster.num_gpus, "precision": request.precision},
        "params": result["params"],
        "params_vs_published": result["params_vs_published"],
        "tokens_per_sample": last["tokens_per_sample"],
        "latent_shape": last["latent_shape"],
        "flops_per_sample": last["flops_per_sample"],
        "memory_per_gpu_bytes": last["memory_per_gpu_bytes"],
        "layout": last["layout"],
        "step_time_s": last["step_time_s"],
        "step_breakdown_s": last["step_breakdown_s"],
        "collectives": last["collectives"],
        "mfu": last["mfu"],
        "hfu": last["hfu"],
        "tflops_per_gpu": last["tflops_per_gpu"],
        "frozen_encoder_tflops_per_gpu": last["frozen_encoder_tflops_per_gpu"],
        "samples_per_s": last["samples_per_s"],
        "train_time_days": result["train_time_days"],
        "preprocessing_days": result["preprocessing_days"],
        "gpu_hours": result["gpu_hours"],
        "cost_usd": result["cost_usd"],
        "cost_usd_range": result["cost_usd_range"],
        "price": price_document(gpu),
        "energy_kwh": result["energy_kwh"],
        "stages": stages,
        "workload": {
            "precompute_text": request.workload.precompute_text,
            "precompute_latents": request.workload.precompute_latents,
        },
        "assumptions": result["assumptions"],
        **{key: result[key] for key in ("time_model", "dominant", "warnings", "uncertainty")},
    })
